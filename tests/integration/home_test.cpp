// The heating demo's processes, tested the way the system runs: separate
// processes on a private bus, a lockstep clock, a recorder, log capture.
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "home/heating_api.hpp"
#include "home/messages.hpp"
#include "home_fixture.hpp"
#include "statebus/bus.hpp"
#include "statebus/recorder/mcap.hpp"
#include "statebus/service.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/matchers.hpp"
#include "statebus/testing/scenario.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;

// A directory a test writes, removed when the test ends (on the machine's
// bus it would otherwise stay in /tmp).
struct RemovedAtEnd {
  std::string path;
  ~RemovedAtEnd() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};
using home::HeaterCommand;
using home::TemperatureReading;
using ::testing::ElementsAre;
using ::testing::Field;
using testkit::InVirtualTimeOrder;
using testkit::RecordedValue;
using testkit::Scenario;
using testkit::VirtualTimeBetween;
using testkit::WithoutSequenceGaps;

class Home : public HomeProcesses {};

// Readings scripted as a function of virtual time, the controller in its own
// process: a dip shorter than the dwell time switches nothing; a longer one
// switches on exactly one dwell after it began; warmth switches off likewise.
TEST_F(Home, HeaterSwitchesOnlyAfterTheDwellTimeOutsideTheBand) {
  start("heating");
  ASSERT_TRUE(story_->script<TemperatureReading>(
      std::string(home::kTemperatureChannel), 1s, [](VirtualClock::duration t) -> std::optional<TemperatureReading> {
        double celsius = 20.0;
        if ((t >= 30s && t < 35s) || (t >= 60s && t < 200s)) celsius = 19.0;  // below 19.5
        if (t >= 200s) celsius = 21.0;                                      // above 20.5
        return TemperatureReading{static_cast<std::uint64_t>(t / 1s), celsius, 5.0, false};
      }));
  ASSERT_TRUE(story_->run_for(300s));
  const auto status = status_after(300);
  wait_for_switches(status.switches);
  const auto t0 = story_->t0();

  // The controller's announcement of its start state (reading 0) goes out
  // as it starts, perhaps before the daemon connected the recorder; the
  // decisions are what this test is about.
  std::vector<Recorded<HeaterCommand>> decisions;
  for (const auto& c : commands()) {
    if (c.value.reading_index != 0) decisions.push_back(c);
  }
  EXPECT_THAT(decisions,
              ElementsAre(::testing::AllOf(RecordedValue(Field(&HeaterCommand::on, true)),
                                           RecordedValue(Field(&HeaterCommand::reading_index, 70U)),
                                           VirtualTimeBetween(t0 + 70s, t0 + 70s)),
                          ::testing::AllOf(RecordedValue(Field(&HeaterCommand::on, false)),
                                           VirtualTimeBetween(t0 + 210s, t0 + 210s))));
  EXPECT_EQ(status.decisions, 300U);
  EXPECT_EQ(status.switches, 2U);
  EXPECT_TRUE(story_->logs().wait_for(LogLevel::info, "heater on at 19.00", virtual_timeout(1s), "heating"));
}

// The heating answers "what will you do next, and why?" (its plan service)
// from its own process, on the clock the scenario drives: mid-dwell it names
// the switch to come and when, once switched it says what ends it, and a
// what-if question is planned for the temperature asked about.
TEST_F(Home, TheHeatingAnswersWhatItWillDoNextAndWhy) {
  start("heating");
  ASSERT_TRUE(story_->script<TemperatureReading>(
      std::string(home::kTemperatureChannel), 1s, [](VirtualClock::duration t) -> std::optional<TemperatureReading> {
        return TemperatureReading{static_cast<std::uint64_t>(t / 1s), t >= 10s ? 19.0 : 20.0, 5.0, false};
      }));
  auto plans = Client<home::PlanQuestion, home::HeatingPlan>::create(*node_, home::kPlanService);
  ASSERT_TRUE(plans) << plans.error().message();
  ASSERT_TRUE(story_->run_for(16s));  // below the band from 10 s: 6 s of the 10 s dwell
  status_after(16);
  auto waiting = plans->call(home::PlanQuestion{}, 10s);
  ASSERT_TRUE(waiting) << waiting.error().message();
  EXPECT_FALSE(waiting->heater_on);
  EXPECT_TRUE(waiting->will_switch);
  EXPECT_DOUBLE_EQ(waiting->switch_in_s, 4.0);
  EXPECT_STREQ(waiting->reason, "heater off, on in 4 s: 19.00 °C has been below 19.50 °C for 6 s of the 10 s dwell");

  ASSERT_TRUE(story_->run_for(10s));
  status_after(26);
  auto on = plans->call(home::PlanQuestion{}, 10s);
  ASSERT_TRUE(on) << on.error().message();
  EXPECT_TRUE(on->heater_on);
  EXPECT_FALSE(on->will_switch);
  EXPECT_STREQ(on->reason, "heater on: 19.00 °C is not above 20.50 °C; off once above it for 10 s");

  auto what_if = plans->call(home::PlanQuestion{true, 22.0}, 10s);
  ASSERT_TRUE(what_if) << what_if.error().message();
  EXPECT_DOUBLE_EQ(what_if->celsius, 22.0);
  EXPECT_TRUE(what_if->will_switch);
  EXPECT_STREQ(what_if->reason, "heater on, off in 10 s: 22.00 °C has been above 20.50 °C for 0 s of the 10 s dwell");
}

