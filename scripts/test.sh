#!/usr/bin/env bash
# Every test: set up, check that each combination of the build options
# configures (scripts/check-options.sh), build everything (library, tools, tests, benchmarks),
# check the style of the last commit's changes (scripts/check-style.sh) and
# run ctest (each bus test in a private namespace, in parallel, and a few of
# them inside a chroot); then the bus tests once more on this machine's own
# bus, one at a time, as they run where no namespace can be made
# (STATEBUS_ISOLATION=off); then the tests built with AddressSanitizer +
# UBSan; then the in-process concurrency tortures (label `threads`) under
# ThreadSanitizer; then a short fuzz run of each libFuzzer target
# (scripts/fuzz.sh). STATEBUS_TEST_PRESETS="release" runs the release build
# and its two passes only (no sanitizers, no fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
echo "== statebus tests: each combination of the build options configures"
scripts/check-options.sh
for preset in ${STATEBUS_TEST_PRESETS:-release asan-ubsan}; do
  echo "== statebus tests: preset $preset"
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  if [[ "$preset" == release ]]; then
    echo "== statebus tests: style of the last commit's changes (scripts/check-style.sh)"
    scripts/check-style.sh
  fi
  ctest --preset "$preset" "$@"
  # Where namespaces can be made, the bus tests once more as they run where
  # none can (where none can, the pass above already ran them so).
  if [[ "$preset" == release ]] && { unshare -rm true || unshare -m true; } 2>/dev/null; then
    echo "== statebus tests: preset release, bus tests on this machine's bus, one at a time (STATEBUS_ISOLATION=off)"
    STATEBUS_ISOLATION=off ctest --preset release -L integration -E '^package\.' -j1 "$@"
  fi
done
if [[ -z "${STATEBUS_TEST_PRESETS:-}" ]]; then
  echo "== statebus tests: preset tsan (label threads)"
  cmake --preset tsan
  cmake --build --preset tsan --target concurrency_test
  ctest --preset tsan -L threads "$@"
  echo "== statebus tests: fuzzing (libFuzzer, 10 s per target)"
  scripts/fuzz.sh 10
fi
