// The MQTT bridge against a bare libmosquitto client, on the same broker, in
// one run: round trips bus → MQTT → bus (one message in flight, QoS 0 and 1),
// throughput (a sender flat out), and the bridge's CPU per sample.
//
//   build/release/bench/mqtt_bench [--quick] [--benchmark_filter=...]
//
// Bridged: a Publisher<Ping> on bench/ping → an in-process MqttBridge
// (--out bench/ping, --in bench/pong, prefix sb) → broker → the echo
// follower → broker → the bridge → a Subscriber<Ping> on bench/pong.
// Bare: a libmosquitto client driven by the benchmark thread sends the same
// JSON (a payload the bridge sent, captured) to bare/ping; the same echo
// answers on bare/pong. The echo rewrites "origin" on both paths (the bridge
// drops its own). Bridged and bare alternate in blocks within one benchmark.
//
// CPUs (2 here): the leader, its benchmark thread and the bridge's threads,
// on CPU 0 (the bare client runs in the benchmark thread, so each side has
// that CPU); the follower (this executable again, --follower PORT: a bare
// libmosquitto client with its own poll loop, mqtt_follower.cpp) on CPU 1;
// the broker where the scheduler puts it. The .../bridge_unpinned variants
// let the bridge's threads run anywhere, as in an application that pins
// nothing.
//
// The broker (mosquitto, 127.0.0.1, a free port, Nagle off) is started here
// and stopped at the end. --quick: a smoke run of a few seconds.
#include <mosquitto.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_bus.hpp"
#include "bench_main.hpp"
#include "follower.hpp"
#include "mqtt_bare_client.hpp"
#include "mqtt_follower.hpp"
#include "mqtt_hops.hpp"
#include "percentiles.hpp"
#include "statebus/bridge/mqtt.hpp"
#include "statebus/bus.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/mqtt_broker.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using statebus::bench::mqtt::BareClient;
using statebus::bench::mqtt::kBareFlood;
using statebus::bench::mqtt::kBarePing;
using statebus::bench::mqtt::kBarePong;
using statebus::bench::mqtt::kBridgedFlood;
using statebus::bench::mqtt::kBridgedPing;
using statebus::bench::mqtt::kPrefix;
using statebus::bench::mqtt::now_ns;
using statebus::bench::mqtt::realtime_offset_ns;
using statebus::bench::mqtt::Trip;

struct Ping {
  std::uint64_t sequence;
  double values[7];
};
STATEBUS_MESSAGE(Ping, "bench/Ping", sequence, values);
static_assert(sizeof(Ping) == 64, "a 64 B payload on the bus");

constexpr const char* kBridgeId = "bench-bridge";  // also the "origin" of what the bridge sends
constexpr const char* kBareOrigin = "bench-bare--";  // as long as kBridgeId: the same payload size

double cpu_seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

Ping make_ping(std::uint64_t sequence) {
  Ping p{};
  p.sequence = sequence;
  for (int i = 0; i < 7; ++i) p.values[i] = 20.5 + 0.25 * i;
  return p;
}

// ---- the leader -------------------------------------------------------------

bool g_quick = false;
statebus::Node* g_node = nullptr;
std::string g_broker_url;
statebus::testkit::ChildProcess* g_follower = nullptr;
BareClient* g_bare = nullptr;

// The bare client's handlers: answers on bare/pong, a payload captured on g_capture_topic.
int g_bare_replies = 0;
std::string g_capture_topic;
std::optional<std::string> g_captured;

// The calling thread on every CPU for its lifetime (threads started meanwhile inherit that), then back.
class Unpinned {
 public:
  Unpinned() {
    sched_getaffinity(0, sizeof saved_, &saved_);
    cpu_set_t all;
    CPU_ZERO(&all);
    for (long cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN) && cpu < CPU_SETSIZE; ++cpu) {
      CPU_SET(static_cast<std::size_t>(cpu), &all);
    }
    sched_setaffinity(0, sizeof all, &all);
  }
  ~Unpinned() { sched_setaffinity(0, sizeof saved_, &saved_); }
  Unpinned(const Unpinned&) = delete;
  Unpinned& operator=(const Unpinned&) = delete;

 private:
  cpu_set_t saved_;
};

