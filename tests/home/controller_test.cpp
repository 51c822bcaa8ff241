// The controller and the room model, without a bus.
#include <chrono>

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
