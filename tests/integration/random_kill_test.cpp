// SIGKILL at random moments, many times over: of a publishing process, of a
// subscribing one (while it takes, holds, releases, subscribes or
// unsubscribes) and of one still connecting. The daemon repairs what each
// left behind in place: it never wedges or restarts, no other process
// notices, and the pools are back at their baseline at the end.
// Kills per test: STATEBUS_RANDOM_KILLS (default 30; scripts/soak.sh runs 1000).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "env_count.hpp"
#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

int kills_to_make() { return static_cast<int>(test::env_count("STATEBUS_RANDOM_KILLS", 30)); }

class RandomKills : public testkit::BusTest {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    baseline_ = chunks_in_use();
    repairs_before_ = daemon_->repairs();
    std::printf("seed %u\n", seed_);
  }

  std::uint64_t chunks_in_use() const {
    std::uint64_t used = 0;
    for (const PoolUsage& pool : daemon_->pool_usage()) used += pool.used;
    return used;
  }

  static std::optional<ChildProcess> spawn_ready(std::vector<std::string> argv) {
    auto child = ChildProcess::spawn(std::move(argv));
    EXPECT_TRUE(child) << child.error().message();
    if (!child) return std::nullopt;
    const auto line = child->read_line(20s);
    EXPECT_EQ(line, "ready") << child->describe();
    if (line != "ready") return std::nullopt;
    return std::move(*child);
  }

  // Kills `victim` after it printed a random number of lines (each within
  // 15 s: never a hang) and a random part of a millisecond more.
  void kill_at_random(ChildProcess& victim, int kill) {
    for (int line = lines_(random_); line > 0; --line) {
      ASSERT_TRUE(victim.read_line(15s)) << "victim " << kill << " hangs or ended (seed " << seed_
                                         << "): " << victim.describe();
    }
    spin_for(std::chrono::microseconds(micros_(random_)));
    ASSERT_TRUE(victim.signal(SIGKILL));
    ASSERT_TRUE(victim.wait(10s));
    ASSERT_TRUE(daemon_->health()) << daemon_->health().error().message();
  }

  static void spin_for(std::chrono::microseconds time) {
    const auto until = std::chrono::steady_clock::now() + time;
    while (std::chrono::steady_clock::now() < until) {
    }
  }

  // Once the victims and `survivors` are gone: the bus serves a newcomer,
  // the pools return to their baseline, and the repairs are reported.
  void check_and_report(const char* what, int kills, std::vector<ChildProcess*> survivors) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    for (ChildProcess* survivor : survivors) {
      EXPECT_FALSE(survivor->wait(0ms)) << "a process that was not killed ended: " << survivor->describe();
    }
    auto newcomer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "newcomer", "5000"});
    ASSERT_TRUE(newcomer);
    EXPECT_EQ(newcomer->read_line(20s), "ok") << "the bus does not serve a new process after the kills: "
                                              << newcomer->describe();
    EXPECT_TRUE(newcomer->wait(10s));
    for (ChildProcess* survivor : survivors) {
      survivor->signal(SIGKILL);
      survivor->wait(10s);
    }
    // RouDi drops a dead process 1.5 s after its death; a chunk it carried
    // unseen comes back 0.5 s after nothing refers to it any more.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (chunks_in_use() != baseline_ && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(daemon_->wait_for_round(2s)) << "the daemon stopped its rounds";
    }
    EXPECT_EQ(chunks_in_use(), baseline_) << "chunks in use after the kills, against before them";
    EXPECT_TRUE(daemon_->health());

    const DaemonRepairs repairs = daemon_->repairs();
    const std::uint64_t released = repairs.locks_released - repairs_before_.locks_released;
    const std::uint64_t reclaimed = repairs.chunks_reclaimed - repairs_before_.chunks_reclaimed;
    std::vector<std::chrono::nanoseconds> latency(
        repairs.release_latency.begin() + static_cast<std::ptrdiff_t>(repairs_before_.release_latency.size()),
        repairs.release_latency.end());
    std::sort(latency.begin(), latency.end());
    auto ms = [&](double q) {
      if (latency.empty()) return 0.0;
      const auto at = std::min(latency.size() - 1, static_cast<std::size_t>(q * static_cast<double>(latency.size())));
      return std::chrono::duration<double, std::milli>(latency[at]).count();
    };
    std::printf("%d SIGKILLs of %s in %.1f s (seed %u): 0 daemon restarts, 0 processes ended with status 75; "
                "%llu locks released, death to release p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
                "%llu chunks given back (%.0f per 1000 kills); pools at their baseline\n",
                kills, what, seconds, seed_, static_cast<unsigned long long>(released), ms(0.5), ms(0.99),
                latency.empty() ? 0.0 : std::chrono::duration<double, std::milli>(latency.back()).count(),
                static_cast<unsigned long long>(reclaimed), 1000.0 * static_cast<double>(reclaimed) / kills);
  }

  const unsigned seed_ = std::random_device{}();
  std::mt19937 random_{seed_};
  std::uniform_int_distribution<int> lines_{1, 8};
  std::uniform_int_distribution<int> micros_{0, 999};
  std::uint64_t baseline_ = 0;
  DaemonRepairs repairs_before_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

