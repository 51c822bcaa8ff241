// Cost of reading the virtual clock against std::chrono::steady_clock, in
// the same run (real, scaled and stepped mode), and how fast a sleeper wakes
// when a driver steps time past its deadline.
//
//   build/release/bench/clock_bench
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include "bench_bus.hpp"
#include "percentiles.hpp"

#include "statebus/clock/virtual_clock.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/testing/child_process.hpp"

namespace {

void steady_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}

void virtual_clock_now(benchmark::State& state, int mode) {
  if (mode == 1 && !statebus::VirtualClock::set_real()) state.SkipWithError("no clock");
  if (mode == 2 && !statebus::VirtualClock::set_rate(86400.0)) state.SkipWithError("no clock");
  if (mode == 3 && !statebus::VirtualClock::set_stepped()) state.SkipWithError("no clock");
  for (auto _ : state) benchmark::DoNotOptimize(statebus::VirtualClock::now());
}

// A sleeper waiting for a stepped deadline: real time from advance() to the
// sleeper running again (a futex wake across threads of one process).
void stepped_wake_up(benchmark::State& state) {
  if (!statebus::VirtualClock::set_stepped()) {
    state.SkipWithError("no clock");
    return;
  }
  std::vector<double> us;
  for (auto _ : state) {
    const auto deadline = statebus::VirtualClock::now() + std::chrono::seconds(1);
    std::atomic<bool> sleeping{false};
    std::chrono::steady_clock::time_point woke;
    std::thread sleeper([&] {
      sleeping = true;
      statebus::VirtualClock::sleep_until(deadline);
      woke = std::chrono::steady_clock::now();
    });
    while (!sleeping) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // let it reach the futex
    const auto stepped = std::chrono::steady_clock::now();
    (void)statebus::VirtualClock::advance(std::chrono::seconds(1));
    sleeper.join();
    const std::chrono::duration<double> latency = woke - stepped;
    state.SetIterationTime(latency.count());
    us.push_back(latency.count() * 1e6);
  }
  statebus::bench::report_percentiles(state, us, "wake_us_");
}

// The same across processes: a sleeper process (this binary with --sleeper)
// waits for each deadline it reads on stdin and prints the CLOCK_MONOTONIC
// time it woke at; this process steps the clock past the deadline.
statebus::testkit::ChildProcess* g_sleeper = nullptr;

void stepped_wake_up_other_process(benchmark::State& state) {
  if (g_sleeper == nullptr || !statebus::VirtualClock::set_stepped()) {
    state.SkipWithError("no sleeper process or no clock");
    return;
  }
  std::vector<double> us;
  for (auto _ : state) {
    const auto deadline = statebus::VirtualClock::now() + std::chrono::seconds(1);
    g_sleeper->write(std::to_string(deadline.time_since_epoch().count()) + "\n");
    if (g_sleeper->read_line(std::chrono::seconds(10)) != "sleeping") {
      state.SkipWithError("the sleeper did not answer");
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // let it reach the futex
    const auto stepped = std::chrono::steady_clock::now();
    (void)statebus::VirtualClock::advance(std::chrono::seconds(1));
    const auto woke = g_sleeper->read_line(std::chrono::seconds(10));
    if (!woke) {
      state.SkipWithError("the sleeper did not wake");
      return;
    }
    const double latency = (std::stod(*woke) - static_cast<double>(stepped.time_since_epoch().count())) / 1e9;
    state.SetIterationTime(latency);
    us.push_back(latency * 1e6);
  }
  statebus::bench::report_percentiles(state, us, "wake_us_");
}

int sleeper() {
  if (!statebus::VirtualClock::attach()) return 1;
  long long deadline_ns = 0;
  while (std::scanf("%lld", &deadline_ns) == 1) {
    std::printf("sleeping\n");
    std::fflush(stdout);
    statebus::VirtualClock::sleep_until(
        statebus::VirtualClock::time_point(statebus::VirtualClock::duration(deadline_ns)));
    std::printf("%lld\n", static_cast<long long>(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::fflush(stdout);
  }
  return 0;
}

BENCHMARK(steady_clock_now);
BENCHMARK(stepped_wake_up_other_process)->UseManualTime()->Iterations(500)->Unit(benchmark::kMicrosecond);
BENCHMARK(stepped_wake_up)->UseManualTime()->Iterations(500)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(virtual_clock_now, real, 1);
BENCHMARK_CAPTURE(virtual_clock_now, scaled, 2);
BENCHMARK_CAPTURE(virtual_clock_now, stepped, 3);

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--sleeper") return sleeper();
  // It steps and scales the clock: never on a live bus.
  if (!statebus::bench::start_bus("clock_bench", statebus::bench::LiveDaemon::refuse)) return 1;
  auto sleeper_process = statebus::testkit::ChildProcess::spawn({"/proc/self/exe", "--sleeper"});
  if (sleeper_process) g_sleeper = &*sleeper_process;
  return statebus::bench::run_benchmarks(argc, argv);
}
