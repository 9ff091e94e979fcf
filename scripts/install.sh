#!/usr/bin/env bash
# Create .venv (once) and install prospect-intel with the given extras, e.g. `scripts/install.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-ner}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
