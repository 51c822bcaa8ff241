// What recording and logging cost.
//
//   build/release/bench/recorder_bench
//
// recorder/*: 64-byte samples from a publisher through a lossless
//   subscription, per second, into: a plain subscriber thread that only takes
//   them (the baseline), the recorder keeping them in memory, the recorder
//   writing MCAP. Counter `lost` must be 0: the recorder's guarantee.
// log/*: one spdlog call, timed one by one, through the bus sink, spdlog's
//   own async logger (null sink) and spdlog's synchronous null sink (the
//   floor: formatting alone), interleaved in one loop so all see the same
//   machine; p50/p99/p99.9 in ns, `p50_ratio` and `p999_ratio` = bus /
//   async, `p50_vs_sync` = bus / sync; `recorded` of `written` records.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"
#include <spdlog/async.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "bench_bus.hpp"
#include "percentiles.hpp"
#include "statebus/bus.hpp"
#include "statebus/internal/log_ring.hpp"
#include "statebus/recorder/recorder.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Sample64 {
  std::uint64_t index;
  double values[7];
};
STATEBUS_MESSAGE(Sample64, "bench/Sample64", index, values);
static_assert(sizeof(Sample64) == 64);

std::optional<statebus::Node> g_node;
constexpr std::uint64_t kBatch = 20000;

enum class Sink { plain_subscriber, recorder_memory, recorder_mcap };

