// A randomized, reproducible stress of the clock and the state cells across
// several processes: random mode changes, rates and steps, lockstep with
// event loops joining and leaving, stores, waits, and SIGKILLs at random
// moments. The invariants are checked after every step, here and in every
// worker (stress_worker.hpp): time never goes back, one clock writer at a
// time, no wait ends before its deadline unless the cell changed, no value
// torn or mislabelled, no process stuck. A failing seed is printed:
//   STATEBUS_STRESS_SEED=S STATEBUS_STRESS_STEPS=N build/release/tests/clock_state_stress_test
// (the test command runs 300 steps; scripts/soak.sh runs 20 000).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "change_hook.hpp"
#include "env_count.hpp"  // clock/src: a hook inside every change of the clock
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;


std::atomic<int>* g_counters = nullptr;  // shared with the workers: [0] writers inside, [1] overlaps

class ClockStateStress : public testkit::BusTest {};

TEST_F(ClockStateStress, RandomChangesStoresWaitsLoopsAndKillsKeepEveryInvariant) {
  const unsigned seed = static_cast<unsigned>(test::env_count("STATEBUS_STRESS_SEED", std::random_device{}()));
  const unsigned long steps = test::env_count("STATEBUS_STRESS_STEPS", 300);
  std::printf("stress seed %u, %lu steps (replay: STATEBUS_STRESS_SEED=%u STATEBUS_STRESS_STEPS=%lu)\n", seed, steps,
              seed, steps);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };

  const std::string counters = ::testing::TempDir() + "stress-counters-" + std::to_string(::getpid());
  std::ofstream(counters) << std::string(4096, '\0');
  {
    const int fd = ::open(counters.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    g_counters = static_cast<std::atomic<int>*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ::close(fd);
  }
  detail::set_mid_change_hook([] {
    if (g_counters[0].fetch_add(1) != 0) g_counters[1].fetch_add(1);
    g_counters[0].fetch_sub(1);
  });
  test::Striped first;
  for (auto& word : first.words) word = 1;  // every value is its own version
  auto cell = Cell<test::Striped>::open_or_create("stress/striped", first);
  ASSERT_TRUE(cell) << cell.error().message();
  ASSERT_TRUE(VirtualClock::set_real());

  constexpr int kWorkers = 3;
  int spawned = 0;
  auto spawn = [&]() -> std::optional<ChildProcess> {
    ++spawned;
    auto worker = ChildProcess::spawn({STATEBUS_TEST_CHILD, "stress", "stress-" + std::to_string(spawned),
                                       std::to_string(seed + static_cast<unsigned>(spawned)), counters});
    EXPECT_TRUE(worker);
    if (!worker) return std::nullopt;
    const auto line = worker->read_line(20s);
    EXPECT_EQ(line, "ready") << worker->describe();
    if (line != "ready") return std::nullopt;
    return std::move(*worker);
  };
  std::vector<ChildProcess> workers;
  for (int i = 0; i < kWorkers; ++i) {
    auto worker = spawn();
    ASSERT_TRUE(worker);
    workers.push_back(std::move(*worker));
  }
  // Drains what a worker said; fails on a violation or an end nobody caused.
  auto look_at = [&](ChildProcess& worker) {
    while (auto line = worker.read_line(0ms)) {
      ASSERT_EQ(line->rfind("VIOLATION", 0), std::string::npos) << *line << "\n" << worker.describe();
    }
    ASSERT_FALSE(worker.wait(0ms)) << "a worker ended by itself: " << worker.describe();
  };

  auto last = VirtualClock::now();
  int kills = 0;
  int changes = 0;
  for (unsigned long step = 0; step < steps; ++step) {
    switch (pick(12)) {
      case 0: {
        static constexpr double kRates[] = {0.0, 0.5, 1.0, 10.0, 100.0, 1000.0};
        ASSERT_TRUE(VirtualClock::set_rate(kRates[pick(6)]));
        break;
      }
      case 1: ASSERT_TRUE(VirtualClock::set_stepped()); break;
      case 2:
        if (VirtualClock::status().mode == ClockMode::stepped) {
          ASSERT_TRUE(VirtualClock::advance(std::chrono::microseconds(pick(5000))));
        }
        break;
      case 3: ASSERT_TRUE(VirtualClock::set_real()); break;
      case 4: {  // a stop mark that a running clock may pass before the change: refused, saying so
        const auto locked = VirtualClock::set_lockstep(VirtualClock::now() + std::chrono::microseconds(pick(50000)));
        ASSERT_TRUE(locked || locked.error().message().find("in the past") != std::string::npos)
            << locked.error().message();
        break;
      }
      case 5: ASSERT_TRUE(VirtualClock::resume()); break;
      case 6: {  // a SIGKILL at a random moment of a random worker
        ChildProcess& victim = workers[static_cast<std::size_t>(pick(kWorkers))];
        look_at(victim);
        if (HasFatalFailure()) return;
        ASSERT_TRUE(victim.signal(SIGKILL));
        ASSERT_TRUE(victim.wait(10s));
        ++kills;
        auto fresh = spawn();
        ASSERT_TRUE(fresh);
        victim = std::move(*fresh);
        break;
      }
      default: {  // let the workers run a while: wait for a line from one
        ChildProcess& worker = workers[static_cast<std::size_t>(pick(kWorkers))];
        if (auto line = worker.read_line(std::chrono::milliseconds(1 + pick(20)))) {
          ASSERT_EQ(line->rfind("VIOLATION", 0), std::string::npos) << *line << "\n" << worker.describe();
        }
        break;
      }
    }
    ++changes;
    // The invariants, after every step.
    const auto now = VirtualClock::now();
    ASSERT_GE(now, last) << "time went back at step " << step;
    last = now;
    // (now() returned: a change a killed writer left pending was finished by
    // this read; a live worker may be inside a new one already.)
    const auto [value, version] = cell->load_versioned();
    ASSERT_TRUE(test::consistent(value)) << "a torn value at step " << step;
    ASSERT_EQ(value.words[0], version) << "a mislabelled value at step " << step;
    ASSERT_EQ(g_counters[1].load(), 0) << "two clock writers at once, by step " << step;
    for (ChildProcess& worker : workers) {
      look_at(worker);
      if (HasFatalFailure()) return;
    }
  }
  // Nobody stuck: on real time, every worker goes on.
  ASSERT_TRUE(VirtualClock::set_real());
  for (ChildProcess& worker : workers) {
    const auto line = worker.read_line(20s);
    ASSERT_TRUE(line) << "a worker is stuck: " << worker.describe();
    ASSERT_EQ(line->rfind("VIOLATION", 0), std::string::npos) << *line;
  }
  EXPECT_EQ(g_counters[1].load(), 0) << "two clock writers at once";
  std::printf("stress seed %u: %lu steps, %d SIGKILLs, %llu stores, all invariants held\n", seed, steps, kills,
              static_cast<unsigned long long>(cell->version()));
  for (ChildProcess& worker : workers) {
    worker.signal(SIGKILL);
    worker.wait(10s);
  }
  detail::set_mid_change_hook(nullptr);
  std::remove(counters.c_str());
}

}  // namespace
}  // namespace statebus