// Where the bridge's threads run: with the rest of the leader on its CPU
// (they inherit the benchmark thread's pinning; the bare client runs there
// too), or wherever the scheduler likes, as in an application that pins
// nothing (then also on the echo's CPU).
enum class BridgeCpu { leader, unpinned };

/// The bridge for one benchmark.
std::optional<statebus::MqttBridge> start_bridge(benchmark::State& state, BridgeCpu cpu,
                                                 std::vector<statebus::MqttRoute> out,
                                                 std::vector<statebus::MqttRoute> in) {
  std::optional<Unpinned> unpinned;  // threads started meanwhile may run anywhere
  if (cpu == BridgeCpu::unpinned) unpinned.emplace();
  statebus::MqttOptions o;
  o.broker = g_broker_url;
  o.client_id = kBridgeId;
  o.prefix = kPrefix;
  o.out = std::move(out);
  o.in = std::move(in);
  auto bridge = statebus::MqttBridge::start(*g_node, o);
  if (!bridge) {
    state.SkipWithError(bridge.error().message().c_str());
    return std::nullopt;
  }
  if (!bridge->wait_ready(15s)) {
    state.SkipWithError("the bridge did not connect within 15 s");
    return std::nullopt;
  }
  return std::move(*bridge);
}

/// A payload the bridge sent on `topic` (after `send`), with our own origin: what the bare client sends.
std::optional<std::string> capture_bridged_payload(const char* topic, const std::function<void()>& send) {
  if (!g_bare->subscribe(topic, 0)) return std::nullopt;
  g_capture_topic = topic;
  g_captured.reset();
  send();
  g_bare->run_until([] { return g_captured.has_value(); }, 5s);
  g_capture_topic.clear();
  g_bare->subscribe(topic, 0, /*unsubscribe=*/true);
  if (!g_captured) return std::nullopt;
  std::string payload = *g_captured;
  constexpr std::string_view key = "\"origin\":\"";
  const auto at = payload.find(std::string(key) + kBridgeId + "\"");
  if (at == std::string::npos) return std::nullopt;
  payload.replace(at + key.size(), std::strlen(kBridgeId), kBareOrigin);
  return payload;
}

/// Sends a command and waits for its "ok" (skipping what an aborted burst left behind); false if none came.
bool ask_follower(const std::string& command, std::chrono::milliseconds timeout) {
  if (!g_follower->write(command + "\n")) return false;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    const auto line = g_follower->read_line(left);
    if (!line) return false;
    if (*line == "ok") return true;
  }
}

// One round trip each; nothing when the answer did not come within 2 s.
std::optional<Trip> bridged_round_trip(statebus::Publisher<Ping>& pub, statebus::Subscriber<Ping>& sub,
                                       std::uint64_t sequence) {
  Trip trip;
  trip.realtime_offset_ns = realtime_offset_ns();
  trip.sent_ns = now_ns();
  if (!pub.publish(make_ping(sequence))) return std::nullopt;
  for (;;) {
    auto sample = sub.take_for(2s);
    if (!sample) return std::nullopt;
    if (sample->value().sequence != sequence) continue;  // an older one (a timed-out round trip's) is skipped
    trip.received_ns = now_ns();
    trip.bus_published_ns = sample->header().real_time_ns;
    return trip;
  }
}

std::optional<Trip> bare_round_trip(const std::string& payload, int qos) {
  const int before = g_bare_replies;
  Trip trip;
  trip.sent_ns = now_ns();
  if (!g_bare->publish(kBarePing, payload, qos, false)) return std::nullopt;
  if (!g_bare->run_until([&] { return g_bare_replies > before; }, 2s)) return std::nullopt;
  trip.received_ns = now_ns();
  return trip;
}
struct CpuMark {
  double process = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  double thread = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  /// CPU seconds the process's other threads used since this mark.
  [[nodiscard]] double others() const {
    return (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process) - (cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - thread);
  }
  /// CPU seconds the calling thread used since this mark.
  [[nodiscard]] double own() const { return cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - thread; }
};

