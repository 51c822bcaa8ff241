// The heating demo on two buses joined only by a real mosquitto broker: the
// sensor and the heating on bus A, the web front end on bus B. The page is
// checked in headless Chromium (tests/web_page/check.mjs), and a setpoint
// typed there, or published on MQTT, must reach the heating on bus A.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "statebus/testing/child_process.hpp"
#include "statebus/testing/mqtt_broker.hpp"

namespace {

using namespace std::chrono_literals;
using statebus::testkit::ChildProcess;

class Machine {
 public:
  explicit Machine(ChildProcess process) : process_(std::move(process)) {}
  std::string ask(const std::string& command, std::chrono::milliseconds timeout = 60s) {
    process_.write(command + "\n");
    return process_.read_line(timeout).value_or("");
  }
  ChildProcess& process() { return process_; }

 private:
  ChildProcess process_;
};

std::optional<Machine> start_machine(const std::string& name, const std::string& log, bool& shared) {
  auto child = ChildProcess::spawn({STATEBUS_TEST_MACHINE, name}, log);
  if (!child) return std::nullopt;
  const auto first = child->read_line(20s);
  shared = first == std::optional<std::string>("shared");
  if (first != std::optional<std::string>("isolated") ||
      child->read_line(20s) != std::optional<std::string>("ok ready")) {
    return std::nullopt;
  }
  return Machine(std::move(*child));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(HomeOverMqtt, TheWebPageOnASecondBusWorksAndItsSetpointReachesTheHeating) {
  if (::access(STATEBUS_CHROMIUM, X_OK) != 0 || ::access(STATEBUS_WEB_PAGE_JS "/node_modules", R_OK) != 0) {
    if (std::getenv("CI") != nullptr)
      FAIL() << "chromium or tests/web_page/node_modules is missing (scripts/setup-*.sh)";
    GTEST_SKIP()
        << "chromium or tests/web_page/node_modules is missing (scripts/setup-debian.sh, scripts/setup-npm.sh)";
  }
  auto started = statebus::testkit::MqttBroker::start();
  ASSERT_TRUE(started) << started.error().message();
  statebus::testkit::MqttBroker& broker = *started;
  bool shared = false;
  auto a = start_machine("a", broker.folder() + "/a.log", shared);
  if (shared) GTEST_SKIP() << "two buses on one machine need private namespaces";
  ASSERT_TRUE(a) << read_file(broker.folder() + "/a.log");
  auto b = start_machine("b", broker.folder() + "/b.log", shared);
  ASSERT_TRUE(b) << read_file(broker.folder() + "/b.log");
  const std::string args = " --broker " + broker.url() + " --prefix home-demo";
  auto ok = [](const std::string& answer) { return answer.substr(0, 2) == "ok"; };
  const std::string dir = STATEBUS_HOME_DIR;

  // Bus A: the room (warm, so the heater is off) and the controller, bridged.
  ASSERT_PRED1(ok, a->ask("bridge" + args + " --client-id A --out home/** --state home/**"));
  ASSERT_PRED1(ok, a->ask("spawn heating ready " + dir + "/statebus-heating --dwell 200ms"));
  ASSERT_PRED1(ok, a->ask("spawn sensor ready " + dir + "/statebus-sensor --period 100ms --initial 22"));
  // Bus B: only the web process, and the broker in between.
  ASSERT_PRED1(ok, b->ask("bridge" + args + " --client-id B --in home/** --mirror home/**"));
  const std::string listening = b->ask("spawn web listening " + dir + "/statebus-web --port 0 --history-step 500ms");
  ASSERT_PRED1(ok, listening);
  const std::string url = listening.substr(listening.find("http://"));
  ASSERT_PRED1(ok, a->ask("cell-wait-json home/heating/status \"heater_on\":false 30000"));

  // The page, in a real browser, on bus B: figures, chart, and a setpoint typed into its form.
  auto check = ChildProcess::spawn({STATEBUS_NODE, STATEBUS_WEB_PAGE_JS "/check.mjs", url, "--min-readings", "3",
                                    "--min-chart-points", "2", "--heater", "off", "--set", "25.5", "--timeout", "30",
                                    "--chromium", STATEBUS_CHROMIUM});
  ASSERT_TRUE(check) << check.error().message();
  const auto status = check->wait(150s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << check->describe();
  // It reached bus A, and the heating acted on it: 25.5 °C is above the room.
  EXPECT_PRED1(ok, a->ask("cell-wait-json home/setpoint \"celsius\":25.5 30000"));
  EXPECT_PRED1(ok, a->ask("cell-wait-json home/heating/status \"heater_on\":true 30000"));

  // A setpoint published on MQTT by a plain client reaches the heating too.
  auto pub = ChildProcess::spawn({"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                                  "-t", "home-demo/state/home/setpoint/set", "-m", R"({"celsius": 16})"});
  ASSERT_TRUE(pub);
  ASSERT_TRUE(pub->wait(10s));
  EXPECT_PRED1(ok, a->ask("cell-wait-json home/heating/status \"heater_on\":false 30000"));
  EXPECT_PRED1(ok, b->ask("cell-wait-json home/setpoint \"celsius\":16.0 30000"));  // and the page's bus sees it

  // The setpoint's range is declared once, with its type (5–30 °C): a
  // value outside it, or none (null, NaN), is refused by the bridge, as by
  // the page, the CLI and Cell::store.
  for (const char* bad : {R"({"celsius": 1e9})", R"({"celsius": null})", R"({"celsius": 4.5})", "31"}) {
    auto refused =
        ChildProcess::spawn({"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-t",
                             "home-demo/state/home/setpoint/set", "-m", bad});
    ASSERT_TRUE(refused);
    ASSERT_TRUE(refused->wait(10s));
  }
  const std::string refusals = a->ask("wait-stat refused 4 30000");
  EXPECT_NE(refusals.find("refused_by=out_of_range:3"), std::string::npos) << refusals;
  EXPECT_PRED1(ok, a->ask("cell-wait-json home/setpoint \"celsius\":16.0 1000"));
}

}  // namespace
