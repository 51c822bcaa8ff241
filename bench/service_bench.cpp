// Calls between two processes: a statebus service call (Client::call against
// a Server) beside its floors, in the same run, same daemon, same pinning
// (client on CPU 0, server on CPU 1): the same exchange by hand on two
// statebus channels, and raw iceoryx 2.0.3 client/server
// (UntypedClient/UntypedServer) with the service's queue policy (requests
// queue 256 deep, the oldest dropped when full; responses 16, iceoryx's
// most; producers wait for lossless consumers); and, beside the blocking
// calls, the request/reply sockets of the peer libraries this build has,
// ZeroMQ REQ/REP and nng req0/rep0 over ipc:// (peers/request_reply.hpp),
// blocking in their receive.
//
//   build/release/bench/service_bench [--benchmark_filter=...]
//
// call/<size>B/<wait>, alternating blocks of calls over the three, counters
// call_us_*, channels_us_*, iceoryx_cs_us_* (p50/p99/p99.9/max), the ratios
// of the call to each floor at p50 and p99, and calls per second of each
// (1 / mean, one client). Waits:
//   block     the client blocks (call(req, 1s), Spin{}); the server runs
//             serve() in an EventLoop; the floors block in their waits;
//             the peers' sockets too (counters zeromq_reqrep_us_*,
//             nng_reqrep_us_*, ratio_p50_<peer>, in the same alternation)
//   spin20us  the client spins up to 20 µs, then blocks (call(req, 1s,
//             20us)); raw iceoryx, which has no such wait, spins on take()
//             for 20 µs, then blocks in a WaitSet; the servers poll
//   poll      the client polls (call_async() and PendingCall::poll()); the
//             servers poll (serve_queued() in a loop, take() on the floors)
// A server that polls serves all three transports from one spinning
// thread; blocking servers have a thread each (the peers' too; nng's and
// ZeroMQ's own threads inherit the server's CPU).
//
// calls_per_s/64B/block/<n>clients: calls per second (counter calls_per_s)
// of 1 or 4 client processes (all on CPU 1), each calling back to back,
// blocking, one server in an EventLoop (CPU 0); statebus calls only.
//
// What each copies: the request is a value of the caller's, copied into
// shared memory by the call and by the channels (publish(const T&)); the
// call's handler writes the response in place (zeroed first, then the
// request copied in) and call() reads it in place (CallResponse<Res>); by hand the server publishes the
// request's value back and the client reads the reply in place; raw iceoryx
// copies nothing (it writes a sequence number into its loans). At 1 MiB the
// copies are most of the difference.
//
// Runs in a private mount namespace with its own daemon; the server is
// this executable started again with --follower.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_bus.hpp"
#include "bench_main.hpp"
#include "follower.hpp"
#include "iceoryx_posh/popo/rpc_header.hpp"
#include "iceoryx_posh/popo/untyped_client.hpp"
#include "iceoryx_posh/popo/untyped_server.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "messages.hpp"
#include "peers/peer.hpp"
#include "peers/request_reply.hpp"
#include "peers/round_trip.hpp"
#include "percentiles.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using statebus::bench::Msg1M;
using statebus::bench::Msg4K;
using statebus::bench::Msg64;
using statebus::bench::peers::get_seq;
using statebus::bench::peers::kStop;
using statebus::bench::peers::put_seq;
using statebus::bench::peers::request_reply_peers;

enum class Wait { block, spin20us, poll };

const char* wait_name(Wait w) { return w == Wait::block ? "block" : w == Wait::spin20us ? "spin20us" : "poll"; }
Wait parse_wait(const std::string& name) {
  return name == "block" ? Wait::block : name == "spin20us" ? Wait::spin20us : Wait::poll;
}
// The client's spin before it blocks.
constexpr auto kSpin = 20us;
// A follower whose leader went silent this long gives up the scenario.
constexpr auto kSilence = 30s;