void recorder_throughput(benchmark::State& state, Sink sink) {
  static int run = 0;
  const std::string channel = "bench/rec/" + std::to_string(++run);
  const std::string path = "/tmp/statebus-recorder-bench.mcap";
  std::atomic<std::uint64_t> taken{0};
  std::atomic<bool> stop{false};
  std::optional<statebus::Subscriber<Sample64>> plain;
  std::thread drainer;
  std::optional<statebus::Recorder> recorder;
  if (sink == Sink::plain_subscriber) {
    auto sub = statebus::Subscriber<Sample64>::create(*g_node, channel, statebus::SubscriberOptions{256, 0, true});
    if (!sub) return state.SkipWithError(sub.error().message().c_str());
    plain.emplace(std::move(*sub));
    drainer = std::thread([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (plain->wait(10ms)) {
          while (auto s = plain->take()) taken.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  } else {
    statebus::RecorderOptions options;
    options.patterns = {channel};
    options.keep_in_memory = sink == Sink::recorder_memory;
    if (sink == Sink::recorder_mcap) options.mcap_path = path;
    auto started = statebus::Recorder::start(*g_node, options);
    if (!started) return state.SkipWithError(started.error().message().c_str());
    recorder.emplace(std::move(*started));
  }
  auto pub = statebus::Publisher<Sample64>::create(*g_node, channel);
  if (!pub || !pub->wait_for_subscribers(10s)) return state.SkipWithError("no connection");
  auto received = [&] { return recorder ? recorder->count(channel) : taken.load(std::memory_order_relaxed); };

  std::uint64_t sent = 0;
  Sample64 value{};
  for (auto _ : state) {
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < kBatch; ++i) {
      value.index = ++sent;
      value.values[0] = static_cast<double>(sent) * 0.5;
      if (!pub->publish(value)) return state.SkipWithError("pools exhausted");
    }
    if (recorder) {
      if (!recorder->wait_for_count(channel, sent, statebus::virtual_timeout(60s))) {
        return state.SkipWithError("the recorder did not capture the batch within 60 s");
      }
    } else {
      while (received() < sent) std::this_thread::yield();
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(sent));
  std::uint64_t lost = sent - received();
  if (recorder) {
    auto summary = recorder->stop();
    if (!summary) return state.SkipWithError(summary.error().message().c_str());
    for (const auto& c : summary->channels) lost += c.gaps;
    state.counters["file_MiB"] = static_cast<double>(summary->mcap_bytes) / (1024.0 * 1024.0);
  } else {
    stop = true;
    drainer.join();
  }
  state.counters["lost"] = static_cast<double>(lost);
  std::remove(path.c_str());
}

// One spdlog call at a time through the bus sink, spdlog's async logger
// (null sink) and spdlog's synchronous null sink (the floor: formatting
// alone), interleaved; `between` runs untimed every 128 calls.
template <class Between>
void time_log_calls(benchmark::State& state, const std::shared_ptr<statebus::BusLogSink>& sink, Between between) {
  auto bus_logger = std::make_shared<spdlog::logger>("bus", sink);
  spdlog::init_thread_pool(8192, 1);
  auto async_logger = std::make_shared<spdlog::async_logger>("async", std::make_shared<spdlog::sinks::null_sink_mt>(),
                                                             spdlog::thread_pool(), spdlog::async_overflow_policy::block);
  auto sync_logger = std::make_shared<spdlog::logger>("sync", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::vector<double> bus_ns;
  std::vector<double> async_ns;
  std::vector<double> sync_ns;
  bus_ns.reserve(1 << 20);
  async_ns.reserve(1 << 20);
  sync_ns.reserve(1 << 20);
  std::uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    auto t0 = Clock::now();
    bus_logger->info("heater {} at {:.2f} °C in {}", i % 2 == 0 ? "on" : "off", 20.5, "living");
    auto t1 = Clock::now();
    async_logger->info("heater {} at {:.2f} °C in {}", i % 2 == 0 ? "on" : "off", 20.5, "living");
    auto t2 = Clock::now();
    sync_logger->info("heater {} at {:.2f} °C in {}", i % 2 == 0 ? "on" : "off", 20.5, "living");
    auto t3 = Clock::now();
    bus_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    async_ns.push_back(std::chrono::duration<double, std::nano>(t2 - t1).count());
    sync_ns.push_back(std::chrono::duration<double, std::nano>(t3 - t2).count());
    if (i % 128 == 0) {
      state.PauseTiming();
      between();
      state.ResumeTiming();
    }
  }
  statebus::bench::report_percentiles(state, bus_ns, "bus_");
  statebus::bench::report_percentiles(state, async_ns, "async_");
  statebus::bench::report_percentiles(state, sync_ns, "sync_");
  using statebus::bench::percentile;
  state.counters["p50_ratio"] = percentile(bus_ns, 0.5) / percentile(async_ns, 0.5);
  state.counters["p999_ratio"] = percentile(bus_ns, 0.999) / percentile(async_ns, 0.999);
  state.counters["p50_vs_sync"] = percentile(bus_ns, 0.5) / percentile(sync_ns, 0.5);
  state.counters["bus_dropped"] = static_cast<double>(sink->dropped());
  async_logger->flush();
  spdlog::shutdown();
}

void log_call_bus_sink_vs_spdlog_async(benchmark::State& state) {
  // The bus sink, read by a recorder as in a test or `statebus log`.
  statebus::RecorderOptions options;
  options.patterns = {std::string(statebus::kLogChannel)};
  options.keep_in_memory = false;
  auto recorder = statebus::Recorder::start(*g_node, options);
  auto sink = statebus::BusLogSink::create(*g_node, "bench");
  if (!recorder || !sink) return state.SkipWithError("no log");
  time_log_calls(state, *sink, [] {});
  // What the recorder read of them: a ring overwritten faster than its
  // reader looks shows as a gap, never as a wait of the caller.
  (void)recorder->wait_for_count(statebus::kLogChannel, (*sink)->published(), statebus::virtual_timeout(10s));
  auto summary = recorder->stop();
  if (!summary) return state.SkipWithError(summary.error().message().c_str());
  state.counters["recorded"] = static_cast<double>(summary->samples);
  state.counters["written"] = static_cast<double>((*sink)->published());
}

// The same calls with a reader that never sleeps: this thread reads the
// rings between calls (untimed). The bus sink then pays no wake-up: what
// is left is copying the record into shared memory.
void log_call_reader_polled_vs_spdlog_async(benchmark::State& state) {
  auto reader = statebus::detail::LogReader::open();
  auto sink = statebus::BusLogSink::create(*g_node, "bench");
  if (!reader || !sink) return state.SkipWithError("no log");
  std::uint64_t read = 0;
  const auto drain = [&] { read += reader->drain([](const statebus::SampleHeader&, std::string_view) {}); };
  time_log_calls(state, *sink, drain);
  drain();
  state.counters["read"] = static_cast<double>(read);
}

BENCHMARK_CAPTURE(recorder_throughput, plain_subscriber_64B, Sink::plain_subscriber)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(recorder_throughput, recorder_memory_64B, Sink::recorder_memory)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(recorder_throughput, recorder_mcap_64B, Sink::recorder_mcap)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(log_call_bus_sink_vs_spdlog_async)->Iterations(200000);
BENCHMARK(log_call_reader_polled_vs_spdlog_async)->Iterations(200000);

}  // namespace

int main(int argc, char** argv) {
  // A lossless recorder makes publishers wait: never on a live bus.
  if (!statebus::bench::start_bus("recorder_bench", statebus::bench::LiveDaemon::refuse)) return 1;
  auto node = statebus::Node::connect("bench-recorder");
  if (!node) return 1;
  g_node = std::move(*node);
  return statebus::bench::run_benchmarks(argc, argv);
}
