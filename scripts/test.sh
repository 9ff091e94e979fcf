#!/usr/bin/env bash
# Quick start 2/2: install with the test extra, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v newsboat >/dev/null; then
  # Real feed reader for the OPML/subscription tests; they skip with a reason without it.
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq newsboat >/dev/null) \
    || echo "newsboat could not be installed; its tests will be skipped"
fi
exec .venv/bin/python -m pytest "$@"