// The names of one scenario's service, channels and iceoryx service.
std::string name(const char* what, Wait w, std::size_t size) {
  return std::string("bench/") + what + "/" + wait_name(w) + "/s" + std::to_string(size);
}
iox::capro::ServiceDescription iox_service(Wait w, std::size_t size) {
  const std::string instance = std::string(wait_name(w)) + "-s" + std::to_string(size);
  return {"iox-service-bench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, instance.c_str()), "call"};
}

// ---- raw iceoryx client/server, the service's queue policy ------------------

iox::popo::ServerOptions iox_server_options() {
  iox::popo::ServerOptions options;
  options.requestQueueCapacity = 256;  // Server's SubscriberOptions{256, 0, false}
  options.requestQueueFullPolicy = iox::popo::QueueFullPolicy::DISCARD_OLDEST_DATA;
  options.clientTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return options;
}
iox::popo::ClientOptions iox_client_options() {
  iox::popo::ClientOptions options;
  options.responseQueueCapacity = iox::MAX_RESPONSE_QUEUE_CAPACITY;  // 16: the service's replies queue 256
  options.responseQueueFullPolicy = iox::popo::QueueFullPolicy::DISCARD_OLDEST_DATA;
  options.serverTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return options;
}

// ---- follower: the servers --------------------------------------------------

// Answers one by-hand request if one is queued: its sequence number.
template <class Msg>
std::optional<std::uint32_t> answer_by_hand(statebus::Subscriber<Msg>& requests, statebus::Publisher<Msg>& replies) {
  auto request = requests.take();
  if (!request) return std::nullopt;
  while (!replies.publish(request->value())) std::this_thread::yield();  // a large loan may wait for a chunk back
  return get_seq(request->value().bytes);
}

// Answers one raw iceoryx request if one is queued: its sequence number.
std::optional<std::uint32_t> answer_iceoryx(iox::popo::UntypedServer& server, std::size_t size) {
  std::optional<std::uint32_t> seq;
  server.take().and_then([&](const void* request) {
    seq = get_seq(request);
    for (bool sent = false; !sent;) {
      server.loan(iox::popo::RequestHeader::fromPayload(request), static_cast<std::uint32_t>(size), 8)
          .and_then([&](void* response) {
            put_seq(response, *seq);
            sent = !server.send(response).has_error();
          })
          .or_else([](auto) { std::this_thread::yield(); });
    }
    server.releaseRequest(request);
  });
  return seq;
}

// The peers' sockets of one blocking scenario (none for the other waits).
std::vector<std::unique_ptr<statebus::bench::peers::Peer>> open_peers(statebus::bench::peers::Role role, Wait w,
                                                                      std::size_t size, const std::string& tag,
                                                                      std::string& error) {
  std::vector<std::unique_ptr<statebus::bench::peers::Peer>> peers;
  if (w != Wait::block) return peers;
  for (const auto& peer : request_reply_peers()) {
    auto opened = statebus::bench::peers::open_request_reply(peer, {role, size, peer + "-" + tag}, error);
    if (!opened) return {};
    peers.push_back(std::move(opened));
  }
  return peers;
}

template <class Msg>
void serve_scenario(const statebus::Node& node, Wait w, const std::string& tag) {
  std::string peer_error;
  auto peers = open_peers(statebus::bench::peers::Role::follower, w, sizeof(Msg), tag, peer_error);
  if (peers.size() != (w == Wait::block ? request_reply_peers().size() : 0)) {
    std::printf("error %s\n", peer_error.c_str());
    std::fflush(stdout);
    return;
  }
  auto service = statebus::Server<Msg, Msg>::create(node, name("svc", w, sizeof(Msg)));
  auto requests = statebus::Subscriber<Msg>::create(node, name("hand", w, sizeof(Msg)) + "/request");
  auto replies = statebus::Publisher<Msg>::create(node, name("hand", w, sizeof(Msg)) + "/reply");
  iox::popo::UntypedServer iox(iox_service(w, sizeof(Msg)), iox_server_options());
  if (!service || !requests || !replies) {
    const statebus::Error& error = !service ? service.error() : !requests ? requests.error() : replies.error();
    std::printf("error %s\n", error.message().c_str());
    std::fflush(stdout);
    return;
  }
  std::printf("ready\n");
  std::fflush(stdout);

  bool service_done = false;
  // The response written in place (no copy but this one), as the channels by hand publish the request back.
  auto echo = [&service_done](const Msg& request, Msg& response) -> statebus::Reply<void> {
    service_done = service_done || get_seq(request.bytes) == kStop;
    response = request;
    return {};
  };
  if (w != Wait::block) {
    // One thread spinning over all three, so that each sees the same CPU.
    bool hand_done = false;
    bool iox_done = false;
    auto last = Clock::now();
    while ((!service_done || !hand_done || !iox_done) && Clock::now() - last < kSilence) {
      bool any = service->serve_queued(echo) > 0;
      if (auto seq = answer_by_hand(*requests, *replies)) {
        hand_done = hand_done || *seq == kStop;
        any = true;
      }
      if (auto seq = answer_iceoryx(iox, sizeof(Msg))) {
        iox_done = iox_done || *seq == kStop;
        any = true;
      }
      if (any) last = Clock::now();
    }
    return;
  }
  // Blocking: a thread per transport, each asleep in its own wait.
  std::vector<std::thread> peer_threads;
  for (auto& peer : peers) peer_threads.emplace_back([&peer] { statebus::bench::peers::echo_until_stop(*peer); });
  std::thread hand([&] {
    for (auto last = Clock::now(); Clock::now() - last < kSilence;) {
      if (requests->wait(1s).failed()) return;
      while (auto seq = answer_by_hand(*requests, *replies)) {
        if (*seq == kStop) return;
        last = Clock::now();
      }
    }
  });
  std::thread raw([&] {
    iox::popo::WaitSet<1> waitset;
    if (waitset.attachState(iox, iox::popo::ServerState::HAS_REQUEST).has_error()) return;
    for (auto last = Clock::now(); Clock::now() - last < kSilence;) {
      waitset.timedWait(iox::units::Duration::fromSeconds(1));
      while (auto seq = answer_iceoryx(iox, sizeof(Msg))) {
        if (*seq == kStop) return;
        last = Clock::now();
      }
    }
  });
  auto loop = statebus::EventLoop::create(node);
  if (loop && serve(*loop, *service, [&](const Msg& request, Msg& response) -> statebus::Reply<void> {
        auto reply = echo(request, response);
        if (service_done) loop->stop();  // after this call is answered
        return reply;
      })) {
    const auto answered = [&] { return service->answered() + service->refused(); };
    auto seen = answered();
    auto last = Clock::now();
    loop->every(1s, [&] {
      if (answered() != seen) {
        seen = answered();
        last = Clock::now();
      }
      if (Clock::now() - last > kSilence) loop->stop();
    });
    (void)loop->run();
  }
  hand.join();
  raw.join();
  for (auto& thread : peer_threads) thread.join();
}

// A client process of calls_per_s: "ready" once its first call is
// answered, then at each "go" calls for `seconds` and says "<calls> <failed>".
int caller(const std::string& service, double seconds) {
  statebus::bench::pin_to_cpu(statebus::bench::kFollowerCpu);
  auto node = statebus::Node::connect("bench-service-caller-" + std::to_string(::getpid()));
  if (!node) {
    std::printf("error %s\n", node.error().message().c_str());
    return 1;
  }
  auto client = statebus::Client<Msg64, Msg64>::create(*node, service);
  if (!client) {
    std::printf("error %s\n", client.error().message().c_str());
    return 1;
  }
  if (auto first = client->call(Msg64{}, 10s); !first) {
    std::printf("error %s\n", first.error().message().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (std::string go; std::cin >> go;) {
    std::uint64_t calls = 0;
    std::uint64_t failed = 0;
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) ++(client->call(Msg64{}, 1s) ? calls : failed);
    std::printf("%llu %llu\n", static_cast<unsigned long long>(calls), static_cast<unsigned long long>(failed));
    std::fflush(stdout);
  }
  return 0;
}

int follower() {
  statebus::bench::pin_to_cpu(statebus::bench::kFollowerCpu);
  auto node = statebus::Node::connect("bench-service-server");
  if (!node) {
    std::fprintf(stderr, "service_bench follower: %s\n", node.error().message().c_str());
    return 1;
  }
  // Commands on stdin: "<wait> <size> <tag>" (the tag names the peers'
  // sockets); the answer "ready" once serving.
  std::string wait;
  std::size_t size = 0;
  std::string tag;
  while (std::cin >> wait >> size >> tag) {
    const Wait w = parse_wait(wait);
    if (size == sizeof(Msg64)) serve_scenario<Msg64>(*node, w, tag);
    if (size == sizeof(Msg4K)) serve_scenario<Msg4K>(*node, w, tag);
    if (size == sizeof(Msg1M)) serve_scenario<Msg1M>(*node, w, tag);
  }
  return 0;
}

// ---- leader: the clients ----------------------------------------------------

// A statebus call; false if it failed.
template <class Msg>
bool call(statebus::Client<Msg, Msg>& client, const Msg& request, Wait w) {
  if (w == Wait::poll) {
    auto pending = client.call_async(request);
    if (!pending) return false;
    for (;;) {
      if (auto done = pending->poll()) return done->has_value();
    }
  }
  const auto reply = client.call(request, 1s, w == Wait::spin20us ? statebus::Spin(kSpin) : statebus::Spin());
  return reply.has_value();
}

// The same exchange on two channels: false if no reply came within 1 s.
template <class Msg>
bool call_by_hand(statebus::Publisher<Msg>& requests, statebus::Subscriber<Msg>& replies, const Msg& request, Wait w) {
  const std::uint32_t seq = get_seq(request.bytes);
  while (!requests.publish(request)) std::this_thread::yield();
  const auto deadline = Clock::now() + 1s;
  for (;;) {
    while (auto reply = replies.take()) {
      if (get_seq(reply->value().bytes) == seq) return true;
    }
    if (w == Wait::poll) {
      if (Clock::now() > deadline) return false;
      continue;
    }
    if (!replies.wait(deadline - Clock::now(), w == Wait::spin20us ? statebus::Spin(kSpin) : statebus::Spin())) {
      return false;
    }
  }
}

struct IceoryxClient {
  iox::popo::UntypedClient client;
  iox::popo::WaitSet<1> waitset;

  IceoryxClient(Wait w, std::size_t size) : client(iox_service(w, size), iox_client_options()) {}
  bool connected() {
    // Attached before the first request (iceoryx #1855).
    if (waitset.attachState(client, iox::popo::ClientState::HAS_RESPONSE).has_error()) return false;
    const auto deadline = Clock::now() + 10s;
    while (client.getConnectionState() != iox::ConnectionState::CONNECTED) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
  // One call carrying `seq`; false if no response came within 1 s.
  bool call(std::uint32_t seq, std::size_t size, Wait w) {
    bool sent = false;
    while (!sent) {
      client.loan(static_cast<std::uint32_t>(size), 8)
          .and_then([&](void* request) {
            iox::popo::RequestHeader::fromPayload(request)->setSequenceId(seq);
            put_seq(request, seq);
            sent = !client.send(request).has_error();
          })
          .or_else([](auto) { std::this_thread::yield(); });
    }
    const auto start = Clock::now();
    for (;;) {
      bool matched = false;
      while (!matched) {
        auto response = client.take();
        if (response.has_error()) break;
        matched = iox::popo::ResponseHeader::fromPayload(response.value())->getSequenceId() == seq;
        client.releaseResponse(response.value());
      }
      if (matched) return true;
      const auto waited = Clock::now() - start;
      if (waited > 1s) return false;
      if (w == Wait::block || (w == Wait::spin20us && waited > kSpin)) {
        waitset.timedWait(iox::units::Duration::fromMilliseconds(100));
      }
    }
  }
};

statebus::testkit::ChildProcess* g_follower = nullptr;
statebus::Node* g_node = nullptr;
int g_run = 0;

template <class F>
double time_us(F&& f, bool& ok) {
  const auto start = Clock::now();
  ok = f() && ok;
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

template <class Msg>
void calls(benchmark::State& state, Wait w) {
  // Socket files of a run of its own: nothing of an earlier run (or another benchmark) answers.
  const std::string tag = std::string(wait_name(w)) + "-" + std::to_string(sizeof(Msg)) + "-" +
                          std::to_string(::getpid()) + "-" + std::to_string(++g_run);
  g_follower->write(std::string(wait_name(w)) + " " + std::to_string(sizeof(Msg)) + " " + tag + "\n");
  if (const auto answer = g_follower->read_line(30s); answer != "ready") {
    return state.SkipWithError(("the server is not ready: " + answer.value_or("no answer")).c_str());
  }
  std::string peer_error;
  auto peers = open_peers(statebus::bench::peers::Role::leader, w, sizeof(Msg), tag, peer_error);
  const std::vector<std::string> peer_names = w == Wait::block ? request_reply_peers() : std::vector<std::string>{};
  auto client = statebus::Client<Msg, Msg>::create(*g_node, name("svc", w, sizeof(Msg)));
  auto requests = statebus::Publisher<Msg>::create(*g_node, name("hand", w, sizeof(Msg)) + "/request");
  auto replies = statebus::Subscriber<Msg>::create(*g_node, name("hand", w, sizeof(Msg)) + "/reply");
  IceoryxClient iox(w, sizeof(Msg));
  if (!client || !requests || !replies) return state.SkipWithError("no ports");
  if (peers.size() != peer_names.size()) return state.SkipWithError(peer_error.c_str());  // the server gives up in 30 s
  std::uint32_t seq = 0;
  const auto stop_peers = [&] {
    for (auto& peer : peers) statebus::bench::peers::stop(*peer);
  };
  if (!requests->wait_for_subscribers(10s) || !replies->wait_connected(10s) || !iox.connected()) {
    stop_peers();
    return state.SkipWithError("the server did not connect");
  }
  for (auto& peer : peers) {
    if (!peer->connected(20s) || !statebus::bench::peers::first_round_trip(*peer, seq)) {
      stop_peers();
      return state.SkipWithError("a peer's socket did not connect");
    }
  }
  static Msg request{};  // static: 1 MiB is no stack variable
  bool ok = true;
  // The transports (the three, then the peers'), each one round trip with the next sequence number.
  const std::size_t transports = 3 + peers.size();
  const auto round_trip = [&](std::size_t transport) {
    put_seq(request.bytes, ++seq);
    if (transport >= 3) {
      const auto us = statebus::bench::peers::round_trip_us(*peers[transport - 3], seq);
      ok = us && ok;
      return us.value_or(0.0);
    }
    return time_us(
        [&] {
          return transport == 0   ? call(*client, request, w)
                 : transport == 1 ? call_by_hand(*requests, *replies, request, w)
                                  : iox.call(seq, sizeof(Msg), w);
        },
        ok);
  };
  const int warmup = sizeof(Msg) >= (1u << 20) ? 50 : 500;
  for (int i = 0; i < warmup; ++i) {
    for (std::size_t t = 0; t < transports; ++t) round_trip(t);
  }
  const int block = w == Wait::block || sizeof(Msg) >= (1u << 20) ? 100 : 1000;  // calls per transport and iteration
  std::vector<std::vector<double>> us(transports);
  std::vector<double> total_us(transports, 0.0);
  std::size_t round = 0;
  for (auto _ : state) {
    const double call_us_before = total_us[0];
    for (std::size_t pass = 0; pass < transports; ++pass) {
      const std::size_t t = (pass + round) % transports;  // each first in turn: the machine's drift hits all alike
      for (int i = 0; i < block; ++i) {
        us[t].push_back(round_trip(t));
        total_us[t] += us[t].back();
      }
    }
    ++round;
    state.SetIterationTime((total_us[0] - call_us_before) / 1e6 / block);  // the reported time: one call's mean
    if (!ok) break;
  }
  // Stop the server's three sides.
  put_seq(request.bytes, kStop);
  (void)call(*client, request, Wait::block);
  (void)call_by_hand(*requests, *replies, request, Wait::block);
  (void)iox.call(kStop, sizeof(Msg), Wait::block);
  stop_peers();
  if (!ok) return state.SkipWithError("a call failed or got no answer within 1 s");

  using statebus::bench::percentile;
  std::vector<std::string> names{"call", "channels", "iceoryx_cs"};
  names.insert(names.end(), peer_names.begin(), peer_names.end());
  for (std::size_t t = 0; t < transports; ++t) {
    statebus::bench::report_percentiles(state, us[t], names[t] + "_us_");
    state.counters[names[t] + "_calls_per_s"] = static_cast<double>(us[t].size()) / (total_us[t] / 1e6);
  }
  for (std::size_t t = 1; t < transports; ++t) {
    state.counters["ratio_p50_" + names[t]] = percentile(us[0], 0.5) / percentile(us[t], 0.5);
    state.counters["ratio_p99_" + names[t]] = percentile(us[0], 0.99) / percentile(us[t], 0.99);
  }
  state.counters["bytes"] = sizeof(Msg);
}

// Calls per second of `clients` processes (CPU 1) calling one server, served
// by an EventLoop on CPU 0, each client blocking in call(req, 1s), 64 B.
void calls_per_s(benchmark::State& state, int clients) {
  static int run = 0;
  const std::string service = "bench/svc-rate/" + std::to_string(++run);
  constexpr double kSeconds = 1.0;  // per iteration; read_line below waits 30 s more
  std::atomic<bool> serving{false};
  std::unique_ptr<statebus::EventLoop> loop;
  std::thread server([&] {
    auto made = statebus::Server<Msg64, Msg64>::create(*g_node, service);
    auto made_loop = statebus::EventLoop::create(*g_node);
    if (!made || !made_loop) return;
    loop = std::make_unique<statebus::EventLoop>(std::move(*made_loop));
    if (!serve(*loop, *made, [](const Msg64& request) -> statebus::Reply<Msg64> { return request; })) return;
    serving = true;
    (void)loop->run();
  });
  const auto stop_server = [&] {
    for (auto deadline = Clock::now() + 10s; !serving && Clock::now() < deadline;) std::this_thread::sleep_for(1ms);
    if (serving) loop->stop();
    server.join();
  };
  std::vector<statebus::testkit::ChildProcess> callers;
  for (int i = 0; i < clients; ++i) {
    auto child = statebus::bench::spawn_follower({"--follower", "caller", service, std::to_string(kSeconds)});
    if (child) callers.push_back(std::move(*child));
  }
  for (auto& child : callers) {
    if (const auto answer = child.read_line(30s); answer != "ready") {
      stop_server();
      return state.SkipWithError(("a client process is not ready: " + answer.value_or("no answer")).c_str());
    }
  }
  double calls = 0;
  double failed = 0;
  double seconds = 0;
  for (auto _ : state) {
    for (auto& child : callers) child.write("go\n");
    for (auto& child : callers) {
      std::istringstream counts(child.read_line(31s).value_or("0 1"));
      double c = 0;
      double f = 0;
      counts >> c >> f;
      calls += c;
      failed += f;
    }
    state.SetIterationTime(kSeconds);
    seconds += kSeconds;
  }
  stop_server();
  state.counters["calls_per_s"] = seconds > 0 ? calls / seconds : 0.0;
  state.counters["failed"] = failed;
  if (failed > 0) state.SkipWithError("calls failed");
}

template <class Msg>
void register_size(int rounds) {
  for (Wait w : {Wait::poll, Wait::spin20us, Wait::block}) {
    const std::string label = "call/" + std::to_string(sizeof(Msg)) + "B/" + wait_name(w);
    benchmark::RegisterBenchmark(label.c_str(), calls<Msg>, w)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->Iterations(rounds);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (statebus::bench::is_follower(argc, argv)) {
    return argc == 5 && std::string(argv[2]) == "caller" ? caller(argv[3], std::atof(argv[4])) : follower();
  }
  if (!statebus::bench::start_bus("service_bench")) return 1;
  const auto leader = statebus::bench::Leader::start("service_bench", "bench-service-client");
  if (!leader) return 1;
  g_follower = &leader->follower;
  g_node = &leader->node;
  register_size<Msg64>(25);
  register_size<Msg4K>(25);
  register_size<Msg1M>(10);
  for (int clients : {1, 4}) {
    benchmark::RegisterBenchmark(("calls_per_s/64B/block/" + std::to_string(clients) + "clients").c_str(), calls_per_s,
                                 clients)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
  }
  return statebus::bench::run_benchmarks(argc, argv);
}
