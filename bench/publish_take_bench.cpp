// Cost of one publish plus one take in a single process (no cross-core
// traffic): statebus channels against raw iceoryx, side by side.
//
//   build/release/bench/publish_take_bench
#include <cstdio>
#include <string>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include "bench_bus.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "messages.hpp"
#include "statebus/bus.hpp"

namespace {

using statebus::bench::Msg4M;
using statebus::bench::Msg64;

std::optional<statebus::Node> g_node;

void statebus_publish_take(benchmark::State& state) {
  auto pub = statebus::Publisher<Msg64>::create(*g_node, "bench/pt/statebus");
  auto sub = statebus::Subscriber<Msg64>::create(*g_node, "bench/pt/statebus");
  if (!pub || !sub || !pub->wait_for_subscribers(std::chrono::seconds(5))) {
    state.SkipWithError("no connection");
    return;
  }
  for (auto _ : state) {
    auto loan = pub->loan();
    (*loan)->bytes[0] = 1;
    std::move(*loan).publish();
    auto sample = sub->take();
    benchmark::DoNotOptimize(sample->value().bytes[0]);
  }
}

// What loan() (a value-initialised T) costs over loan_uninit() (the raw
// chunk, for writers of every byte): publish + take of a loan whose first
// byte is written, at 64 B and 4 MiB.
template <class Msg, bool kInit>
void loan_publish_take(benchmark::State& state) {
  // Opened once: a closed port's last chunk returns to the pool only when
  // the daemon gets round to it, and the 4 MiB pool has few chunks.
  const std::string channel =
      std::string("bench/pt/loan") + (kInit ? "-init" : "-uninit") + std::to_string(sizeof(Msg));
  static auto pub = statebus::Publisher<Msg>::create(*g_node, channel);
  static auto sub = statebus::Subscriber<Msg>::create(*g_node, channel);
  if (!pub || !sub || !pub->wait_for_subscribers(std::chrono::seconds(5))) {
    state.SkipWithError("no connection");
    return;
  }
  for (auto _ : state) {
    if constexpr (kInit) {
      auto loan = pub->loan();
      if (!loan) return state.SkipWithError(std::string(to_string(loan.error())).c_str());
      (*loan)->bytes[0] = 1;
      std::move(*loan).publish();
    } else {
      auto raw = pub->loan_uninit();
      if (!raw) return state.SkipWithError(std::string(to_string(raw.error())).c_str());
      static_cast<char*>(raw->memory())[0] = 1;
      std::move(*raw).assume_init().publish();
    }
    auto sample = sub->take();
    if (!sample) return state.SkipWithError("no sample");
    benchmark::DoNotOptimize(sample->value().bytes[0]);
  }
}

void iceoryx_publish_take(benchmark::State& state) {
  iox::popo::UntypedPublisher pub({"bench", "pt", "iceoryx"});
  iox::popo::UntypedSubscriber sub({"bench", "pt", "iceoryx"});
  for (int i = 0; i < 5000 && !pub.hasSubscribers(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto _ : state) {
    pub.loan(64).and_then([&](void* payload) {
      static_cast<char*>(payload)[0] = 1;
      pub.publish(payload);
    });
    sub.take().and_then([&](const void* payload) {
      benchmark::DoNotOptimize(static_cast<const char*>(payload)[0]);
      sub.release(payload);
    });
  }
}

BENCHMARK(iceoryx_publish_take);
BENCHMARK(statebus_publish_take);
BENCHMARK(loan_publish_take<Msg64, true>)->Name("loan/64B/value_initialised");
BENCHMARK(loan_publish_take<Msg64, false>)->Name("loan/64B/uninit");
BENCHMARK(loan_publish_take<Msg4M, true>)->Name("loan/4MiB/value_initialised");
BENCHMARK(loan_publish_take<Msg4M, false>)->Name("loan/4MiB/uninit");

}  // namespace

int main(int argc, char** argv) {
  if (!statebus::bench::start_bus("publish_take_bench")) return 1;
  auto node = statebus::Node::connect("bench-publish-take");
  if (!node) return 1;
  g_node = std::move(*node);
  return statebus::bench::run_benchmarks(argc, argv);
}
