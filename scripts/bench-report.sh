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
cmake --build --preset release --target pingpong_bench baseline_bench throughput_bench state_bench recorder_bench \
  publish_take_bench clock_bench service_bench mqtt_bench peers_bench
exec bench/report/run_benchmarks.sh build/release/bench "$out" "$mode"
