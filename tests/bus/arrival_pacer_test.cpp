// The pacer of Spin::adaptive(): what it learns from publish times, and
// when it tells a wait to sleep and to spin.
#include "arrival_pacer.hpp"  // bus/src

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace {

using statebus::detail::ArrivalPacer;
using namespace std::chrono_literals;

constexpr std::int64_t kStart = 1'000'000'000;  // any CLOCK_MONOTONIC reading

std::int64_t feed(ArrivalPacer& pacer, int samples, std::int64_t period_ns, std::int64_t from = kStart) {
  std::int64_t t = from;
  for (int i = 0; i < samples; ++i) {
    pacer.published(t);
    t += period_ns;
  }
  return t - period_ns;  // the last one
}

TEST(ArrivalPacer, TrustsAPeriodOnlyAfterItHeldForSeveralIntervals) {
  ArrivalPacer pacer;
  EXPECT_FALSE(pacer.due());
  feed(pacer, ArrivalPacer::kSettle, 100'000);  // kSettle - 1 intervals
  EXPECT_FALSE(pacer.period());
  pacer.published(kStart + ArrivalPacer::kSettle * 100'000);
  ASSERT_TRUE(pacer.period());
  EXPECT_EQ(*pacer.period(), 100us);
}

TEST(ArrivalPacer, TheNextSampleIsDueOnePeriodAfterTheLast) {
  ArrivalPacer pacer;
  const std::int64_t last = feed(pacer, 10, 100'000);
  ASSERT_TRUE(pacer.due());
  EXPECT_EQ(pacer.due()->time_since_epoch(), std::chrono::nanoseconds(last + 100'000));
}

TEST(ArrivalPacer, FollowsJitterAroundTheSamePeriod) {
  ArrivalPacer pacer;
  std::int64_t t = kStart;
  for (int i = 0; i < 100; ++i) {
    pacer.published(t);
    t += i % 2 == 0 ? 90'000 : 110'000;  // ±10 %
  }
  ASSERT_TRUE(pacer.period());
  EXPECT_NEAR(static_cast<double>(pacer.period()->count()), 100'000.0, 10'000.0);
}

TEST(ArrivalPacer, APauseOrANewRateStartsTheLearningAgain) {
  ArrivalPacer pacer;
  const std::int64_t last = feed(pacer, 10, 100'000);
  pacer.published(last + 5'000'000);  // a pause of 5 ms
  EXPECT_FALSE(pacer.due());
  const std::int64_t again = feed(pacer, ArrivalPacer::kSettle + 1, 250'000, last + 5'250'000);
  ASSERT_TRUE(pacer.period());
  EXPECT_EQ(*pacer.period(), 250us);
  EXPECT_EQ(pacer.due()->time_since_epoch(), std::chrono::nanoseconds(again + 250'000));
}

TEST(ArrivalPacer, SlowStreamsAreLeftToPlainBlocking) {
  ArrivalPacer pacer;
  feed(pacer, 10, 2 * std::chrono::nanoseconds(ArrivalPacer::kMaxPeriod).count());
  EXPECT_FALSE(pacer.due());
}

TEST(ArrivalPacer, TheSpinStartsEarlierByTheLatenessOfTheWakeUps) {
  ArrivalPacer pacer;
  feed(pacer, 10, 100'000);
  const auto due = *pacer.due();
  EXPECT_EQ(pacer.spin_from(due), due - ArrivalPacer::kMargin);
  for (int i = 0; i < 50; ++i) pacer.woke_late(30us);
  const auto guard_us = [&] { return std::chrono::duration<double, std::micro>(due - pacer.spin_from(due)).count(); };
  const double margin_us = std::chrono::duration<double, std::micro>(ArrivalPacer::kMargin).count();
  EXPECT_NEAR(guard_us(), 30.0 + margin_us, 0.5);
  // Falls slowly: one punctual wake-up does not undo it.
  pacer.woke_late(0us);
  EXPECT_GT(due - pacer.spin_from(due), 25us);
  for (int i = 0; i < 200; ++i) pacer.woke_late(2us);
  EXPECT_LT(due - pacer.spin_from(due), 2us + ArrivalPacer::kMargin + 1us);
  // Rises faster than it falls.
  pacer.woke_late(42us);
  EXPECT_GT(pacer.guard(), 2us + 10us + ArrivalPacer::kMargin);
  // A thread that was preempted is not a late timer.
  for (int i = 0; i < 100; ++i) pacer.woke_late(5ms);
  EXPECT_LE(pacer.guard(), ArrivalPacer::kMaxLate + ArrivalPacer::kMargin);
}

TEST(ArrivalPacer, ASampleThatBeatsTheWakeUpMovesTheSpinEarlier) {
  ArrivalPacer pacer;
  feed(pacer, 10, 100'000);
  for (int i = 0; i < 50; ++i) pacer.woke_late(40us);
  const auto before = pacer.guard();
  pacer.overslept();
  EXPECT_GT(pacer.guard(), before);
  for (int i = 0; i < 1000; ++i) pacer.overslept();
  EXPECT_LE(pacer.guard(), ArrivalPacer::kMaxLate + ArrivalPacer::kMargin);
}

TEST(ArrivalPacer, TheSpinEndsAfterTheDueTimeWithATail) {
  ArrivalPacer pacer;
  feed(pacer, 10, 100'000);
  const auto due = *pacer.due();
  EXPECT_EQ(pacer.spin_until(due), due + ArrivalPacer::kMinTail);
  ArrivalPacer slow;
  feed(slow, 10, 1'000'000);
  EXPECT_EQ(slow.spin_until(*slow.due()), *slow.due() + 125us);  // an eighth of the period
}

TEST(ArrivalPacer, OutOfOrderTimesFromTwoPublishersDoNotGoBackwards) {
  ArrivalPacer pacer;
  const std::int64_t last = feed(pacer, 10, 100'000);
  pacer.published(last - 50'000);  // another publisher's older sample
  EXPECT_EQ(pacer.due()->time_since_epoch(), std::chrono::nanoseconds(last + 100'000));
}

}  // namespace
