// Start-to-ready time and shared-memory footprint of the embedded daemon,
// statebus's compact pools against iceoryx's stock configuration, same run.
//
//   build/release/bench/daemon_bench
//
// Runs in a private mount namespace, so it never touches a live bus.
#include <cstdio>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include "percentiles.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/testing/private_bus.hpp"

namespace {

void daemon_start(benchmark::State& state, statebus::MemoryConfig memory) {
  statebus::DaemonOptions options;
  options.memory = std::move(memory);
  std::vector<double> startup_ms;
  double shm_mb = 0;
  for (auto _ : state) {
    auto daemon = statebus::Daemon::start(options);
    if (!daemon) {
      state.SkipWithError(daemon.error().message().c_str());
      return;
    }
    const double ms = static_cast<double>(daemon->startup_time().count()) / 1e6;
    state.SetIterationTime(ms / 1e3);
    startup_ms.push_back(ms);
    shm_mb = static_cast<double>(daemon->shared_memory_bytes()) / 1e6;
    daemon->stop();
  }
  statebus::bench::report_percentiles(state, startup_ms, "start_ms_");
  state.counters["shm_MB"] = shm_mb;
  state.counters["max_payload_B"] = options.memory.max_payload();
}

BENCHMARK_CAPTURE(daemon_start, compact, statebus::MemoryConfig::compact())
    ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK_CAPTURE(daemon_start, iceoryx_stock, statebus::MemoryConfig::stock())
    ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace

int main(int argc, char** argv) {
  // Before any thread: a private /tmp and /dev/shm for the daemons we start.
  const auto isolation = statebus::testkit::isolate_bus();
  if (!isolation) {
    std::fprintf(stderr, "daemon_bench: %s\n", isolation.error().message().c_str());
    return 1;
  }
  if (*isolation == statebus::testkit::Isolation::shared_machine && statebus::find_daemon()) {
    std::fprintf(stderr, "daemon_bench: namespaces are not permitted here and a statebus daemon is running; "
                         "stop it to run this benchmark\n");
    return 1;
  }
  return statebus::bench::run_benchmarks(argc, argv);
}
