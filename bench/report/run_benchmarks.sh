#!/usr/bin/env bash
# Runs the benchmarks of the report and builds it: OUT/report.md, OUT/latency.png.
#   bench/report/run_benchmarks.sh BIN_DIR OUT_DIR quick|full
# quick: a smoke run (the test command runs it); fails only when a benchmark
# is broken (an error or no samples), never because the machine is slow.
# OUT_DIR may be anywhere, /tmp too: each benchmark writes to a descriptor
# this script opened, as it runs with a private /tmp of its own.
set -euo pipefail
bin="$1"
out="$2"
mode="$3"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
rm -f "$out"/*.json "$out/demo.txt"  # a report of this run only
{
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  virt=$(systemd-detect-virt 2>/dev/null || true)
  if [[ -z "$virt" ]]; then grep -qw hypervisor /proc/cpuinfo && virt="yes (hypervisor flag)" || virt=none; fi
  echo "virtualised: $virt"
  echo "kernel: $(uname -r)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ), mode: $mode"
} > "$out/machine.txt"
cat "$out/machine.txt"

if [[ $mode == quick ]]; then
  pingpong=(--benchmark_filter='64B/poll')
  baseline=(--benchmark_filter='/(8|64)B/cross')
  throughput=(--benchmark_filter='/1sub/64B' --benchmark_min_time=0.05)
  state=(--benchmark_filter=RoundTrip)
  recorder=(--benchmark_filter=log_call)
  costs=(--benchmark_min_time=0.05)
  mqtt=(--quick)
  peers=(--benchmark_filter='^peers/64B/')
  service=(--benchmark_filter='^call/64B/(poll|block)')
else
  pingpong=() baseline=() throughput=() state=() recorder=() costs=() mqtt=() peers=() service=()
fi
run() {  # run NAME ARGS...
  local name=$1
  shift
  # Opened here, before the benchmark moves into its own mount namespace:
  # it reopens the file as /dev/fd/3, which no private /tmp hides.
  "$bin/$name" "$@" --benchmark_out=/dev/fd/3 --benchmark_out_format=json 3>"$out/$name.json"
}
run pingpong_bench "${pingpong[@]}"
run baseline_bench "${baseline[@]}"
run throughput_bench "${throughput[@]}"
run state_bench "${state[@]}"
run recorder_bench "${recorder[@]}"
run publish_take_bench "${costs[@]}"
run clock_bench "${costs[@]}"
run service_bench "${service[@]}"
if [[ -x "$bin/peers_bench" ]]; then  # built where ZeroMQ, nng, LCM or Cyclone DDS is installed
  run peers_bench "${peers[@]}"
else
  echo "no $bin/peers_bench (none of ZeroMQ, nng, LCM, Cyclone DDS installed): the report has no peers section"
fi
if [[ -x "$bin/mqtt_bench" ]]; then  # built with the MQTT bridge only
  run mqtt_bench "${mqtt[@]}"
else
  echo "no $bin/mqtt_bench (built without the MQTT bridge): the report has no MQTT section"
fi
"$here/demo_times.sh" "$bin/../apps" "$out" "$mode"

python3 "$here/make_report.py" "$out" "$out/machine.txt" "$out"/*.json > /dev/null
gnuplot "$out/latency.gp"
echo "bench report: $out/report.md, $out/latency.png"