// Bridged and bare in one benchmark, alternating blocks of round trips, so
// that the machine's drift over a run hits both alike.
void round_trip(benchmark::State& state, int qos, BridgeCpu cpu) {
  auto pub = statebus::Publisher<Ping>::create(*g_node, "bench/ping");
  auto sub = statebus::Subscriber<Ping>::create(*g_node, "bench/pong");
  if (!pub || !sub) return state.SkipWithError("cannot open bench/ping and bench/pong");
  auto bridge = start_bridge(state, cpu, {{"bench/ping", qos}}, {{"bench/pong", qos}});
  if (!bridge) return;
  // The bridge offers bench/pong once it has the schema retained on sb/$schema/bench/pong.
  if (!pub->wait_for_subscribers(10s) || !sub->wait_connected(10s)) {
    return state.SkipWithError("the bridge did not connect to bench/ping and bench/pong");
  }
  std::uint64_t sequence = 0;
  const auto payload = capture_bridged_payload(kBridgedPing, [&] { (void)pub->publish(make_ping(++sequence)); });
  if (!payload) return state.SkipWithError("no payload of the bridge seen on sb/bench/ping");

  const int warmup = g_quick ? 50 : 500;
  for (int i = 0; i < warmup; ++i) {
    if (!bridged_round_trip(*pub, *sub, ++sequence) || !bare_round_trip(*payload, qos)) {
      return state.SkipWithError("a warm-up round trip timed out");
    }
  }
  if (!ask_follower("reset", 10s)) {
    return state.SkipWithError("the follower does not answer");
  }
  const int block = g_quick ? 50 : 250;  // round trips per path and iteration
  std::vector<Trip> bridged_trips;
  std::vector<Trip> bare_trips;
  std::vector<double> bridged_us;
  std::vector<double> bare_us;
  double bridged_others_s = 0;  // CPU of the other threads (the bridge's) during bridged blocks
  double bare_others_s = 0;     // the same during bare blocks: what runs anyway (daemon, idle bridge)
  double bare_own_s = 0;        // the benchmark thread's during bare blocks: the bare client's
  int round = 0;
  for (auto _ : state) {
    double total = 0;
    for (int pass = 0; pass < 2; ++pass) {
      const bool bridged_now = (pass == 0) == (round % 2 == 0);
      const CpuMark mark;
      for (int i = 0; i < block; ++i) {
        const auto trip = bridged_now ? bridged_round_trip(*pub, *sub, ++sequence) : bare_round_trip(*payload, qos);
        if (!trip) {
          return state.SkipWithError(bridged_now ? "a bridged round trip timed out (2 s)"
                                                 : "a bare round trip timed out (2 s)");
        }
        (bridged_now ? bridged_trips : bare_trips).push_back(*trip);
        (bridged_now ? bridged_us : bare_us).push_back(trip->us());
        if (bridged_now) total += trip->us();
      }
      (bridged_now ? bridged_others_s : bare_others_s) += mark.others();
      if (!bridged_now) bare_own_s += mark.own();
    }
    ++round;
    state.SetIterationTime(total / 1e6 / block);  // the reported time: one bridged round trip
  }
  const auto stats = bridge->stats();
  bridge->stop();
  statebus::bench::mqtt::report_hops(state, *g_follower, bridged_trips, bare_trips);
  statebus::bench::report_percentiles(state, bare_us, "bare_us_");
  statebus::bench::report_percentiles(state, bridged_us, "bridged_us_");
  using statebus::bench::percentile;
  state.counters["ratio_p50"] = percentile(bridged_us, 0.5) / percentile(bare_us, 0.5);
  state.counters["ratio_p99"] = percentile(bridged_us, 0.99) / percentile(bare_us, 0.99);
  state.counters["ratio_p99.9"] = percentile(bridged_us, 0.999) / percentile(bare_us, 0.999);
  // One round trip is two samples through the bridge: one out, one in.
  const double n = static_cast<double>(bridged_us.size());
  state.counters["bridge_cpu_us_per_sample"] = n > 0 ? bridged_others_s * 1e6 / (2 * n) : 0.0;
  const double n_bare = static_cast<double>(bare_us.size());
  state.counters["idle_cpu_us_per_round_trip"] = n_bare > 0 ? bare_others_s * 1e6 / n_bare : 0.0;
  // The bare client's CPU per message (it sends one and receives one per round trip), for comparison.
  state.counters["bare_client_cpu_us_per_message"] = n_bare > 0 ? bare_own_s * 1e6 / (2 * n_bare) : 0.0;
  state.counters["payload_bytes"] = static_cast<double>(payload->size());
  state.counters["qos"] = qos;
  state.counters["bridge_refused"] = static_cast<double>(stats.refused);
  state.counters["bridge_dropped"] = static_cast<double>(stats.dropped);
}