// The heating is an object (home::HeatingApi): a boost asked through its
// proxy is accepted and switches the heater on at the call's virtual time,
// holds it on above the band for the boost's 30 minutes, after which the
// hysteresis switches it off one dwell later; a boost it cannot do is
// refused with the reason, and changes nothing.
TEST_F(Home, ABoostCallSwitchesTheHeaterOnAtOnceForItsMinutesOrIsRefusedSayingWhy) {
  start("heating");
  ASSERT_TRUE(story_->script<TemperatureReading>(
      std::string(home::kTemperatureChannel), 1s, [](VirtualClock::duration t) -> std::optional<TemperatureReading> {
        return TemperatureReading{static_cast<std::uint64_t>(t / 1s), t >= 100s ? 21.5 : 20.2, 5.0, false};
      }));
  auto heating = Proxy<home::HeatingApi>::create(*node_, home::kHeatingObject, 10s);
  ASSERT_TRUE(heating) << heating.error().message();
  ASSERT_TRUE(story_->run_for(16s));
  status_after(16);
  const auto t0 = story_->t0();

  auto too_long = heating->boost(121.0);
  ASSERT_TRUE(too_long) << too_long.error().message();
  EXPECT_FALSE(too_long->accepted);
  EXPECT_STREQ(too_long->reason, "a boost lasts 1 to 120 minutes (0 ends one)");
  // Sent by a program, past the range the schema declares: refused alike, never a duration out of range.
  for (const double minutes : {1e300, -1e300, std::numeric_limits<double>::quiet_NaN()}) {
    auto absurd = heating->boost(minutes);
    ASSERT_TRUE(absurd) << absurd.error().message();
    EXPECT_FALSE(absurd->accepted) << minutes;
    EXPECT_STREQ(absurd->reason, "a boost lasts 1 to 120 minutes (0 ends one)");
  }

  auto boost = heating->boost(30.0);
  ASSERT_TRUE(boost) << boost.error().message();
  EXPECT_TRUE(boost->accepted) << boost->reason;
  EXPECT_STREQ(boost->reason, "heater on for 30 min, then back to 20.00 ± 0.50 °C");
  EXPECT_DOUBLE_EQ(boost->until_s, std::chrono::duration<double>((t0 + 16s + 30min).time_since_epoch()).count());
  auto plan = heating->plan(home::PlanQuestion{});
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->heater_on);
  EXPECT_STREQ(plan->reason, "heater on: boosted for 30 more min (20.20 °C), then back to 20.00 ± 0.50 °C");

  ASSERT_TRUE(story_->run_for(30min + 20s));
  const auto status = status_after(16 + 30 * 60 + 20);
  wait_for_switches(2);
  std::vector<Recorded<HeaterCommand>> switches;
  for (const auto& c : commands()) {
    if (c.value.reading_index != 0) switches.push_back(c);
  }
  EXPECT_THAT(switches,
              ElementsAre(::testing::AllOf(RecordedValue(Field(&HeaterCommand::on, true)),
                                           VirtualTimeBetween(t0 + 16s, t0 + 16s)),
                          ::testing::AllOf(RecordedValue(Field(&HeaterCommand::on, false)),
                                           VirtualTimeBetween(t0 + 16s + 30min + 10s, t0 + 16s + 30min + 10s))));
  EXPECT_EQ(status.switches, 2U);
  EXPECT_TRUE(story_->logs().wait_for(LogLevel::info, "boost of 121 min refused", virtual_timeout(1s), "heating"));
}

