#!/usr/bin/env bash
# Quick start 2/2: install with the test extra, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
   && { ! command -v newsboat >/dev/null || ! command -v chromium >/dev/null; }; then
  # Real feed reader for the OPML/subscription tests and a real browser for the page tests
  # (Playwright drives Debian's chromium; never `playwright install`); without them they skip with a reason.
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq newsboat chromium chromium-driver \
     >/dev/null) || echo "newsboat/chromium could not be installed; their tests will be skipped"
fi
exec .venv/bin/python -m pytest "$@"
