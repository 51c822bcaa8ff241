// Round trips between two processes over the libraries users would pick
// instead of statebus, beside statebus itself, in the same run: ZeroMQ (PAIR
// over ipc://), nng (pair0 over ipc://), LCM (UDP multicast on loopback) and
// Cyclone DDS (UDP on loopback), at 64 B, 4 KiB, 1 MiB and 4 MiB. Leader on
// CPU 0, follower on CPU 1 (the libraries' own threads inherit the pinning),
// blocking receive on both sides. The request/reply sockets (ZeroMQ REQ/REP,
// nng req0/rep0) are measured by service_bench, interleaved with the calls.
//
//   build/release/bench/peers_bench [--benchmark_filter=...]
//
// peers/<size>B/<peer>: the peer and statebus in blocking mode, alternating
// blocks of 100 round trips (the machine's drift hits both alike); counters
// peer_us_*, statebus_block_us_* (p50/p99/p99.9/max) and ratio_* (statebus /
// peer).
// peers/<size>B/statebus_poll: statebus with both sides spinning on
// take(), counters statebus_poll_us_*.
//
// The process runs in private user, mount and network namespaces: its own
// bus, and a network whose one interface is `lo` (LCM's multicast and
// Cyclone's discovery reach nothing else; Cyclone is also configured for
// `lo` only). Where no network namespace can be had, LCM is left out.
// The follower is this executable started again with --follower.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_bus.hpp"
#include "bench_main.hpp"
#include "follower.hpp"
#include "messages.hpp"
#include "peers/loopback_network.hpp"
#include "peers/peer.hpp"
#include "peers/round_trip.hpp"
#include "peers/statebus_peer.hpp"
#include "percentiles.hpp"
#include "statebus/bus.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/private_bus.hpp"
#ifdef STATEBUS_PEERS_ZMQ
#include "peers/zmq_peer.hpp"
#endif
#ifdef STATEBUS_PEERS_NNG
#include "peers/nng_peer.hpp"
#endif
#ifdef STATEBUS_PEERS_LCM
#include "peers/lcm_peer.hpp"
#endif
#ifdef STATEBUS_PEERS_CYCLONE
#include "peers/cyclone_peer.hpp"
#endif

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using statebus::bench::peers::echo_until_stop;
using statebus::bench::peers::Endpoint;
using statebus::bench::peers::kStop;
using statebus::bench::peers::Msg1M;
using statebus::bench::peers::Msg4K;
using statebus::bench::peers::Msg4M;
using statebus::bench::peers::Msg64;
using statebus::bench::peers::Peer;
using statebus::bench::peers::Role;
using statebus::bench::peers::stop;
using statebus::bench::peers::Wait;

constexpr std::size_t kSizes[] = {sizeof(Msg64), sizeof(Msg4K), sizeof(Msg1M), sizeof(Msg4M)};
constexpr const char* kPollPeer = "statebus_poll";

std::unique_ptr<Peer> open_statebus(const statebus::Node& node, const Endpoint& endpoint, Wait wait,
                                    std::string& error) {
  using statebus::bench::peers::StatebusPeer;
  switch (endpoint.size) {
    case sizeof(Msg64): return StatebusPeer<Msg64>::open(node, endpoint, wait, error);
    case sizeof(Msg4K): return StatebusPeer<Msg4K>::open(node, endpoint, wait, error);
    case sizeof(Msg1M): return StatebusPeer<Msg1M>::open(node, endpoint, wait, error);
    case sizeof(Msg4M): return StatebusPeer<Msg4M>::open(node, endpoint, wait, error);
    default: error = "no statebus message of " + std::to_string(endpoint.size) + " B"; return nullptr;
  }
}

std::unique_ptr<Peer> open_peer(const std::string& name, const Endpoint& endpoint, std::string& error) {
#ifdef STATEBUS_PEERS_ZMQ
  if (name == "zeromq") return statebus::bench::peers::ZmqPeer::open(endpoint, error);
#endif
#ifdef STATEBUS_PEERS_NNG
  if (name == "nng") return statebus::bench::peers::NngPeer::open(endpoint, error);
#endif
#ifdef STATEBUS_PEERS_LCM
  if (name == "lcm") return statebus::bench::peers::LcmPeer::open(endpoint, error);
#endif
#ifdef STATEBUS_PEERS_CYCLONE
  if (name == "cyclonedds") return statebus::bench::peers::CyclonePeer::open(endpoint, error);
#endif
  error = "no peer " + name + " in this build";
  return nullptr;
}

