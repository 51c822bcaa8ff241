#!/usr/bin/env bash
# The heating demo on two buses (two machines, in effect) joined only by an
# MQTT broker: the sensor and the heating on bus A, the web front end on bus
# B. Each bus is a private /tmp and /dev/shm (scripts/private-bus.sh) with its own
# daemon and a `statebus bridge mqtt`; a mosquitto broker on 127.0.0.1 joins
# them. Open the printed address: the page is the same as on one bus, and a
# setpoint typed there reaches the heating on bus A through the broker.
#
#   scripts/demo-mqtt.sh [--duration 2h] [--real-seconds 600] [--port 8080]
#
# Also try, while it runs (PORT is printed):
#   mosquitto_sub -p PORT -t 'home-demo/#' -v
#   mosquitto_pub -p PORT -t home-demo/state/home/setpoint/set -m '{"celsius": 23}'
set -euo pipefail
cd "$(dirname "$0")/.."
# The inner runs (--inside) take these from the environment.
duration=${DEMO_DURATION:-2h} real_seconds=${DEMO_REAL_SECONDS:-600} web_port=${DEMO_WEB_PORT:-0}
while (($#)); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --real-seconds) real_seconds=$2; shift 2 ;;
    --port) web_port=$2; shift 2 ;;
    --inside) shift; break ;;  # internal: run one bus (below)
    *) echo "demo-mqtt: unknown argument '$1' (--duration, --real-seconds, --port)" >&2; exit 2 ;;
  esac
done
bin=$PWD/build/release/apps
out=$PWD/demo-out/mqtt

# ---- one bus, inside scripts/private-bus.sh: `--inside A|B BROKER_PORT` ----
if [[ "${1:-}" == A || "${1:-}" == B ]]; then
  bus=$1 broker=mqtt://127.0.0.1:$2
  "$bin/cli/statebus" daemon >"$out/$bus-daemon.log" 2>&1 &
  for _ in $(seq 100); do grep -q ready "$out/$bus-daemon.log" 2>/dev/null && break; sleep 0.1; done
  # Whatever ends this bus (the end of the day, Ctrl-C, SIGTERM) ends all of its processes.
  trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
  trap 'exit 0' INT TERM
  if [[ $bus == A ]]; then
    "$bin/cli/statebus" bridge mqtt --broker "$broker" --prefix home-demo --client-id home-demo-A \
      --out 'home/**' --state 'home/**' --clock send --homeassistant --settable home/setpoint >"$out/A-bridge.log" 2>&1 &
    "$bin/home/statebus-home" --no-web --duration "$duration" --real-seconds "$real_seconds" --out "$out/A" &
  else
    "$bin/cli/statebus" bridge mqtt --broker "$broker" --prefix home-demo --client-id home-demo-B \
      --in 'home/**' --mirror 'home/**' --clock follow >"$out/B-bridge.log" 2>&1 &
    "$bin/home/statebus-web" --port "$web_port" &
  fi
  wait $!  # the home (A) or the web process (B); a signal ends the wait
  exit
fi

# ---- the launcher ------------------------------------------------------------
scripts/setup-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release --target statebus_home statebus_sensor statebus_heating statebus_web statebus_cli
mkdir -p "$out"
export DEMO_DURATION=$duration DEMO_REAL_SECONDS=$real_seconds DEMO_WEB_PORT=$web_port
# A free port: nothing answers on it.
port=$((20000 + RANDOM % 40000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((20000 + RANDOM % 40000)); done
printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nuser root\npersistence false\n' "$port" \
  >"$out/mosquitto.conf"
mosquitto -c "$out/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
broker_pid=$!
# A private bus per side (private /tmp and /dev/shm: scripts/private-bus.sh).
private=(scripts/private-bus.sh)
export STATEBUS_KEEP=$out
"${private[@]}" "$0" --inside B "$port" &
web_pid=$!
trap 'kill $web_pid ${home_pid:-} $broker_pid 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 0' INT TERM
echo "broker: mqtt://127.0.0.1:$port (topics home-demo/#); logs in $out"
"${private[@]}" "$0" --inside A "$port" &
home_pid=$!
wait $home_pid
