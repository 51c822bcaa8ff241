#!/usr/bin/env bash
# The benchmark report: every transport's round trips side by side with the
# baselines, in one run, on this machine. Writes bench-out/report.md (tables
# of p50/p99/p99.9/max and the ratios to the baselines) and
# bench-out/latency.png (round trip against payload, log-log).
#   scripts/bench-report.sh           full run (several minutes)
#   scripts/bench-report.sh --quick   a smoke run (CI): fails only on a broken benchmark
set -euo pipefail
cd "$(dirname "$0")/.."
mode=full
[[ "${1:-}" == "--quick" ]] && mode=quick
out="${STATEBUS_BENCH_OUT:-bench-out}"
scripts/setup-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release --target pingpong_bench baseline_bench state_bench recorder_bench
mkdir -p "$out"
bin=build/release/bench

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
  state=(--benchmark_filter=RoundTrip)
  recorder=(--benchmark_filter=log_call)
else
  pingpong=()
  baseline=()
  state=()
  recorder=()
fi
"$bin/pingpong_bench" "${pingpong[@]}" --benchmark_out="$out/pingpong.json" --benchmark_out_format=json
"$bin/baseline_bench" "${baseline[@]}" --benchmark_out="$out/baseline.json" --benchmark_out_format=json
"$bin/state_bench" "${state[@]}" --benchmark_out="$out/state.json" --benchmark_out_format=json
"$bin/recorder_bench" "${recorder[@]}" --benchmark_out="$out/recorder.json" --benchmark_out_format=json

python3 bench/report/make_report.py "$out" "$out/machine.txt" "$out"/pingpong.json "$out"/baseline.json \
  "$out"/state.json "$out"/recorder.json > /dev/null
gnuplot "$out/latency.gp"
echo "bench report: $out/report.md, $out/latency.png"
