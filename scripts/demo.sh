#!/usr/bin/env bash
# Quick start 1/2: install, then run the offline demo (SQLite under var/, API on 127.0.0.1:8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh ner
exec .venv/bin/intel run "$@"
