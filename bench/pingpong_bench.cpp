// Round trips between two processes: statebus channels against raw iceoryx,
// in the same run, same daemon, same pinning (leader on CPU 0, follower on
// CPU 1). Poll = busy take(); block = sleep in a WaitSet until data comes.
//
//   build/release/bench/pingpong_bench [--benchmark_filter=...]
//
// Runs in a private mount namespace with its own daemon; the follower is
// this executable started again with --follower.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_bus.hpp"
#include "bench_main.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "follower.hpp"
#include "messages.hpp"
#include "percentiles.hpp"
#include "statebus/bus.hpp"
#include "statebus/testing/child_process.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using statebus::bench::Msg1M;
using statebus::bench::Msg4K;
using statebus::bench::Msg4M;
using statebus::bench::Msg64;
using statebus::bench::Msg8;

enum class Transport { statebus, iceoryx };
// spin: spin up to 20 µs, then block; adaptive: Spin::adaptive(); header:
// poll, raw iceoryx with a user header of statebus's size against plain raw
// iceoryx (what the header's cache line costs, statebus left out); header16:
// the same with a 16-byte user header, which leaves the payload's first
// bytes in the chunk header's cache line. poll_same_policy: poll, against
// raw iceoryx whose publishers wait for lossless subscribers, as statebus's
// do by default (iceoryx's WAIT_FOR_CONSUMER: what lets a recorder miss
// nothing), instead of iceoryx's default, which drops for them.
enum class Mode { poll, block, spin, adaptive, header, header16, poll_same_policy };

// Modes that poll (one thread spinning over both transports).
bool polled(Mode m) {
  return m == Mode::poll || m == Mode::header || m == Mode::header16 || m == Mode::poll_same_policy;
}
// The user header raw iceoryx carries in a header mode, in bytes.
std::uint32_t header_bytes(Mode m) { return m == Mode::header ? 72 : m == Mode::header16 ? 16 : 0; }

const char* mode_name(Mode m) {
  return m == Mode::poll     ? "poll"
         : m == Mode::block ? "block"
         : m == Mode::spin  ? "spin"
         : m == Mode::header ? "header"
         : m == Mode::header16 ? "header16"
         : m == Mode::poll_same_policy ? "poll_same_policy"
                             : "adaptive";
}

constexpr int kWarmup = 1000;

std::string channel(Transport t, Mode m, std::size_t size, const char* direction) {
  return std::string("bench/") + (t == Transport::statebus ? "sb" : "iox") +
         "-" + mode_name(m) +
         "/s" + std::to_string(size) + "/" + direction;
}

