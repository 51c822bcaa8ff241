#!/usr/bin/env bash
# The build options are independent: each combination below configures on
# its own (the library alone; benchmarks without tests; tests without the
# apps, which builds the CLI their daemon needs and leaves the demo's tests
# out; without the MQTT bridge; without the Python module). With --build, each is built as well
# (minutes each; the test command only configures).
#   scripts/check-options.sh [--build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=0
[[ "${1:-}" == --build ]] && build=1
combinations=(
  "-DSTATEBUS_BUILD_TESTS=OFF -DSTATEBUS_BUILD_BENCH=OFF -DSTATEBUS_BUILD_APPS=OFF"
  "-DSTATEBUS_BUILD_TESTS=OFF -DSTATEBUS_BUILD_APPS=OFF"
  "-DSTATEBUS_BUILD_APPS=OFF -DSTATEBUS_BUILD_BENCH=OFF"
  "-DSTATEBUS_BUILD_BRIDGE=OFF"
  "-DSTATEBUS_BUILD_PYTHON=OFF"
)
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for options in "${combinations[@]}"; do
  rm -rf "$dir/build"
  # shellcheck disable=SC2086  # the options are words
  if ! cmake -S . -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release $options >"$dir/log" 2>&1; then
    cat "$dir/log"
    echo "check-options: the build does not configure with $options" >&2
    exit 1
  fi
  if ((build)) && ! cmake --build "$dir/build" >"$dir/log" 2>&1; then
    tail -40 "$dir/log"
    echo "check-options: the build fails with $options" >&2
    exit 1
  fi
  echo "check-options: configures$( ((build)) && echo " and builds") with $options"
done
