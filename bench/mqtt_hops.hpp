#pragma once
// Where the time of mqtt_bench's round trips goes: the leader's view of each
// trip, matched with the echo's, reported as hop_* counters.

#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "statebus/testing/child_process.hpp"

namespace statebus::bench::mqtt {

/// One round trip as the leader saw it (CLOCK_MONOTONIC, ns).
struct Trip {
  std::int64_t sent_ns = 0;
  std::int64_t received_ns = 0;
  std::int64_t bus_published_ns = 0;   // bridged: when the bridge published the answer on the bus
  std::int64_t realtime_offset_ns = 0;  // CLOCK_REALTIME − CLOCK_MONOTONIC at the send
  [[nodiscard]] double us() const { return static_cast<double>(received_ns - sent_ns) / 1e3; }
};

/// CLOCK_REALTIME − CLOCK_MONOTONIC now, in ns.
std::int64_t realtime_offset_ns();

/// Asks `follower` for its echoes since the last `reset` and adds, for each
/// hop, hop_<name>_us_p50 and _p90 counters to `state`; only
/// hops_unmatched = 1 when the echoes are not one per trip.
void report_hops(benchmark::State& state, testkit::ChildProcess& follower, const std::vector<Trip>& bridged,
                 const std::vector<Trip>& bare);

}  // namespace statebus::bench::mqtt
