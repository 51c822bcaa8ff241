#pragma once
// Percentiles of kept samples, reported as Google Benchmark counters.

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace statebus::bench {

/// The value below which `fraction` of the samples lie (nearest rank).
inline double percentile(std::vector<double> samples, double fraction) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(rank, samples.size() - 1)];
}

/// Adds <prefix>p50, p99, p99.9 and max counters to `state`.
inline void report_percentiles(benchmark::State& state, const std::vector<double>& samples,
                               const std::string& prefix) {
  state.counters[prefix + "p50"] = percentile(samples, 0.50);
  state.counters[prefix + "p99"] = percentile(samples, 0.99);
  state.counters[prefix + "p99.9"] = percentile(samples, 0.999);
  state.counters[prefix + "max"] = percentile(samples, 1.0);
  state.counters["samples"] = static_cast<double>(samples.size());
}

}  // namespace statebus::bench
