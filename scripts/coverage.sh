#!/usr/bin/env bash
# Line and branch coverage of the whole test suite, code run in child
# processes included (each child writes its .gcda files when it exits, and
# every statebus process exits cleanly on SIGTERM). Writes
#   build/coverage/coverage/index.html   (per file, line by line)
#   build/coverage/coverage.txt          (per file, a line each)
# Arguments go to ctest (e.g. -R Home to cover the heating demo alone).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake --preset coverage >/dev/null
cmake --build --preset coverage
find build/coverage -name '*.gcda' -delete
ctest --preset coverage -j2 -LE bench "$@" || echo "coverage: some tests failed; the report covers what ran" >&2
mkdir -p build/coverage/coverage
# Our code only: libraries, tools and the demo; not the tests themselves.
gcovr --root . --object-directory build/coverage \
  --filter 'base/' --filter 'clock/' --filter 'state/' --filter 'bus/' --filter 'recorder/' \
  --filter 'testing/' --filter 'apps/' \
  --exclude-unreachable-branches --exclude-throw-branches \
  --html-details build/coverage/coverage/index.html \
  --txt build/coverage/coverage.txt --print-summary
echo "coverage: build/coverage/coverage/index.html and build/coverage/coverage.txt"
