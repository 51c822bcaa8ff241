// A following bus's clock, moved by the sender's readings (bridge/src/clock_sync.cpp),
// on a bus of its own.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "clock_sync.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using ClockFollow = testkit::BusTest;

std::int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A sender's time just ahead of this running clock: by the time the clock
// stands (stepped) to be moved, it has passed that time. That is no
// failure: it stands at or past the sender's time, and runs on at its rate.
TEST_F(ClockFollow, ASenderJustAheadOfARunningClockIsFollowedWithoutAnError) {
  ASSERT_TRUE(VirtualClock::set_rate(1000));
  // From 1 µs to 10 ms ahead (1 ns to 10 µs of real time at rate 1000):
  // some land inside the time the clock takes to stand.
  for (std::int64_t ahead = 1'000; ahead <= 10'000'000; ahead += ahead / 4 + 1) {
    ASSERT_TRUE(VirtualClock::set_rate(1000));
    const std::int64_t now = VirtualClock::now().time_since_epoch().count();
    const bridge_detail::ClockReading reading{"scaled", 1000, now + ahead, wall_now_ns()};
    const std::string error = bridge_detail::follow_clock(reading);
    EXPECT_EQ(error, "") << ahead << " ns ahead";
    EXPECT_GE(VirtualClock::now().time_since_epoch().count(), reading.virtual_ns);
  }
}

}  // namespace
}  // namespace statebus