TEST_F(RandomKills, PublishersKilledAtRandomMomentsNeverStopTheBus) {
  auto sink = spawn_ready({STATEBUS_TEST_CHILD, "loop-until-lost", "sink", "test/flood"});
  ASSERT_TRUE(sink);
  const int kills = kills_to_make();
  for (int i = 0; i < kills; ++i) {
    auto victim = ChildProcess::spawn({STATEBUS_TEST_CHILD, "flood", "victim", "test/flood"});
    ASSERT_TRUE(victim);
    kill_at_random(*victim, i);
    if (HasFatalFailure()) return;
  }
  check_and_report("a publishing process", kills, {&*sink});
  // Kills landed inside publish(): the repairs above were needed, not idle.
  EXPECT_GT(daemon_->repairs().locks_released - repairs_before_.locks_released, 0U)
      << "no kill landed inside publish(): the test proved nothing about repairs";
}

TEST_F(RandomKills, SubscribersKilledAtRandomMomentsNeverStopTheBus) {
  auto flood = spawn_ready({STATEBUS_TEST_CHILD, "flood", "flood", "test/flood"});
  ASSERT_TRUE(flood);
  auto sink = spawn_ready({STATEBUS_TEST_CHILD, "loop-until-lost", "sink", "test/flood"});
  ASSERT_TRUE(sink);
  const int kills = kills_to_make();
  for (int i = 0; i < kills; ++i) {
    auto victim = spawn_ready({STATEBUS_TEST_CHILD, "churn-subscriber", "victim", "test/flood"});
    ASSERT_TRUE(victim);
    kill_at_random(*victim, i);
    if (HasFatalFailure()) return;
  }
  check_and_report("a subscribing process", kills, {&*flood, &*sink});
}

TEST_F(RandomKills, ProcessesKilledWhileConnectingNeverStopTheBus) {
  auto flood = spawn_ready({STATEBUS_TEST_CHILD, "flood", "flood", "test/flood"});
  ASSERT_TRUE(flood);
  std::uniform_int_distribution<int> delay_us(0, 30000);  // a process connects in ~5-30 ms here
  const int kills = kills_to_make();
  int connected = 0;
  for (int i = 0; i < kills; ++i) {
    auto victim = ChildProcess::spawn({STATEBUS_TEST_CHILD, "churn-subscriber", "victim", "test/flood"});
    ASSERT_TRUE(victim);
    spin_for(std::chrono::microseconds(delay_us(random_)));
    ASSERT_TRUE(victim->signal(SIGKILL));
    ASSERT_TRUE(victim->wait(10s));
    if (victim->read_line(0ms) == "ready") ++connected;
    ASSERT_TRUE(daemon_->health()) << daemon_->health().error().message();
  }
  std::printf("%d of %d victims had connected when killed\n", connected, kills);
  check_and_report("a process while it connects", kills, {&*flood});
}

}  // namespace
}  // namespace statebus
