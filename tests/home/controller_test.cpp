// The controller and the room model, without a bus.
#include <chrono>
#include <vector>

#include <gtest/gtest.h>

#include "home/chart.hpp"
#include "home/controller.hpp"
#include "home/thermal.hpp"

namespace home {
namespace {

using namespace std::chrono_literals;

TEST(HysteresisController, SwitchesOnAfterTheDwellBelowTheBandAndNotBefore) {
  HysteresisController sut(10s);
  const Setpoint s{20.0, 0.5, Mode::heat};
  EXPECT_FALSE(sut.decide(19.0, 0s, s));  // below since 0 s
  EXPECT_FALSE(sut.decide(19.0, 9s, s));
  EXPECT_EQ(sut.decide(19.0, 10s, s), std::optional<bool>(true));
  EXPECT_FALSE(sut.decide(19.0, 11s, s));  // already on
  EXPECT_TRUE(sut.heater_on());
}

TEST(HysteresisController, ItsPlanSaysWhatComesNextAndWhy) {
  HysteresisController sut(10s);
  const Setpoint s{20.0, 0.5, Mode::heat};
  auto inside = sut.plan(20.1, 0s, s);
  EXPECT_FALSE(inside.heater_on);
  EXPECT_FALSE(inside.will_switch);
  EXPECT_EQ(inside.reason, "heater off: 20.10 °C is not below 19.50 °C; on once below it for 10 s");
  EXPECT_FALSE(sut.decide(19.0, 0s, s));  // below since 0 s
  auto waiting = sut.plan(19.0, 6s, s);
  EXPECT_FALSE(waiting.heater_on);
  EXPECT_TRUE(waiting.will_switch);
  EXPECT_EQ(waiting.switch_in, 4s);
  EXPECT_EQ(waiting.reason, "heater off, on in 4 s: 19.00 °C has been below 19.50 °C for 6 s of the 10 s dwell");
  ASSERT_EQ(sut.decide(19.0, 10s, s), std::optional<bool>(true));
  auto on = sut.plan(19.0, 11s, s);
  EXPECT_TRUE(on.heater_on);
  EXPECT_FALSE(on.will_switch);
  EXPECT_EQ(on.reason, "heater on: 19.00 °C is not above 20.50 °C; off once above it for 10 s");
  EXPECT_EQ(sut.plan(19.0, 11s, Setpoint{20.0, 0.5, Mode::off}).reason,
            "heater on, off at the next reading: the mode is off");
}

TEST(HysteresisController, ABoostHeatsWhateverTheReadingsThenTheHysteresisDecidesAgain) {
  HysteresisController sut(10s);
  const Setpoint s{20.0, 0.5, Mode::heat};
  EXPECT_FALSE(sut.decide(20.2, 0s, s));  // inside the band: off
  const auto boost = sut.boost(30min, 20.2, 5s, s);
  EXPECT_TRUE(boost.accepted);
  EXPECT_EQ(boost.until, 5s + 30min);
  EXPECT_EQ(boost.reason, "heater on for 30 min, then back to 20.00 ± 0.50 °C");
  EXPECT_EQ(sut.decide(20.2, 5s, s), std::optional<bool>(true));  // at once
  EXPECT_FALSE(sut.decide(21.5, 20min, s));  // above the band for far longer than the dwell: still on
  EXPECT_TRUE(sut.heater_on());
  EXPECT_EQ(sut.plan(21.5, 20min, s).reason,
            "heater on: boosted for 10 more min (21.50 °C), then back to 20.00 ± 0.50 °C");
  // The boost over: above the band, off after the dwell as ever.
  EXPECT_FALSE(sut.decide(21.5, 5s + 30min, s));
  EXPECT_FALSE(sut.decide(21.5, 5s + 30min + 9s, s));
  EXPECT_EQ(sut.decide(21.5, 5s + 30min + 10s, s), std::optional<bool>(false));
}

TEST(HysteresisController, ABoostIsRefusedSayingWhyAndZeroMinutesEndsOne) {
  HysteresisController sut(10s);
  const Setpoint s{20.0, 0.5, Mode::heat};
  auto off = sut.boost(30min, 19.0, 0s, Setpoint{20.0, 0.5, Mode::off});
  EXPECT_FALSE(off.accepted);
  EXPECT_EQ(off.reason, "the mode is off: set it to heat first");
  auto warm = sut.boost(30min, 23.0, 0s, s);
  EXPECT_FALSE(warm.accepted);
  EXPECT_EQ(warm.reason, "the room is at 23.00 °C, 3 K or more over the 20.00 °C setpoint: no boost");
  for (const std::chrono::nanoseconds length : std::vector<std::chrono::nanoseconds>{-1min, 30s, 121min}) {
    auto wrong = sut.boost(length, 19.0, 0s, s);
    EXPECT_FALSE(wrong.accepted);
    EXPECT_EQ(wrong.reason, "a boost lasts 1 to 120 minutes (0 ends one)");
  }
  EXPECT_FALSE(sut.decide(20.0, 0s, s));
  EXPECT_FALSE(sut.heater_on());  // nothing refused changed the heater

  ASSERT_TRUE(sut.boost(60min, 20.0, 1s, s).accepted);
  EXPECT_EQ(sut.decide(20.0, 1s, s), std::optional<bool>(true));
  auto ended = sut.boost(0min, 20.0, 2s, s);
  EXPECT_TRUE(ended.accepted);
  EXPECT_EQ(ended.reason, "boost ended: back to 20.00 ± 0.50 °C");
  EXPECT_FALSE(sut.decide(20.0, 2s, s));  // inside the band: the hysteresis keeps it as it is
  auto none = sut.boost(0min, 20.0, 3s, s);
  EXPECT_TRUE(none.accepted);
  EXPECT_EQ(none.reason, "no boost to end");
  // Mode off ends a boost at once.
  ASSERT_TRUE(sut.boost(60min, 20.0, 4s, s).accepted);
  EXPECT_EQ(sut.decide(20.0, 5s, Setpoint{20.0, 0.5, Mode::off}), std::optional<bool>(false));
  EXPECT_FALSE(sut.decide(19.0, 6s, s));  // the boost is over: below the band starts the dwell
}

TEST(HysteresisController, ABriefExcursionOrOneInsideTheBandResetsTheDwell) {
  HysteresisController sut(10s);
  const Setpoint s{20.0, 0.5, Mode::heat};
  EXPECT_FALSE(sut.decide(19.0, 0s, s));
  EXPECT_FALSE(sut.decide(19.8, 5s, s));   // back inside the band
  EXPECT_FALSE(sut.decide(19.0, 6s, s));   // below again: the dwell starts over
  EXPECT_FALSE(sut.decide(19.0, 15s, s));
  EXPECT_EQ(sut.decide(19.0, 16s, s), std::optional<bool>(true));
}

TEST(HysteresisController, SwitchesOffAfterTheDwellAboveTheBand) {
  HysteresisController sut(10s);
  const Setpoint s{20.0, 0.5, Mode::heat};
  sut.decide(19.0, 0s, s);
  ASSERT_EQ(sut.decide(19.0, 10s, s), std::optional<bool>(true));
  EXPECT_FALSE(sut.decide(20.6, 20s, s));
  EXPECT_FALSE(sut.decide(20.6, 29s, s));
  EXPECT_EQ(sut.decide(20.6, 30s, s), std::optional<bool>(false));
}

TEST(HysteresisController, ModeOffSwitchesOffAtOnce) {
  HysteresisController sut(10s);
  sut.decide(19.0, 0s, {20.0, 0.5, Mode::heat});
  ASSERT_TRUE(sut.decide(19.0, 10s, {20.0, 0.5, Mode::heat}));
  EXPECT_EQ(sut.decide(19.0, 11s, {20.0, 0.5, Mode::off}), std::optional<bool>(false));
  EXPECT_FALSE(sut.decide(10.0, 100s, {20.0, 0.5, Mode::off}));
}

TEST(ThermalModel, CoolsTowardsOutsideAndWarmsWithTheHeater) {
  ThermalModel room;
  room.celsius = 20.0;
  room.step(3600.0, 5.0, false);
  EXPECT_LT(room.celsius, 20.0);
  EXPECT_GT(room.celsius, 5.0);
  ThermalModel heated;
  heated.celsius = 20.0;
  heated.step(3600.0, 5.0, true);
  EXPECT_GT(heated.celsius, 20.0);
}

TEST(ThermalModel, OutsideIsColdestAtFiveAndWarmestAtSeventeen) {
  EXPECT_NEAR(outside_celsius(5h), 2.0, 1e-9);
  EXPECT_NEAR(outside_celsius(17h), 10.0, 1e-9);
  EXPECT_NEAR(outside_celsius(29h), 2.0, 1e-9);  // the next day
}

TEST(Chart, DrawsEveryLineAndSaysSoWhenEmpty) {
  EXPECT_NE(render_chart_svg({}, "t").find("no readings yet"), std::string::npos);
  const std::string svg = render_chart_svg({{0.0, 19, 5, 20, 0.5, true}, {1.0, 21, 6, 20, 0.5, false}}, "a <day>");
  EXPECT_EQ(svg.rfind("<svg", 0), 0U);
  EXPECT_NE(svg.find("a &lt;day&gt;"), std::string::npos);
  EXPECT_NE(svg.find("#c62828"), std::string::npos);  // room
  EXPECT_NE(svg.find("fill=\"#f4b183\""), std::string::npos);  // heater on
}

}  // namespace
}  // namespace home
