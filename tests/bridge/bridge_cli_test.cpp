// `statebus bridge mqtt` as users run it, on a private bus of its own beside
// its `statebus daemon`, with a real mosquitto broker on 127.0.0.1.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/mqtt_broker.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;
using BridgeCommand = testkit::PrivateBusTest;

// Its daemon stopped, the bridge says why, marks itself offline on the
// broker and ends with status 1, instead of relaying a bus that is gone.
TEST_F(BridgeCommand, EndsOfflineWithStatus1WhenItsDaemonStops) {
  auto broker = testkit::MqttBroker::start();
  ASSERT_TRUE(broker) << broker.error().message();
  auto daemon = ChildProcess::spawn({STATEBUS_CLI, "daemon"});
  ASSERT_TRUE(daemon);
  std::optional<std::string> line;
  while ((line = daemon->read_line(20s)) && line->rfind("statebus daemon ready", 0) != 0) {
  }
  ASSERT_TRUE(line) << daemon->describe();
  auto bridge = ChildProcess::spawn({STATEBUS_CLI, "bridge", "mqtt", "--broker", broker->url(), "--prefix", "t",
                                     "--client-id", "lost-bus", "--out", "home/**"});
  ASSERT_TRUE(bridge);
  ASSERT_TRUE(bridge->read_line(20s)) << bridge->describe();  // "statebus bridge: … Ctrl-C stops"
  auto status = ChildProcess::spawn({"/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker->port()),
                                     "-t", "t/$status/lost-bus", "-v"});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->read_line(20s), "t/$status/lost-bus online");
  ASSERT_TRUE(daemon->signal(SIGTERM));
  ASSERT_TRUE(daemon->wait(10s));
  const auto ended = bridge->wait(10s);
  ASSERT_TRUE(ended) << "the bridge goes on without its bus: " << bridge->describe();
  EXPECT_TRUE(WIFEXITED(*ended) && WEXITSTATUS(*ended) == 1) << bridge->describe();
  EXPECT_EQ(status->read_line(10s), "t/$status/lost-bus offline");
  const std::string said = bridge->read_stderr(2s);
  EXPECT_NE(said.find("lost the bus"), std::string::npos) << said;
  EXPECT_EQ(said.find("iceoryx"), std::string::npos) << "iceoryx's chatter: " << said;
}

}  // namespace
}  // namespace statebus
