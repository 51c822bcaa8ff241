#!/usr/bin/env bash
# Every test: set up, build everything (library, tools, tests, benchmarks) and
# run ctest; then the same tests built with AddressSanitizer + UBSan.
# STATEBUS_TEST_PRESETS="release" runs fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
for preset in ${STATEBUS_TEST_PRESETS:-release asan-ubsan}; do
  echo "== statebus tests: preset $preset"
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  ctest --preset "$preset" "$@"
done
