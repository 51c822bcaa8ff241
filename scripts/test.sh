#!/usr/bin/env bash
# Every test: set up, build everything (library, tools, tests, benchmarks) and
# run ctest; then the same tests built with AddressSanitizer + UBSan; then the
# in-process concurrency tortures (label `threads`) under ThreadSanitizer;
# then a short fuzz run of each libFuzzer target (scripts/fuzz.sh).
# STATEBUS_TEST_PRESETS="release" runs fewer (and skips ThreadSanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
for preset in ${STATEBUS_TEST_PRESETS:-release asan-ubsan}; do
  echo "== statebus tests: preset $preset"
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  ctest --preset "$preset" "$@"
done
if [[ -z "${STATEBUS_TEST_PRESETS:-}" ]]; then
  echo "== statebus tests: preset tsan (label threads)"
  cmake --preset tsan
  cmake --build --preset tsan --target concurrency_test
  ctest --preset tsan -L threads "$@"
  echo "== statebus tests: fuzzing (libFuzzer, 10 s per target)"
  scripts/fuzz.sh 10
fi
