// The heating demo's web page in a real browser: headless Chromium, driven by
// tests/web_page/check.mjs (playwright-core), reads the page statebus-web
// serves for the heating on this test's private bus. The page must show the
// heating's figures and its plan (agreeing with them), draw the day's chart,
// and a setpoint typed into its form must change the plan and reach the
// controller.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "home/messages.hpp"
#include "home_fixture.hpp"
#include "run_cli.hpp"
#include "statebus/bus.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/scenario.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using home::HeaterCommand;
using home::TemperatureReading;
using testkit::ChildProcess;
using testkit::Scenario;

// Every wait of the page check (check.mjs --timeout): a cold browser start
// on a busy machine takes a few seconds; the check is done in ~3 s here.
constexpr int kPageWaitSeconds = 20;
// The check's own watchdog ends it after 4 waits' time; a little more here.
constexpr auto kPageCheckBound = std::chrono::seconds(4 * kPageWaitSeconds + 10);

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", value);
  return text;
}

// What the page check needs from outside this project, or why it cannot run.
std::string missing_for_page_check() {
  const std::string node = STATEBUS_NODE;
  if (node.empty() || node.find("NOTFOUND") != std::string::npos || ::access(node.c_str(), X_OK) != 0) {
    return "Node.js was not found when the build was configured (Debian: apt-get install nodejs npm, "
           "or scripts/setup-debian.sh; then configure again)";
  }
  if (::access(STATEBUS_CHROMIUM, X_OK) != 0) {
    return "no browser at " STATEBUS_CHROMIUM " (Debian: apt-get install chromium, or scripts/setup-debian.sh)";
  }
  if (::access(STATEBUS_WEB_PAGE_JS "/node_modules/playwright-core/package.json", R_OK) != 0) {
    return "playwright-core is not installed in " STATEBUS_WEB_PAGE_JS " (run scripts/setup-npm.sh)";
  }
  return {};
}

bool on_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

class WebPage : public HomeProcesses {
 protected:
  void SetUp() override {
    node_name_ = "web-page-test";
    HomeProcesses::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    if (const std::string missing = missing_for_page_check(); !missing.empty()) {
      if (on_ci()) FAIL() << missing << " (CI=true: the page check must run)";
      GTEST_SKIP() << missing;
    }
  }

  // Runs tests/web_page/check.mjs with `args` (after the URL) to its end,
  // bounded; its output, and its exit code (-1: it did not exit in time).
  // The heating runs here, so the page's plan is always checked (--plan).
  std::pair<std::string, int> check_page(const std::string& url, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        STATEBUS_NODE, STATEBUS_WEB_PAGE_JS "/check.mjs", url,     "--chromium", STATEBUS_CHROMIUM,
        "--timeout",   std::to_string(kPageWaitSeconds),  "--plan"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto check = ChildProcess::spawn(argv);
    EXPECT_TRUE(check) << check.error().message();
    if (!check) return {"", -1};
    const auto deadline = std::chrono::steady_clock::now() + kPageCheckBound;
    std::string out;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) break;
      auto line = check->read_line(left);
      if (!line) break;
      out += *line + "\n";
    }
    const auto status = check->wait(5s);
    if (!status || !WIFEXITED(*status)) {
      ADD_FAILURE() << "the page check did not end by itself within " << kPageCheckBound.count() << " s:\n"
                    << out << check->describe();
      return {out, -1};
    }
    const int code = WEXITSTATUS(*status);
    if (code != 0) out += check->read_stderr(5s);
    return {out, code};
  }

};