// A simulated day of sensor and controller: after warm-up the room stays in
// the band (give or take what a dwell time lets it drift), the heater never
// switches faster than the dwell time, and not one reading is lost.
TEST_F(Home, ASimulatedDayStaysInTheBandAndNeverTogglesFasterThanTheDwell) {
  start("heating");
  start("sensor");
  ASSERT_TRUE(story_->run_for(24h));
  ASSERT_TRUE(story_->recorder().wait_for_count(home::kTemperatureChannel, 86400, virtual_timeout(1s)));
  const auto status = status_after(86400);
  wait_for_switches(status.switches);

  const auto day = readings();
  ASSERT_EQ(day.size(), 86400U);
  EXPECT_THAT(day, WithoutSequenceGaps());
  EXPECT_THAT(day, InVirtualTimeOrder());
  bool warm = false;
  double low = 100, high = -100;
  for (const auto& r : day) {
    warm = warm || r.value.celsius >= 19.5;
    if (!warm) continue;
    low = std::min(low, r.value.celsius);
    high = std::max(high, r.value.celsius);
  }
  ASSERT_TRUE(warm);
  // 10 s of drift at the model's fastest rate (~0.2 K/h … 10 K/h) is < 0.05 K.
  EXPECT_GE(low, 19.45);
  EXPECT_LE(high, 20.55);

  const auto switches = commands();
  ASSERT_GT(switches.size(), 20U);
  EXPECT_THAT(switches, InVirtualTimeOrder());
  for (std::size_t i = 1; i < switches.size(); ++i) {
    if (switches[i - 1].value.reading_index == 0) continue;  // the start state, not a switch
    EXPECT_GE(switches[i].virtual_time() - switches[i - 1].virtual_time(), 10s) << "switch " << i;
    EXPECT_NE(switches[i].value.on, switches[i - 1].value.on) << "switch " << i;
  }
  EXPECT_EQ(status.decisions, 86400U);
  EXPECT_EQ(status.missed_readings, 0U);
  EXPECT_TRUE(story_->recorder().gaps().empty());
}

// The web process killed with SIGKILL in the middle of the run: the heating
// goes on as if nothing happened; no reading and no decision is missed.
TEST_F(Home, TheWebProcessKilledMidRunChangesNothingForTheHeating) {
  start("heating");
  start("sensor");
  const int port = start_web();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(story_->run_for(1h));
  story_->expect_exit("web");
  ASSERT_TRUE(story_->child("web").signal(SIGKILL));
  ASSERT_TRUE(story_->child("web").wait(10s));
  ASSERT_TRUE(story_->run_for(1h));

  ASSERT_TRUE(story_->recorder().wait_for_count(home::kTemperatureChannel, 7200, virtual_timeout(1s)));
  const auto two_hours = readings();
  ASSERT_EQ(two_hours.size(), 7200U);
  EXPECT_THAT(two_hours, WithoutSequenceGaps());
  const auto status = status_after(7200);
  wait_for_switches(status.switches);
  EXPECT_EQ(status.decisions, 7200U);  // one decision per reading, before, during and after
  EXPECT_EQ(status.last_reading, 7200U);
  EXPECT_EQ(status.missed_readings, 0U);
  EXPECT_GE(commands().size(), 3U);  // it kept switching
  EXPECT_GT(commands().back().virtual_time(), story_->t0() + 1h);
}

