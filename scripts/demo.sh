#!/usr/bin/env bash
# The main job: set up, build, and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release --target statebus_hello statebus_cli
exec build/release/apps/hello/statebus-hello "$@"
