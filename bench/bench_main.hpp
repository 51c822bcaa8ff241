#pragma once
// The end of every benchmark's main(): Google Benchmark's own main, run after
// the benchmark's set-up (its bus, its follower) and registrations.

#include <benchmark/benchmark.h>

namespace statebus::bench {

/// Runs the registered benchmarks with the command line's flags; 1 on a
/// flag Google Benchmark does not know, else 0.
inline int run_benchmarks(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace statebus::bench
