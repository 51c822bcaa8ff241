// The wedge verdict counts only time the daemon saw pass: a daemon paused
// (SIGSTOP) or starved is not wedged when it resumes.
#include "stall_meter.hpp"  // daemon/src

#include <gtest/gtest.h>

namespace statebus::detail {
namespace {

using namespace std::chrono_literals;
using Clock = StallMeter::Clock;

TEST(StallMeter, CountsTimeWithoutARoundInTheJanitorsSmallSteps) {
  Clock::time_point t{};
  StallMeter meter(t);
  meter.tick(t += 10ms, 7, 0);
  for (int tick = 1; tick <= 300; ++tick) meter.tick(t += 10ms, /*rounds=*/7, /*request=*/0);
  EXPECT_EQ(meter.stalled(), 3000ms);  // stuck: 3 s of ticks without a round
  meter.tick(t += 10ms, 8, 0);
  EXPECT_EQ(meter.stalled(), 0ms);  // a round: progress
}

TEST(StallMeter, APauseOfTheWholeProcessCountsOnlyOneStep) {
  Clock::time_point t{};
  StallMeter meter(t);
  meter.tick(t += 10ms, 7, 0);
  meter.tick(t += 30s, 7, 0);  // SIGSTOP for 30 s, then SIGCONT: the janitor runs before RouDi's next round
  EXPECT_EQ(meter.stalled(), StallMeter::kCountedGap);
  meter.tick(t += 10ms, 8, 0);
  EXPECT_EQ(meter.stalled(), 0ms);
}

TEST(StallMeter, ARequestStuckLongerThanTheRoundsCounts) {
  Clock::time_point t{};
  StallMeter meter(t);
  std::uint64_t rounds = 0;
  meter.tick(t += 10ms, rounds, 42);
  for (int tick = 1; tick <= 100; ++tick) meter.tick(t += 10ms, rounds += (tick % 10 == 0), /*request=*/42);
  EXPECT_EQ(meter.stalled(), 1000ms);  // request 42 unanswered for 1 s while rounds went on
  meter.tick(t += 10ms, rounds, 43);
  EXPECT_EQ(meter.stalled(), 10ms);  // the next request: RouDi answered 42; one step since a round
}

}  // namespace
}  // namespace statebus::detail