// Two hours of the heating, then the page in Chromium: it shows the room,
// outside, setpoint, heater and switches the bus has, its chart draws the
// room's line, its plan (the heating's answer to a call) agrees with them,
// a setpoint typed into its form and submitted changes the plan and is
// what the controller switches by next, and its boost button calls the
// heating and shows the answer.
TEST_F(WebPage, ShowsTheHeatingDrawsTheDayAndSendsATypedSetpointToTheController) {
  start("heating");
  start("sensor");
  const int port = start_web();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(story_->run_for(2h));
  ASSERT_TRUE(story_->recorder().wait_for_count(home::kTemperatureChannel, 7200, virtual_timeout(1s)));
  const home::HeatingStatus before = status_after(7200);
  ASSERT_EQ(before.decisions, 7200U);
  const auto all_readings = readings();
  ASSERT_FALSE(all_readings.empty());
  const TemperatureReading last = all_readings.back().value;
  // The page shows the last reading's heater, its plan the controller's:
  // the same unless the controller switched on that very reading.
  ASSERT_EQ(last.heater_on, before.heater_on) << "the heating switched at the last reading, " << last.index;
  auto setpoint_cell = Cell<home::Setpoint>::open_or_create(home::kSetpointCell);
  ASSERT_TRUE(setpoint_cell) << setpoint_cell.error().message();
  const home::Setpoint wanted = setpoint_cell->load();
  // A setpoint the controller must act on at once: below the room if it
  // heats, above it if not; either way its next switch names it.
  const double typed = before.heater_on ? 14.5 : 26.5;
  char typed_text[16];
  std::snprintf(typed_text, sizeof typed_text, "%.1f", typed);

  // The clock stands still while the browser looks: the page must show
  // exactly what the bus has now.
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const auto [out, code] = check_page(
      url, {"--room", number(last.celsius), "--outside", number(last.outside_celsius), "--heater",
            last.heater_on ? "on" : "off", "--setpoint", number(wanted.celsius), "--band", number(wanted.band),
            "--mode", wanted.mode == home::Mode::heat ? "heat" : "off", "--switches", std::to_string(before.switches),
            "--min-readings", "1", "--min-chart-points", "100", "--set", typed_text});
  std::printf("%s", out.c_str());  // what the browser saw, also when it passes
  ASSERT_EQ(code, 0) << "the page check failed: its output is above";
  EXPECT_NE(out.find("web page check: OK"), std::string::npos);
  // The plan it read, before and after the setpoint: the controller's, for the heater as it is.
  const std::string plan_heater = std::string("Next: heater ") + (before.heater_on ? "on" : "off");
  EXPECT_NE(out.find("\nplan: " + plan_heater), std::string::npos) << out;
  EXPECT_NE(out.find("form: the plan now reads " + plan_heater), std::string::npos) << out;

  // On the bus: the cell holds what was typed …
  const auto [cell_json, cli_code] = test::run_cli({"state", "get", std::string(home::kSetpointCell), "--json"});
  ASSERT_EQ(cli_code, 0) << cell_json;
  const auto cell = nlohmann::json::parse(cell_json, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(cell.is_object()) << cell_json;
  EXPECT_DOUBLE_EQ(cell.value("celsius", 0.0), typed) << cell_json;
  // … and the controller switches by it: a minute of virtual time at a
  // time, up to an hour, until its log names the new setpoint and the
  // recorder has its command. Each look returns at once (a zero timeout;
  // the clock stands still between the minutes), so nothing here can hang.
  auto& logs = story_->logs();
  const std::string decided = std::string("^heater ") + (before.heater_on ? "off" : "on") + " at .* \\(setpoint " +
                              typed_text + " ± ";
  WaitedFor<LogEntry> switched;
  WaitedFor<Recorded<HeaterCommand>> command;
  for (int minute = 0; minute < 60 && !(switched && command); ++minute) {
    ASSERT_TRUE(story_->run_for(1min));
    switched = logs.wait_for(LogLevel::info, decided, virtual_timeout(0s), "heating");
    command = story_->recorder().wait_for<HeaterCommand>(
        home::kHeaterChannel,
        [&](const HeaterCommand& c) { return c.reading_index > last.index && c.on != before.heater_on; },
        virtual_timeout(0s));
  }
  EXPECT_TRUE(switched) << "in an hour the heating never logged a switch by setpoint " << typed_text << " (/"
                        << decided << "/)";
  ASSERT_TRUE(command) << "in an hour no heater command followed the page's setpoint";
  // The dwell time (10 s) after the first reading it saw.
  EXPECT_LE(command->value.reading_index, last.index + 11) << "the controller was late to act on it";
  EXPECT_TRUE(logs.wait_for(LogLevel::info, std::string("setpoint changed to ") + typed_text + " °C from the page",
                            virtual_timeout(0s), "web"));

  // "Boost 30 min" pressed in the browser: a call to the heating through the
  // web process. Switched on by the high setpoint, the heating accepts it
  // (the page shows the answer, the plan says boosted); switched off by the
  // low one, the room is 3 K over it and the heating refuses, saying so.
  const bool accepts = !before.heater_on;
  const auto [boost_out, boost_code] = check_page(url, {"--boost", accepts ? "accepted" : "refused"});
  std::printf("%s", boost_out.c_str());
  ASSERT_EQ(boost_code, 0) << "the page's boost check failed: its output is above";
  EXPECT_NE(boost_out.find(accepts ? "boost: the page shows \"Boost accepted: heater on for 30 min"
                                   : "boost: the page shows \"Boost refused: the room is at "),
            std::string::npos)
      << boost_out;
  EXPECT_TRUE(logs.wait_for(LogLevel::info, accepts ? "^boost of 30 min accepted" : "^boost of 30 min refused",
                            virtual_timeout(0s), "heating"));
  if (accepts) return;
  // Refused: with a setpoint the room is below, the same button is accepted.
  ASSERT_TRUE(setpoint_cell->update([](home::Setpoint& s) {
    s.celsius = 26.5;
    return true;
  }));
  const auto [accepted_out, accepted_code] = check_page(url, {"--boost", "accepted"});
  std::printf("%s", accepted_out.c_str());
  ASSERT_EQ(accepted_code, 0) << "the page's second boost check failed: its output is above";
  EXPECT_NE(accepted_out.find("boost: the page shows \"Boost accepted: heater on for 30 min"), std::string::npos)
      << accepted_out;
  EXPECT_TRUE(logs.wait_for(LogLevel::info, "^boost of 30 min accepted", virtual_timeout(0s), "heating"));
}

}  // namespace
}  // namespace statebus
