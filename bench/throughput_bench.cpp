// Messages per second from one publisher to one and to several subscribers,
// lossless (the publisher waits for the slowest) and lossy (counted losses),
// 64 B to 1 MiB. Subscribers are threads of this process, each draining its
// queue as fast as it can.
//
//   build/release/bench/throughput_bench
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include "bench_bus.hpp"
#include "statebus/bus.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::optional<statebus::Node> g_node;
int g_run = 0;

void throughput(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto subscribers = static_cast<int>(state.range(1));
  const bool lossless = state.range(2) != 0;
  const std::string channel = "bench/tp/" + std::to_string(++g_run);
  auto pub = statebus::UntypedPublisher::create(*g_node, channel);
  if (!pub) return state.SkipWithError(pub.error().message().c_str());
  std::vector<std::unique_ptr<statebus::UntypedSubscriber>> subs;
  for (int i = 0; i < subscribers; ++i) {
    auto sub = statebus::UntypedSubscriber::create(*g_node, channel, statebus::SubscriberOptions{256, 0, lossless});
    if (!sub) return state.SkipWithError(sub.error().message().c_str());
    subs.push_back(std::make_unique<statebus::UntypedSubscriber>(std::move(*sub)));
  }
  for (auto& s : subs) {
    if (!s->wait_connected(10s)) return state.SkipWithError("no connection");
  }
  std::atomic<bool> stop{false};
  std::vector<std::atomic<std::uint64_t>> received(static_cast<std::size_t>(subscribers));
  std::vector<std::atomic<std::uint64_t>> newest(static_cast<std::size_t>(subscribers));  // sequence seen last
  std::vector<std::thread> readers;
  for (int i = 0; i < subscribers; ++i) {
    readers.emplace_back([&, i] {
      auto& s = *subs[static_cast<std::size_t>(i)];
      while (!stop.load(std::memory_order_relaxed)) {
        if (!s.wait(10ms)) continue;
        while (auto sample = s.take()) {
          received[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
          newest[static_cast<std::size_t>(i)].store(sample->header().sequence, std::memory_order_release);
        }
      }
    });
  }
  const std::uint64_t batch = size >= (1 << 20) ? 200 : 20000;
  std::uint64_t sent = 0;
  std::uint64_t failed_loans = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < batch; ++i) {
      auto loan = pub->loan(size);
      while (!loan) {  // every chunk in use by queues: the readers free them
        ++failed_loans;
        std::this_thread::yield();
        loan = pub->loan(size);
      }
      std::memset(loan->data(), 1, std::min<std::size_t>(size, 64));
      std::move(*loan).publish();
      ++sent;
    }
    // Until every subscriber has taken the last sample (the newest is never
    // the one a full queue drops).
    for (int i = 0; i < subscribers; ++i) {
      while (newest[static_cast<std::size_t>(i)].load(std::memory_order_acquire) < sent) std::this_thread::yield();
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  stop = true;
  for (auto& t : readers) t.join();
  std::uint64_t lost = 0;
  for (auto& s : subs) lost += s->lost();
  state.SetItemsProcessed(static_cast<std::int64_t>(sent));
  state.SetBytesProcessed(static_cast<std::int64_t>(sent * size));
  state.counters["lost"] = static_cast<double>(lost);
  state.counters["lost_pct"] = sent == 0 ? 0.0 : 100.0 * static_cast<double>(lost) / static_cast<double>(sent * static_cast<std::uint64_t>(subscribers));
  state.counters["subscribers"] = subscribers;
}

}  // namespace

int main(int argc, char** argv) {
  if (!statebus::bench::start_bus("throughput_bench")) return 1;
  auto node = statebus::Node::connect("bench-throughput");
  if (!node) return 1;
  g_node = std::move(*node);
  for (const long lossless : {1L, 0L}) {
    for (const long subscribers : {1L, 4L}) {
      for (const long size : {64L, 4096L, 65536L, 1L << 20}) {
        const std::string name = std::string("throughput/") + (lossless ? "lossless/" : "lossy/") +
                                 std::to_string(subscribers) + "sub/" + std::to_string(size) + "B";
        benchmark::RegisterBenchmark(name.c_str(), throughput)
            ->Args({size, subscribers, lossless})
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  return statebus::bench::run_benchmarks(argc, argv);
}
