#!/usr/bin/env bash
# The main job: set up, build, and run the heating demo: a simulated day of
# the sensor, heating and web processes in about 40 s, with a live progress
# line, a summary, an MCAP recording and a picture (demo-out/day.svg).
# Arguments go to statebus-home (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release --target statebus_home statebus_sensor statebus_heating statebus_web statebus_cli
exec build/release/apps/home/statebus-home --demo --port 0 --out demo-out "$@"
