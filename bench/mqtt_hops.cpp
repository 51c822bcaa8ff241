// The hop breakdown of mqtt_bench's round trips (mqtt_hops.hpp): the leader's
// clock readings of each trip against the echo's, one machine, one clock.
#include "mqtt_hops.hpp"

#include <time.h>

#include <chrono>
#include <string>

#include "mqtt_follower.hpp"
#include "percentiles.hpp"

namespace statebus::bench::mqtt {

using namespace std::chrono_literals;

std::int64_t realtime_offset_ns() {
  timespec m{};
  timespec r{};
  clock_gettime(CLOCK_MONOTONIC, &m);
  clock_gettime(CLOCK_REALTIME, &r);
  return (r.tv_sec - m.tv_sec) * 1'000'000'000 + (r.tv_nsec - m.tv_nsec);
}

// Where the time of a round trip goes, from the leader's and the echo's
// clock readings (one machine: one CLOCK_MONOTONIC), as hop_<name>_us_p50 and
// p90 counters. Out: the leader's send until the echo has the ping; back: the
// echo's write until the leader has the answer. Bridged, finer: until the
// bridge's bus thread has the sample (its wake-up; the JSON's wall_time_ns is
// stamped there, before rendering), from there to the echo (rendering,
// libmosquitto's hand-over to its network thread, the socket, the broker),
// and the last step on the bus (the bridge's publish until the benchmark
// thread has the sample).
void report_hops(benchmark::State& state, testkit::ChildProcess& follower, const std::vector<Trip>& bridged,
                 const std::vector<Trip>& bare) {
  if (!follower.write("dump\n")) return;
  std::vector<Echo> echoes[2];
  for (;;) {
    const auto line = follower.read_line(10s);
    if (!line || *line == "end") break;
    const Echo e = parse_echo(*line);
    echoes[e.bridged ? 1 : 0].push_back(e);
  }
  if (echoes[1].size() != bridged.size() || echoes[0].size() != bare.size()) {
    state.counters["hops_unmatched"] = 1;  // an echo more or less than round trips: no breakdown
    return;
  }
  const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1e3; };
  std::vector<double> out[2], back[2], echo[2], ready, to_echo, bus;
  for (int b = 0; b < 2; ++b) {
    const auto& trips = b == 1 ? bridged : bare;
    for (std::size_t i = 0; i < trips.size(); ++i) {
      const Echo& e = echoes[b][i];
      out[b].push_back(us(e.received_ns - trips[i].sent_ns));
      back[b].push_back(us(trips[i].received_ns - e.sent_ns));
      echo[b].push_back(us(e.sent_ns - e.received_ns));
      if (b == 1) {
        const std::int64_t ready_ns = e.wall_time_ns - trips[i].realtime_offset_ns;
        ready.push_back(us(ready_ns - trips[i].sent_ns));
        to_echo.push_back(us(e.received_ns - ready_ns));
        bus.push_back(us(trips[i].received_ns - trips[i].bus_published_ns));
      }
    }
  }
  const auto put = [&](const std::string& name, const std::vector<double>& values) {
    state.counters[name + "_us_p50"] = percentile(values, 0.5);
    state.counters[name + "_us_p90"] = percentile(values, 0.9);
  };
  put("hop_bare_out", out[0]);
  put("hop_bare_back", back[0]);
  put("hop_bridged_out", out[1]);
  put("hop_bridged_back", back[1]);
  put("hop_bare_echo", echo[0]);
  put("hop_bridged_echo", echo[1]);
  put("hop_bridged_out_to_bridge", ready);
  put("hop_bridged_out_bridge_to_echo", to_echo);
  put("hop_bridged_back_bus", bus);
}

}  // namespace statebus::bench::mqtt
