#!/usr/bin/env bash
# The demo's figures for the report: wall, user and system time of a
# simulated day in lockstep (as fast as the processes go; run twice in full
# mode, and the two days must agree), the day's own simulation time (the
# demo's "in X s of real time", without the processes' start-up), and the
# CPU the scaled demo uses.
# Each run has a bus of its own (scripts/private-bus.sh: private /tmp and
# /dev/shm). Writes OUT/demo.txt as key=value lines.
#   bench/report/demo_times.sh APPS_DIR OUT_DIR quick|full
set -euo pipefail
apps="$1" out="$2" mode="$3"
home="$apps/home/statebus-home"
if [[ ! -x "$home" ]]; then
  echo "no $home (built without the apps): the report has no demo section"
  exit 0
fi
private=("$(cd "$(dirname "$0")/../../scripts" && pwd)/private-bus.sh")
if ! unshare --user --map-root-user --mount true 2>/dev/null && ! unshare --mount true 2>/dev/null; then
  echo "no namespace can be made here: the report has no demo section (it would disturb the machine's bus)"
  exit 0
fi
day=24h scaled=2h scaled_seconds=10
[[ $mode == quick ]] && day=1h scaled=10m scaled_seconds=2

# run NAME ARGS…: one demo on a bus of its own; its summary in OUT/NAME.txt,
# "wall user system" seconds in OUT/NAME.time.
run() {
  local name=$1
  shift
  local TIMEFORMAT='%R %U %S'
  { time "${private[@]}" "$home" --no-web -q --out /tmp/demo "$@" >"$out/$name.txt" 2>"$out/$name.err"; } \
    2>"$out/$name.time"
}
# The day's result: readings, switches, duty cycle and room range (not the times).
result() { grep -E '^  (readings|heater switches|room) ' "$out/$1.txt" | sed 's/(recorded.*//'; }

run lockstep1 --duration "$day" --lockstep
{
  read -r wall user sys <"$out/lockstep1.time"
  echo "lockstep_duration=$day"
  echo "lockstep_wall_s=$wall"
  echo "lockstep_user_s=$user"
  echo "lockstep_sys_s=$sys"
  echo "lockstep_readings=$(grep -Eo '^  readings +[0-9]+' "$out/lockstep1.txt" | grep -Eo '[0-9]+$')"
  echo "lockstep_day_s=$(sed -nE 's/.* of virtual time in ([0-9.]+) s of real time$/\1/p' "$out/lockstep1.txt")"
  if [[ $mode == full ]]; then
    run lockstep2 --duration "$day" --lockstep
    if [[ "$(result lockstep1)" == "$(result lockstep2)" ]]; then echo "lockstep_same=yes"; else echo "lockstep_same=no"; fi
  fi
  run scaled --duration "$scaled" --real-seconds "$scaled_seconds"
  read -r wall user sys <"$out/scaled.time"
  echo "scaled_duration=$scaled"
  echo "scaled_wall_s=$wall"
  echo "scaled_cpu_share=$(awk -v u="$user" -v s="$sys" -v w="$wall" 'BEGIN { printf "%.3f", (u + s) / w }')"
} >"$out/demo.txt"
cat "$out/demo.txt"
