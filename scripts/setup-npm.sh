#!/usr/bin/env bash
# Installs the npm packages of tests/mcap_js (the @mcap/core reader that the
# mcap.npm_reader test checks our MCAP files with), exactly as package-lock.json
# pins them. Does nothing when node_modules is newer than the lock file.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/mcap_js" && pwd)"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "statebus setup-npm: '$tool' not found; install Node.js and npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

# The same for tests/web_page: playwright-core, with which the WebPage test
# drives Chromium (scripts/setup-debian.sh installs the browser).
web_dir="$(cd "$dir/../web_page" && pwd)"
web_stamp="$web_dir/node_modules/.package-lock.json"
if [[ ! -f "$web_stamp" || "$web_dir/package-lock.json" -nt "$web_stamp" ||
      ! -f "$web_dir/node_modules/playwright-core/package.json" ]]; then
  echo "statebus setup-npm: installing the packages of tests/web_page (npm ci)"
  (cd "$web_dir" && npm ci --no-audit --no-fund)
fi

stamp="$dir/node_modules/.package-lock.json"  # npm writes it on every install
if [[ -f "$stamp" && ! "$dir/package-lock.json" -nt "$stamp" && -f "$dir/node_modules/@mcap/core/package.json" ]]; then
  exit 0
fi

echo "statebus setup-npm: installing the packages of tests/mcap_js (npm ci)"
(cd "$dir" && npm ci --no-audit --no-fund)