struct Burst {
  std::uint64_t received = 0;
  double seconds = 0;  // from the first send to the last arrival at the follower
  bool ok = false;
};

// One burst of `count` messages, sent by `send` as fast as it goes; counted by the follower.
Burst burst(const char* topic, std::uint64_t count, const std::function<bool()>& send) {
  Burst b;
  if (!ask_follower("count " + std::string(topic) + " " + std::to_string(count), 10s)) return b;
  const std::int64_t start = now_ns();
  if (!send()) return b;
  const auto done = g_follower->read_line(60s);
  if (!done) return b;
  std::istringstream words(*done);
  std::string word;
  std::int64_t first = 0;
  std::int64_t last = 0;
  words >> word >> b.received >> first >> last;
  b.ok = word == "done";
  b.seconds = b.received > 0 ? static_cast<double>(last - start) / 1e9 : 0.0;
  return b;
}

// Messages per second delivered to the follower, a sender flat out: a bus
// publisher through the bridge against the bare client. Lost messages are
// not delivered: they count against the side that lost them.
void throughput(benchmark::State& state, BridgeCpu cpu) {
  auto pub = statebus::Publisher<Ping>::create(*g_node, "bench/flood");
  if (!pub) return state.SkipWithError(pub.error().message().c_str());
  auto bridge = start_bridge(state, cpu, {{"bench/flood", 0}}, {});
  if (!bridge) return;
  if (!pub->wait_for_subscribers(10s)) return state.SkipWithError("the bridge did not connect to bench/flood");
  std::uint64_t sequence = 0;
  const auto payload = capture_bridged_payload(kBridgedFlood, [&] { (void)pub->publish(make_ping(++sequence)); });
  if (!payload) return state.SkipWithError("no payload of the bridge seen on sb/bench/flood");

  std::uint64_t loan_retries = 0;
  const auto send_bridged = [&](std::uint64_t count) {
    return [&, count] {
      for (std::uint64_t i = 0; i < count; ++i) {
        while (!pub->publish(make_ping(++sequence))) {  // the pools are exhausted: the bridge frees chunks
          ++loan_retries;
          std::this_thread::yield();
        }
      }
      return true;
    };
  };
  const auto send_bare = [&](std::uint64_t count) {
    return [&, count] {
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!g_bare->publish(kBareFlood, *payload, 0, false)) return false;
      }
      return g_bare->flush(30s);
    };
  };
  const std::uint64_t count = g_quick ? 2000 : 20000;
  // Warm-up: a short burst each.
  if (!burst(kBridgedFlood, 500, send_bridged(500)).ok || !burst(kBareFlood, 500, send_bare(500)).ok) {
    return state.SkipWithError("the warm-up burst failed");
  }
  const auto before = bridge->stats();
  Burst bridged_total;
  Burst bare_total;
  std::uint64_t sent = 0;
  double bridged_others_s = 0;
  double bare_own_s = 0;  // the benchmark thread's during bare bursts: the bare client's
  int round = 0;
  for (auto _ : state) {
    for (int pass = 0; pass < 2; ++pass) {
      const bool bridged_now = (pass == 0) == (round % 2 == 0);
      const CpuMark mark;
      const Burst b = bridged_now ? burst(kBridgedFlood, count, send_bridged(count))
                                  : burst(kBareFlood, count, send_bare(count));
      if (!b.ok) return state.SkipWithError("a burst failed (the follower did not answer)");
      Burst& total = bridged_now ? bridged_total : bare_total;
      total.received += b.received;
      total.seconds += b.seconds;
      if (bridged_now) {
        bridged_others_s += mark.others();
        state.SetIterationTime(b.seconds);
      } else {
        bare_own_s += mark.own();
      }
    }
    sent += count;
    ++round;
  }
  const auto after = bridge->stats();
  bridge->stop();
  const double bridged_rate =
      bridged_total.seconds > 0 ? static_cast<double>(bridged_total.received) / bridged_total.seconds : 0;
  const double bare_rate = bare_total.seconds > 0 ? static_cast<double>(bare_total.received) / bare_total.seconds : 0;
  state.counters["bridged_msgs_per_s"] = bridged_rate;
  state.counters["bare_msgs_per_s"] = bare_rate;
  state.counters["ratio"] = bare_rate > 0 ? bridged_rate / bare_rate : 0.0;
  state.counters["bridged_lost_pct"] =
      100.0 * static_cast<double>(sent - bridged_total.received) / static_cast<double>(sent);
  state.counters["bare_lost_pct"] = 100.0 * static_cast<double>(sent - bare_total.received) / static_cast<double>(sent);
  const double bridge_sent = static_cast<double>(after.sent - before.sent);
  state.counters["bridge_sent"] = bridge_sent;
  state.counters["bridge_cpu_us_per_sample"] = bridge_sent > 0 ? bridged_others_s * 1e6 / bridge_sent : 0.0;
  state.counters["bare_client_cpu_us_per_message"] = sent > 0 ? bare_own_s * 1e6 / static_cast<double>(sent) : 0.0;
  state.counters["loan_retries"] = static_cast<double>(loan_retries);
  state.counters["per_burst"] = static_cast<double>(count);
  state.counters["samples"] = static_cast<double>(bridged_total.received);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--follower") == 0) return statebus::bench::mqtt::run_follower(argc, argv);
  // Our own flag, taken out before Google Benchmark reads the rest.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_quick = true;
      std::copy(argv + i + 1, argv + argc, argv + i);
      --argc;
      break;
    }
  }
  if (!statebus::bench::start_bus("mqtt_bench")) return 1;
  // The broker and the follower before the leader pins itself: the broker runs where the scheduler puts it.
  std::string why;
  auto broker = statebus::testkit::MqttBroker::start();
  if (!broker) {
    std::fprintf(stderr, "mqtt_bench: %s\n", broker.error().message().c_str());
    return 1;
  }
  g_broker_url = broker->url();
  const auto leader =
      statebus::bench::Leader::start("mqtt_bench", "bench-mqtt", {"--follower", std::to_string(broker->port())});
  if (!leader) return 1;
  g_follower = &leader->follower;
  g_node = &leader->node;
  if (g_follower->read_line(20s) != std::optional<std::string>("ready")) {
    std::fprintf(stderr, "mqtt_bench: the echo follower did not start: %s\n", g_follower->describe().c_str());
    return 1;
  }
  auto bare = BareClient::connect(broker->port(), "bench-bare", why);
  if (!bare) {
    std::fprintf(stderr, "mqtt_bench: %s\n", why.c_str());
    return 1;
  }
  g_bare = bare.get();
  bare->on_message([](const mosquitto_message& m) {
    const std::string_view topic(m.topic);
    if (topic == kBarePong) {
      ++g_bare_replies;
    } else if (!g_capture_topic.empty() && topic == g_capture_topic && !g_captured) {
      g_captured.emplace(static_cast<const char*>(m.payload), static_cast<std::size_t>(m.payloadlen));
    }
  });
  // The schema of bench/pong, retained where the bridge looks for it.
  const std::string schema_topic = std::string(kPrefix) + "/$schema/bench/pong";
  if (!bare->subscribe(kBarePong, 1) ||
      !bare->publish(schema_topic.c_str(), statebus::schema_of<Ping>().to_json(), 1, true, /*wait=*/true)) {
    std::fprintf(stderr, "mqtt_bench: cannot set up the bare client on the broker\n");
    return 1;
  }

  const int rounds = g_quick ? 2 : 40;  // × 2 blocks of 250 (quick: 50) round trips
  for (const auto& [name, qos, cpu] :
       {std::tuple{"qos0", 0, BridgeCpu::leader}, std::tuple{"qos1", 1, BridgeCpu::leader},
        std::tuple{"qos0/bridge_unpinned", 0, BridgeCpu::unpinned}}) {
    benchmark::RegisterBenchmark((std::string("mqtt/round_trip/64B/") + name).c_str(), round_trip, qos, cpu)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->Iterations(rounds);
  }
  for (const auto& [name, cpu] :
       {std::pair{"qos0", BridgeCpu::leader}, std::pair{"qos0/bridge_unpinned", BridgeCpu::unpinned}}) {
    benchmark::RegisterBenchmark((std::string("mqtt/throughput/64B/") + name).c_str(), throughput, cpu)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(g_quick ? 1 : 5);
  }
  return statebus::bench::run_benchmarks(argc, argv);  // then `bare`, the follower and the broker end, in that order
}