// The user changes the setpoint through the web API; the controller follows.
TEST_F(Home, ASetpointChangedThroughTheWebReachesTheController) {
  start("heating");
  start("sensor");
  const int port = start_web();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(story_->run_for(1h));
  httplib::Client web("127.0.0.1", port);

  auto bad = web.Post("/api/setpoint", R"({"celsius": 99})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  // The range home::Setpoint declares (STATEBUS_FIELD_INFO), named in the answer.
  EXPECT_NE(bad->body.find("out of range for 'celsius' (declared range 5…30)"), std::string::npos) << bad->body;
  auto none = web.Post("/api/setpoint", R"({"celsius": null})", "application/json");  // NaN: never in range
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400) << none->body;
  auto unknown = web.Post("/api/setpoint", R"({"celsius": 21, "hot": 1})", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_NE(unknown->body.find("no field 'hot' in home/Setpoint"), std::string::npos) << unknown->body;

  auto changed = web.Post("/api/setpoint", R"({"celsius": 23})", "application/json");
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->status, 200) << changed->body;
  const auto when = VirtualClock::now();
  ASSERT_TRUE(story_->run_for(2h));

  // The controller switched on after the change, and the room got there.
  const auto after = commands();
  EXPECT_TRUE(std::any_of(after.begin(), after.end(), [&](const Recorded<HeaterCommand>& c) {
    return c.value.on && c.virtual_time() >= when;
  }));
  const auto last = readings().back().value;
  EXPECT_GE(last.celsius, 22.4);
  EXPECT_LE(last.celsius, 23.6);
  auto status = web.Get("/api/status");
  ASSERT_TRUE(status);
  const auto json = nlohmann::json::parse(status->body);
  EXPECT_DOUBLE_EQ(json["setpoint"]["celsius"].get<double>(), 23.0);
  EXPECT_TRUE(story_->logs().wait_for(LogLevel::info, "setpoint changed to 23.0", virtual_timeout(1s), "web"));
  auto page = web.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<svg"), std::string::npos);
  // What the heating will do next, asked of it by the web process (a call).
  auto plan = web.Get("/api/plan");
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->status, 200) << plan->body;
  const auto answer = nlohmann::json::parse(plan->body);
  const bool heating = json["heater_on"].get<bool>();
  EXPECT_EQ(answer["heater_on"].get<bool>(), heating) << plan->body;
  EXPECT_EQ(answer["reason"].get<std::string>().rfind(heating ? "heater on" : "heater off", 0), 0U) << plan->body;
  EXPECT_NE(page->body.find("<p id=plan>Next: heater "), std::string::npos) << page->body;
}

// The page's "Boost 30 min": a call to the heating through the web process,
// answered with acceptance (the heater on, the plan saying so, the page
// showing the answer) or the heating's reason for refusing (409), a body
// that is no boost refused by the web process itself (400).
TEST_F(Home, ABoostThroughTheWebIsAcceptedOrRefusedWithTheHeatingsReason) {
  start("heating");
  start("sensor");
  const int port = start_web();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(story_->run_for(1h));
  httplib::Client web("127.0.0.1", port);

  auto bad = web.Post("/api/boost", R"({"minutes": 500})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("out of range for 'minutes' (declared range 0…120)"), std::string::npos) << bad->body;

  auto boost = web.Post("/api/boost", R"({"minutes": 30})", "application/json");
  ASSERT_TRUE(boost);
  ASSERT_EQ(boost->status, 200) << boost->body;
  const auto accepted = nlohmann::json::parse(boost->body);
  EXPECT_TRUE(accepted["accepted"].get<bool>()) << boost->body;
  EXPECT_EQ(accepted["reason"].get<std::string>(), "heater on for 30 min, then back to 20.00 ± 0.50 °C");
  auto plan = web.Get("/api/plan");
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->status, 200) << plan->body;
  const auto planned = nlohmann::json::parse(plan->body);
  EXPECT_TRUE(planned["heater_on"].get<bool>()) << plan->body;
  EXPECT_EQ(planned["reason"].get<std::string>().rfind("heater on: boosted for 30 more min", 0), 0U) << plan->body;
  auto page = web.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<p id=boost>Boost accepted: heater on for 30 min"), std::string::npos) << page->body;

  auto off = web.Post("/api/setpoint", R"({"mode": "off"})", "application/json");
  ASSERT_TRUE(off);
  ASSERT_EQ(off->status, 200) << off->body;
  auto refused = web.Post("/api/boost", R"({"minutes": 30})", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409) << refused->body;
  EXPECT_EQ(nlohmann::json::parse(refused->body)["reason"].get<std::string>(), "the mode is off: set it to heat first");
  auto refused_page = web.Get("/");
  ASSERT_TRUE(refused_page);
  EXPECT_NE(refused_page->body.find("<p id=boost>Boost refused: the mode is off"), std::string::npos)
      << refused_page->body;
}

