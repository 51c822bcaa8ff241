#!/usr/bin/env bash
# Every test: set up, build everything (library, tools, tests, benchmarks), run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake --preset release
cmake --build --preset release
ctest --preset release "$@"