// ---- follower: echoes on statebus and the peer, one sleeping thread each ----

int follower() {
  statebus::bench::pin_to_cpu(statebus::bench::kFollowerCpu);
  auto node = statebus::Node::connect("bench-peers-follower");
  if (!node) {
    std::fprintf(stderr, "peers_bench follower: %s\n", node.error().message().c_str());
    return 1;
  }
  // Commands on stdin: "<peer> <size> <tag>"; the answer "ready" once listening.
  std::string name;
  std::size_t size = 0;
  std::string tag;
  while (std::cin >> name >> size >> tag) {
    const Endpoint endpoint{Role::follower, size, tag};
    const bool poll_only = name == kPollPeer;
    std::string error;
    auto statebus_side = open_statebus(*node, endpoint, poll_only ? Wait::poll : Wait::block, error);
    std::unique_ptr<Peer> peer;
    if (statebus_side && !poll_only) peer = open_peer(name, endpoint, error);
    if (!statebus_side || (!poll_only && !peer)) {
      std::printf("error %s\n", error.c_str());
      std::fflush(stdout);
      continue;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    std::thread peer_thread;
    if (peer) peer_thread = std::thread([&] { echo_until_stop(*peer); });
    echo_until_stop(*statebus_side);
    if (peer_thread.joinable()) peer_thread.join();
  }
  return 0;
}

// ---- leader ------------------------------------------------------------------

statebus::testkit::ChildProcess* g_follower = nullptr;
statebus::Node* g_node = nullptr;
std::uint32_t g_seq = 0;
int g_run = 0;

// One round trip with the next sequence number, in µs; nothing when lost.
std::optional<double> round_trip_us(Peer& peer) { return statebus::bench::peers::round_trip_us(peer, ++g_seq); }

void peer_round_trips(benchmark::State& state, const std::string& name, std::size_t size) {
  const bool poll_only = name == kPollPeer;
  const std::string tag = name + "-" + std::to_string(size) + "-" + std::to_string(++g_run);
  g_follower->write(name + " " + std::to_string(size) + " " + tag + "\n");
  const auto answer = g_follower->read_line(30s);
  if (answer != "ready") {
    state.SkipWithError(("the follower is not ready: " + answer.value_or("no answer")).c_str());
    return;
  }
  const Endpoint endpoint{Role::leader, size, tag};
  std::string error;
  auto statebus_side = open_statebus(*g_node, endpoint, poll_only ? Wait::poll : Wait::block, error);
  std::unique_ptr<Peer> peer;
  if (statebus_side && !poll_only) peer = open_peer(name, endpoint, error);
  if (!statebus_side || (!poll_only && !peer)) {
    state.SkipWithError(error.c_str());
    return;  // the follower gives up after 30 s of silence
  }
  std::vector<Peer*> sides{statebus_side.get()};
  if (peer) sides.push_back(peer.get());
  for (Peer* side : sides) {
    if (!side->connected(20s) || !statebus::bench::peers::first_round_trip(*side, g_seq)) {
      for (Peer* s : sides) stop(*s);
      const std::string what = (side == peer.get() ? name : std::string("statebus")) + " did not connect";
      state.SkipWithError(what.c_str());
      return;
    }
  }
  const int warmup = size >= (1u << 20) ? 50 : 500;
  for (int i = 0; i < warmup; ++i) {
    for (Peer* side : sides) round_trip_us(*side);
  }
  constexpr int kBlock = 100;  // round trips per side and iteration
  std::vector<double> peer_us;
  std::vector<double> statebus_us;
  std::size_t peer_lost = 0;
  std::size_t statebus_lost = 0;
  int round = 0;
  int lost_in_a_row = 0;  // a side that stopped answering ends the run (each loss waits kLossTimeout)
  for (auto _ : state) {
    double peer_total = 0;
    double statebus_total = 0;
    for (int pass = 0; pass < 2; ++pass) {
      const bool statebus_now = (pass == 0) == (round % 2 == 0);
      if (!statebus_now && !peer) continue;
      for (int i = 0; i < kBlock; ++i) {
        const auto us = round_trip_us(statebus_now ? *statebus_side : *peer);
        auto& samples = statebus_now ? statebus_us : peer_us;
        if (us) {
          samples.push_back(*us);
          (statebus_now ? statebus_total : peer_total) += *us;
          lost_in_a_row = 0;
        } else {
          ++(statebus_now ? statebus_lost : peer_lost);
          if (++lost_in_a_row == 10) break;
        }
      }
      if (lost_in_a_row >= 10) break;
    }
    if (lost_in_a_row >= 10) {
      state.SkipWithError("10 round trips in a row lost: the other side stopped answering");
      break;
    }
    ++round;
    // The reported time: one round trip of the peer (statebus's, alone).
    state.SetIterationTime((peer ? peer_total : statebus_total) / 1e6 / kBlock);
  }
  for (Peer* side : sides) stop(*side);
  using statebus::bench::percentile;
  using statebus::bench::report_percentiles;
  if (peer) {
    report_percentiles(state, peer_us, "peer_us_");
    report_percentiles(state, statebus_us, "statebus_block_us_");
    for (const auto& [key, fraction] : {std::pair{"p50", 0.5}, std::pair{"p99", 0.99}, std::pair{"p99.9", 0.999}}) {
      const double peer_figure = percentile(peer_us, fraction);
      state.counters[std::string("ratio_") + key] =
          peer_figure > 0 ? percentile(statebus_us, fraction) / peer_figure : 0.0;
    }
    state.counters["peer_lost"] = static_cast<double>(peer_lost);
    state.counters["samples"] = static_cast<double>(std::min(peer_us.size(), statebus_us.size()));
  } else {
    report_percentiles(state, statebus_us, "statebus_poll_us_");
  }
  state.counters["statebus_lost"] = static_cast<double>(statebus_lost);
  state.counters["bytes"] = static_cast<double>(size);
}

void register_all(const std::vector<std::string>& peers) {
  for (const std::size_t size : kSizes) {
    const int rounds = size >= (4u << 20) ? 10 : size >= (1u << 20) ? 20 : 25;
    // statebus poll first, nng last: after nng's 4 MiB run the follower has
    // not always come back for the next command (under investigation).
    const auto is_nng = [](const std::string& peer) { return peer.rfind("nng", 0) == 0; };
    std::vector<std::string> names{kPollPeer};
    for (const bool nng : {false, true}) {
      for (const auto& peer : peers) {
        if (is_nng(peer) == nng) names.push_back(peer);
      }
    }
    for (const auto& name : names) {
      benchmark::RegisterBenchmark(("peers/" + std::to_string(size) + "B/" + name).c_str(), peer_round_trips, name,
                                   size)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->Iterations(rounds);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (statebus::bench::is_follower(argc, argv)) return follower();

  // Namespaces before any thread: the bus's (user + mount), then the network.
  const auto isolation = statebus::testkit::isolate_bus();
  std::string no_network;
  const bool private_network = isolation && statebus::bench::peers::enter_loopback_network(no_network);
  std::vector<std::string> peers;
#ifdef STATEBUS_PEERS_ZMQ
  peers.emplace_back("zeromq");
#endif
#ifdef STATEBUS_PEERS_NNG
  peers.emplace_back("nng");
#endif
#ifdef STATEBUS_PEERS_LCM
  if (private_network) {
    peers.emplace_back("lcm");
  } else {  // its multicast would go out through the network card
    std::fprintf(stderr, "peers_bench: LCM left out: %s\n", no_network.c_str());
  }
#endif
#ifdef STATEBUS_PEERS_CYCLONE
  // Before the follower starts (it inherits it) and before any participant.
  ::setenv("CYCLONEDDS_URI", statebus::bench::peers::CyclonePeer::configuration(), 1);
  peers.emplace_back("cyclonedds");
#endif

  if (!statebus::bench::start_bus("peers_bench", statebus::bench::LiveDaemon::use,
                                  statebus::bench::with_room_for_4mib_pairs())) {
    return 1;
  }
  const auto leader = statebus::bench::Leader::start("peers_bench", "bench-peers-leader");
  if (!leader) return 1;
  g_follower = &leader->follower;
  g_node = &leader->node;

  register_all(peers);
  return statebus::bench::run_benchmarks(argc, argv);
}