// Every process's log records reach the test, with the process's name.
TEST_F(Home, LogRecordsOfEveryProcessAreCaptured) {
  start("heating");
  start("sensor");
  ASSERT_GT(start_web(), 0);
  ASSERT_TRUE(story_->run_for(2h));
  auto& logs = story_->logs();
  EXPECT_TRUE(logs.wait_for(LogLevel::info, "controlling to 20.0", virtual_timeout(1s), "heating"));
  EXPECT_TRUE(logs.wait_for(LogLevel::info, "room at 16.0", virtual_timeout(1s), "sensor"));
  EXPECT_TRUE(logs.wait_for(LogLevel::info, "listening on http://127.0.0.1:", virtual_timeout(1s), "web"));
  EXPECT_TRUE(logs.wait_for(LogLevel::info, "^heater on at", virtual_timeout(1s), "heating"));
  EXPECT_TRUE(logs.wait_for(LogLevel::info, "^heater off at", virtual_timeout(1s), "heating"));
}

// The launcher, as the demo runs it: a day's hours in lockstep, the web
// process killed and restarted on the way, a summary, a recording, a picture.
TEST_F(Home, TheLauncherRunsTheProcessesRestartsTheWebAndSumsUp) {
  const std::string out = ::testing::TempDir() + "statebus-home-launcher";
  const RemovedAtEnd out_dir{out};
  auto launcher = testkit::ChildProcess::spawn({STATEBUS_HOME_DIR "/statebus-home", "--duration", "3h", "--lockstep",
                                                "--port", "0", "--kill-web-at", "30m", "--out", out, "-q"});
  ASSERT_TRUE(launcher) << launcher.error().message();
  std::string text;
  while (auto line = launcher->read_line(60s)) text += *line + "\n";
  const auto status = launcher->wait(30s);
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << text << launcher->read_stderr(5s);
  EXPECT_NE(text.find("using the running daemon"), std::string::npos) << text;
  EXPECT_NE(text.find("readings        10800 ("), std::string::npos) << text;
  EXPECT_NE(text.find(", 0 gaps)"), std::string::npos) << text;
  EXPECT_NE(text.find("web restarted 1 time"), std::string::npos) << text;
  EXPECT_NE(text.find("after warm-up"), std::string::npos) << text;
  std::ifstream svg(out + "/day.svg");
  std::string first;
  std::getline(svg, first);
  EXPECT_EQ(first.rfind("<svg", 0), 0U) << first;
  auto recording = mcap::Reader::open(out + "/day.mcap");
  ASSERT_TRUE(recording) << recording.error().message();
  EXPECT_FALSE(recording->truncated());
  EXPECT_TRUE(
      story_->logs().wait_for(LogLevel::warn, "web ended \\(SIGKILL\\); restarting it", virtual_timeout(1s), "home"));
}

// The soak in short: the sensor, the heating and the web process SIGKILLed
// at random every ~300 ms of real time while 2 virtual hours pass in 4 s,
// on the launcher's own daemon: each killed process is restarted, no other
// one notices, nothing sent is lost and the heating misses no reading.
// At 1800x a reading comes every 0.56 ms of real time, and the heating's
// queue (256, not lossless: a frozen controller must not hold the sensor)
// holds 142 ms of them. At 3600x (71 ms) three ASan runs side by side on
// two cores starved the heating past that in 4 of 12 runs (2 to 32
// readings dropped from its full queue, each at a restart's burst of CPU);
// at 1800x, 12 of 12 were clean. The soak is about kills, not starvation.
TEST_F(Home, TheLauncherUnderRandomKillsLosesNothing) {
  const std::string out = ::testing::TempDir() + "statebus-home-chaos";
  const RemovedAtEnd out_dir{out};
  auto launcher =
      testkit::ChildProcess::spawn({STATEBUS_HOME_DIR "/statebus-home", "--duration", "2h", "--real-seconds", "4",
                                    "--chaos", "300ms", "--port", "0", "--out", out, "-q"});
  ASSERT_TRUE(launcher) << launcher.error().message();
  std::string text;
  while (auto line = launcher->read_line(60s)) text += *line + "\n";
  const auto status = launcher->wait(30s);

  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << text << launcher->read_stderr(5s);
  EXPECT_NE(text.find("soak: ok"), std::string::npos) << text;
  EXPECT_EQ(text.find("  chaos           0 SIGKILLs"), std::string::npos) << text;
  EXPECT_NE(text.find(", 0 missed readings"), std::string::npos) << text;
  EXPECT_EQ(text.find("but was killed"), std::string::npos) << text;
}

}  // namespace
}  // namespace statebus