iox::capro::ServiceDescription iox_service(const std::string& name) {
  // Raw iceoryx: a plain service description, no statebus header.
  return {"iox-bench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, name.c_str()), "data"};
}

// ---- one side of a ping-pong, per transport ------------------------------

template <class Msg>
struct StatebusSide {
  statebus::Publisher<Msg> out;
  statebus::Subscriber<Msg> in;
  Mode mode;

  static std::optional<StatebusSide> open(const statebus::Node& node, const std::string& send,
                                          const std::string& receive, Mode mode) {
    auto out = statebus::Publisher<Msg>::create(node, send, statebus::PublisherOptions{});
    auto in = statebus::Subscriber<Msg>::create(node, receive);
    if (!out || !in) return std::nullopt;
    return StatebusSide{std::move(*out), std::move(*in), mode};
  }
  bool connected() { return out.wait_for_subscribers(10s).is_ready(); }
  void send(char marker) {
    // Ports of the previous scenario give their chunks back when the daemon
    // gets to it: until then a loan of a large size may fail. Retry.
    // Uninitialised, as a sender that fills its sample in place takes it
    // (loan() zero-fills: 4 MiB of zeroes is no part of the transport); the
    // round trip carries only the marker, as raw iceoryx's side does.
    auto loan = out.loan_uninit();
    while (!loan) {
      std::this_thread::yield();
      loan = out.loan_uninit();
    }
    static_cast<Msg*>(loan->memory())->bytes[0] = marker;
    std::move(*loan).assume_init().publish();
  }
  bool try_receive(char& marker) {
    auto sample = in.take();
    if (sample) marker = sample->value().bytes[0];
    return sample.has_value();
  }
  // The marker received; 0 once the bus is gone (nothing more can come).
  char receive() {
    for (char marker = 0;;) {
      if (try_receive(marker)) return marker;
      if (polled(mode)) continue;  // polling: never a wait (a wait blocks)
      const statebus::Spin spin = mode == Mode::spin       ? statebus::Spin(std::chrono::microseconds(20))
                                  : mode == Mode::adaptive ? statebus::Spin::adaptive()
                                                           : statebus::Spin();
      if (in.wait(1s, spin).failed()) return 0;
    }
  }
};

struct IceoryxSide {
  std::unique_ptr<iox::popo::UntypedPublisher> out;
  std::unique_ptr<iox::popo::UntypedSubscriber> in;
  std::unique_ptr<iox::popo::WaitSet<1>> waitset;
  std::size_t size;
  Mode mode;
  // A user header: 72 bytes (sizeof(statebus::SampleHeader)), written and
  // read as statebus's is; 16 bytes (two times), written and read; or none.
  std::uint32_t header = 0;
  std::uint64_t sequence = 0;

  struct SlimHeader {
    std::int64_t real_time_ns;
    std::int64_t virtual_time_ns;
  };
  static_assert(sizeof(SlimHeader) == 16);

  static std::optional<IceoryxSide> open(const std::string& send, const std::string& receive, std::size_t size,
                                         Mode mode, std::uint32_t header = 0) {
    IceoryxSide side;
    side.header = header;
    iox::popo::PublisherOptions options;
    if (mode == Mode::poll_same_policy) {
      options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
    }
    side.out = std::make_unique<iox::popo::UntypedPublisher>(iox_service(send), options);
    side.in = std::make_unique<iox::popo::UntypedSubscriber>(iox_service(receive));
    side.size = size;
    side.mode = mode;
    if (!polled(mode)) {  // raw iceoryx has no spin-then-block: it blocks
      side.waitset = std::make_unique<iox::popo::WaitSet<1>>();
      if (side.waitset->attachState(*side.in, iox::popo::SubscriberState::HAS_DATA).has_error()) return std::nullopt;
    }
    return side;
  }
  bool connected() {
    const auto deadline = Clock::now() + 10s;
    while (!out->hasSubscribers()) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
  void send(char marker) {
    for (bool sent = false; !sent;) {
      out->loan(static_cast<std::uint32_t>(size), 1, header, header != 0 ? 8 : 1)
          .and_then([&](void* payload) {
            void* user_header = header != 0 ? iox::mepoo::ChunkHeader::fromUserPayload(payload)->userHeader() : nullptr;
            if (header == sizeof(statebus::SampleHeader)) {
              auto* h = static_cast<statebus::SampleHeader*>(user_header);
              *h = statebus::SampleHeader{};
              h->sequence = ++sequence;
              h->payload_size = static_cast<std::uint32_t>(size);
            } else if (header == sizeof(SlimHeader)) {
              *static_cast<SlimHeader*>(user_header) = SlimHeader{static_cast<std::int64_t>(++sequence), 0};
            }
            static_cast<char*>(payload)[0] = marker;
            out->publish(payload);
            sent = true;
          })
          .or_else([](auto) { std::this_thread::yield(); });
    }
  }
  bool try_receive(char& marker) {
    bool got = false;
    in->take().and_then([&](const void* payload) {
      const void* user_header = header != 0 ? iox::mepoo::ChunkHeader::fromUserPayload(payload)->userHeader() : nullptr;
      // Read as statebus reads it: sequence, port, flags, fingerprint, size.
      if (header == sizeof(statebus::SampleHeader)) {
        const auto* h = static_cast<const statebus::SampleHeader*>(user_header);
        benchmark::DoNotOptimize(h->sequence + h->publisher_port + h->flags + h->fingerprint + h->payload_size);
      } else if (header == sizeof(SlimHeader)) {
        const auto* h = static_cast<const SlimHeader*>(user_header);
        benchmark::DoNotOptimize(h->real_time_ns + h->virtual_time_ns);
      }
      marker = static_cast<const char*>(payload)[0];
      in->release(payload);
      got = true;
    });
    return got;
  }
  char receive() {
    for (char marker = 0;;) {
      if (try_receive(marker)) return marker;
      if (waitset) waitset->timedWait(iox::units::Duration::fromSeconds(1));
    }
  }
};

// ---- follower: echoes pings on both transports until both say stop --------

constexpr char kPing = 'p';
constexpr char kStop = 's';

template <class Side>
void echo(Side& side) {
  for (;;) {
    const char marker = side.receive();
    side.send(marker);
    if (marker == kStop) return;
  }
}

template <class SideA>
void echo_both(SideA& a, IceoryxSide& iox, Mode m) {
  if (!polled(m)) {
    // One sleeping thread per transport.
    std::thread iox_thread([&] { echo(iox); });
    echo(a);
    iox_thread.join();
    return;
  }
  // Poll: one thread spinning over both, so both see the same CPU.
  bool a_done = false;
  bool iox_done = false;
  char marker = 0;
  while (!a_done || !iox_done) {
    if (a.try_receive(marker)) {
      a.send(marker);
      a_done = marker == kStop;
    }
    if (iox.try_receive(marker)) {
      iox.send(marker);
      iox_done = marker == kStop;
    }
  }
}

template <class Msg>
void follow_scenario(const statebus::Node& node, Mode m) {
  auto iox = IceoryxSide::open(channel(Transport::iceoryx, m, sizeof(Msg), "pong"),
                               channel(Transport::iceoryx, m, sizeof(Msg), "ping"), sizeof(Msg), m);
  if (header_bytes(m) != 0) {
    auto a = IceoryxSide::open(channel(Transport::iceoryx, m, sizeof(Msg), "pong-header"),
                               channel(Transport::iceoryx, m, sizeof(Msg), "ping-header"), sizeof(Msg), m,
                               header_bytes(m));
    std::printf("ready\n");
    std::fflush(stdout);
    if (a && iox) echo_both(*a, *iox, m);
    return;
  }
  auto sb = StatebusSide<Msg>::open(node, channel(Transport::statebus, m, sizeof(Msg), "pong"),
                                    channel(Transport::statebus, m, sizeof(Msg), "ping"), m);
  std::printf("ready\n");
  std::fflush(stdout);
  if (sb && iox) echo_both(*sb, *iox, m);
}

int follower() {
  statebus::bench::pin_to_cpu(statebus::bench::kFollowerCpu);
  auto node = statebus::Node::connect("bench-follower");
  if (!node) {
    std::fprintf(stderr, "follower: %s\n", node.error().message().c_str());
    return 1;
  }
  // Commands on stdin: "<mode> <size> <cpu>".
  std::string mode;
  std::size_t size = 0;
  int cpu = statebus::bench::kFollowerCpu;
  while (std::cin >> mode >> size >> cpu) {
    statebus::bench::pin_to_cpu(cpu);
    const Mode m = mode == "poll"       ? Mode::poll
                   : mode == "spin"     ? Mode::spin
                   : mode == "adaptive" ? Mode::adaptive
                   : mode == "header"   ? Mode::header
                   : mode == "header16" ? Mode::header16
                   : mode == "poll_same_policy" ? Mode::poll_same_policy
                                        : Mode::block;
    if (size == sizeof(Msg8)) follow_scenario<Msg8>(*node, m);
    if (size == sizeof(Msg4M)) follow_scenario<Msg4M>(*node, m);
    if (size == sizeof(Msg64)) follow_scenario<Msg64>(*node, m);
    if (size == sizeof(Msg4K)) follow_scenario<Msg4K>(*node, m);
    if (size == sizeof(Msg1M)) follow_scenario<Msg1M>(*node, m);
  }
  return 0;
}

// ---- leader: the benchmarks -----------------------------------------------

statebus::testkit::ChildProcess* g_follower = nullptr;
statebus::Node* g_node = nullptr;

// Round trips back to back (0), or one every g_pace (a steady message rate).
std::chrono::nanoseconds g_pace{0};
Clock::time_point g_next;

template <class Side>
double round_trip_us(Side& side) {
  if (g_pace.count() > 0) {
    g_next += g_pace;
    while (Clock::now() < g_next) {  // a steady rate needs the exact moment: spin to it
    }
  }
  const auto start = Clock::now();
  side.send(kPing);
  side.receive();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Both transports in one benchmark, alternating blocks of round trips, so
// that the machine's drift over a run (a noisy shared VM) hits both alike.
// `a` is statebus (or, in header mode, raw iceoryx with statebus's header).
template <class SideA>
void alternate_blocks(benchmark::State& state, SideA& a, IceoryxSide& iox, Mode m, const char* a_prefix) {
  if (!a.connected() || !iox.connected()) {
    state.SkipWithError("the follower did not connect");
    return;
  }
  for (int i = 0; i < kWarmup; ++i) {
    round_trip_us(a);
    round_trip_us(iox);
  }
  const int block = polled(m) ? 1000 : 100;  // round trips per transport and iteration
  std::vector<double> a_us;
  std::vector<double> iox_us;
  int round = 0;
  for (auto _ : state) {
    // One benchmark iteration: a block of each, in alternating order.
    double total = 0;
    for (int pass = 0; pass < 2; ++pass) {
      const bool a_now = (pass == 0) == (round % 2 == 0);
      for (int i = 0; i < block; ++i) {
        if (a_now) {
          a_us.push_back(round_trip_us(a));
          total += a_us.back();
        } else {
          iox_us.push_back(round_trip_us(iox));
        }
      }
    }
    ++round;
    state.SetIterationTime(total / 1e6 / block);  // the reported time: one round trip of `a`
  }
  a.send(kStop);
  a.receive();
  iox.send(kStop);
  iox.receive();
  statebus::bench::report_percentiles(state, a_us, a_prefix);
  statebus::bench::report_percentiles(state, iox_us, "iceoryx_us_");
  state.counters["ratio_p50"] = statebus::bench::percentile(a_us, 0.5) / statebus::bench::percentile(iox_us, 0.5);
  state.counters["ratio_p99"] = statebus::bench::percentile(a_us, 0.99) / statebus::bench::percentile(iox_us, 0.99);
}

template <class Msg>
void round_trip(benchmark::State& state, Mode m, int follower_cpu, std::chrono::nanoseconds pace) {
  g_pace = pace;
  g_next = Clock::now();
  g_follower->write(std::string(mode_name(m)) + " " +
                    std::to_string(sizeof(Msg)) + " " + std::to_string(follower_cpu) + "\n");
  if (g_follower->read_line(10s) != "ready") {
    state.SkipWithError("the follower is not ready");
    return;
  }
  auto iox = IceoryxSide::open(channel(Transport::iceoryx, m, sizeof(Msg), "ping"),
                               channel(Transport::iceoryx, m, sizeof(Msg), "pong"), sizeof(Msg), m);
  if (header_bytes(m) != 0) {
    auto a = IceoryxSide::open(channel(Transport::iceoryx, m, sizeof(Msg), "ping-header"),
                               channel(Transport::iceoryx, m, sizeof(Msg), "pong-header"), sizeof(Msg), m,
                               header_bytes(m));
    if (!a || !iox) return state.SkipWithError("no iceoryx ports");
    alternate_blocks(state, *a, *iox, m, m == Mode::header ? "iceoryx72_us_" : "iceoryx16_us_");
  } else {
    auto sb = StatebusSide<Msg>::open(*g_node, channel(Transport::statebus, m, sizeof(Msg), "ping"),
                                      channel(Transport::statebus, m, sizeof(Msg), "pong"), m);
    if (!sb || !iox) return state.SkipWithError("no ports");
    alternate_blocks(state, *sb, *iox, m, "statebus_us_");
  }
  g_pace = std::chrono::nanoseconds(0);
  state.counters["bytes"] = sizeof(Msg);
}

// The CPU an idle subscriber costs while it waits for samples that do not
// come: spin-then-block (20 µs of spinning, then asleep) and plain blocking.
void idle_subscriber_cpu(benchmark::State& state, std::chrono::nanoseconds spin) {
  auto sub = statebus::Subscriber<Msg64>::create(*g_node, "bench/idle");
  if (!sub) return state.SkipWithError(sub.error().message().c_str());
  double cpu_s = 0;
  double wall_s = 0;
  for (auto _ : state) {
    timespec c0{};
    timespec c1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    const auto start = Clock::now();
    while (Clock::now() - start < 200ms) {  // wakes every 10 ms to re-check, as a loop would
      if (sub->wait(10ms, spin).failed()) return state.SkipWithError("the bus went away");
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    wall_s += std::chrono::duration<double>(Clock::now() - start).count();
    cpu_s += static_cast<double>(c1.tv_sec - c0.tv_sec) + static_cast<double>(c1.tv_nsec - c0.tv_nsec) / 1e9;
  }
  state.counters["cpu_pct"] = wall_s > 0 ? 100.0 * cpu_s / wall_s : 0.0;
}

// A subscriber thread (CPU 1) fed at a steady rate by a publisher thread
// (CPU 0) of this process: its latency (publish to take) and the share of a
// core it uses, side by side, for each way of waiting.
enum class Wait { block, spin20, adaptive, poll };

void paced_subscriber(benchmark::State& state, Wait how, std::chrono::microseconds period) {
  const std::string name = std::string("bench/paced/") + std::to_string(static_cast<int>(how));
  statebus::SubscriberOptions lossless;
  lossless.lossless = true;
  auto sub = statebus::Subscriber<Msg64>::create(*g_node, name, lossless);
  auto pub = statebus::Publisher<Msg64>::create(*g_node, name);
  if (!sub || !pub || !sub->wait_connected(10s)) return state.SkipWithError("no channel");
  const int kSamples = static_cast<int>(500ms / period);  // half a second
  std::vector<double> latency_us;
  latency_us.reserve(static_cast<std::size_t>(kSamples) * 4);
  double cpu_s = 0;
  double wall_s = 0;
  for (auto _ : state) {
    double thread_cpu_s = 0;
    double thread_wall_s = 0;
    std::thread receiver([&] {
      statebus::bench::pin_to_cpu(statebus::bench::kFollowerCpu);
      timespec c0{};
      timespec c1{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
      const auto start = Clock::now();
      for (int received = 0; received < kSamples;) {
        std::optional<statebus::Sample<Msg64>> sample;
        if (how == Wait::poll) {
          sample = sub->take();
        } else {
          const statebus::Spin spin = how == Wait::block    ? statebus::Spin()
                                      : how == Wait::spin20 ? statebus::Spin(20us)
                                                            : statebus::Spin::adaptive();
          auto taken = sub->take_for(1s, spin);
          if (!taken) break;
          sample.emplace(std::move(*taken));
        }
        if (!sample) continue;
        const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch());
        latency_us.push_back(static_cast<double>(now_ns.count() - sample->header().real_time_ns) / 1000.0);
        ++received;
      }
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
      thread_wall_s = std::chrono::duration<double>(Clock::now() - start).count();
      thread_cpu_s =
          static_cast<double>(c1.tv_sec - c0.tv_sec) + static_cast<double>(c1.tv_nsec - c0.tv_nsec) / 1e9;
    });
    auto next = Clock::now() + 1ms;  // the receiver is waiting by then
    for (int i = 0; i < kSamples; ++i) {
      next += period;
      while (Clock::now() < next) {  // a steady rate needs the exact moment: spin to it
      }
      Msg64 msg{};
      (void)pub->publish(msg);
    }
    receiver.join();
    cpu_s += thread_cpu_s;
    wall_s += thread_wall_s;
  }
  statebus::bench::report_percentiles(state, latency_us, "latency_us_");
  state.counters["cpu_pct"] = wall_s > 0 ? 100.0 * cpu_s / wall_s : 0.0;
}

template <class Msg>
void register_size(int poll_rounds, int block_rounds, bool spin = false) {
  const std::string size = std::to_string(sizeof(Msg));
  const int cross = statebus::bench::kFollowerCpu;
  const int same = statebus::bench::kLeaderCpu;
  benchmark::RegisterBenchmark(("round_trip/" + size + "B/poll").c_str(), round_trip<Msg>, Mode::poll, cross, 0ns)
      ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(poll_rounds);
  benchmark::RegisterBenchmark(("round_trip/" + size + "B/block").c_str(), round_trip<Msg>, Mode::block, cross, 0ns)
      ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(block_rounds);
  if (spin) {
    // What statebus's header costs without statebus: raw iceoryx with a user
    // header of the same size against plain raw iceoryx.
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/header").c_str(), round_trip<Msg>, Mode::header, cross, 0ns)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(poll_rounds);
    // A header small enough to leave the payload's first bytes in the chunk header's line.
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/header16").c_str(), round_trip<Msg>, Mode::header16, cross,
                                 0ns)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(poll_rounds);
    // Against raw iceoryx with statebus's delivery policy (publishers that lossless subscribers can join).
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/poll_same_policy").c_str(), round_trip<Msg>,
                                 Mode::poll_same_policy, cross, 0ns)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(poll_rounds);
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/spin").c_str(), round_trip<Msg>, Mode::spin, cross, 0ns)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(block_rounds);
    // Both on one CPU: blocking only (two pollers on one CPU wait for the scheduler's time slices).
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/block/same").c_str(), round_trip<Msg>, Mode::block, same,
                                 0ns)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(block_rounds);
    // At a steady 10 kHz (one ping every 100 µs), polling and spin-then-block.
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/poll/10kHz").c_str(), round_trip<Msg>, Mode::poll, cross,
                                 100us)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(5);
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/spin/10kHz").c_str(), round_trip<Msg>, Mode::spin, cross,
                                 100us)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(50);
    benchmark::RegisterBenchmark(("round_trip/" + size + "B/adaptive/10kHz").c_str(), round_trip<Msg>, Mode::adaptive,
                                 cross, 100us)
        ->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(50);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (statebus::bench::is_follower(argc, argv)) return follower();

  // Four publishers of 4 MiB, two per transport.
  if (!statebus::bench::start_bus("pingpong_bench", statebus::bench::LiveDaemon::use,
                                  statebus::bench::with_room_for_4mib_pairs())) {
    return 1;
  }
  const auto leader = statebus::bench::Leader::start("pingpong_bench", "bench-leader");
  if (!leader) return 1;
  g_follower = &leader->follower;
  g_node = &leader->node;

  // Rounds of 2 × 1000 (poll) or 2 × 100 (block) round trips.
  benchmark::RegisterBenchmark("idle_subscriber/spin_then_block", idle_subscriber_cpu, std::chrono::nanoseconds(20us))
      ->Iterations(5);
  benchmark::RegisterBenchmark("idle_subscriber/block", idle_subscriber_cpu, std::chrono::nanoseconds(0))
      ->Iterations(5);
  for (auto [rate, period] : {std::pair{"10kHz", 100us}, std::pair{"1kHz", 1000us}}) {
    for (auto [name, how] : {std::pair{"block", Wait::block}, std::pair{"spin20us", Wait::spin20},
                             std::pair{"adaptive", Wait::adaptive}, std::pair{"poll", Wait::poll}}) {
      benchmark::RegisterBenchmark((std::string("paced_subscriber/") + rate + "/" + name).c_str(), paced_subscriber,
                                   how, std::chrono::microseconds(period))
          ->Iterations(3);
    }
  }
  register_size<Msg8>(25, 25);
  register_size<Msg64>(25, 25, /*spin=*/true);
  register_size<Msg4K>(25, 25);
  register_size<Msg1M>(25, 25);
  register_size<Msg4M>(10, 10);
  return statebus::bench::run_benchmarks(argc, argv);
}
