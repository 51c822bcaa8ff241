// `statebus ls`, `echo` and `hz` on a live channel.
#include <sys/wait.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "run_cli.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

class BusCommands : public testing::BusTest {
 protected:
  // A publisher of 3 readings with history 3, so late readers see them all.
  void SetUp() override {
    BusTest::SetUp();
    if (HasFatalFailure()) return;
    auto node = Node::connect("cli-test");
    ASSERT_TRUE(node);
    node_ = std::move(*node);
    // Our subscriber lets the child publish; the CLI then gets its history.
    auto early = UntypedSubscriber::create(*node_, "home/sensor/temperature");
    ASSERT_TRUE(early);
    early_ = std::move(*early);
    auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "publish", "sensor", "home/sensor/temperature", "3", "3"});
    ASSERT_TRUE(child);
    ASSERT_EQ(child->read_line(30s), "sent 3");
    publisher_ = std::move(*child);
  }

  static std::pair<std::string, int> run(std::vector<std::string> args, std::string* errors = nullptr) {
    return test::run_cli(std::move(args), errors);
  }

  std::optional<Node> node_;
  std::optional<UntypedSubscriber> early_;
  std::optional<ChildProcess> publisher_;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(BusCommands, EchoDecodesSamplesFieldByField) {
  const auto [out, code] = run({"echo", "home/sensor/temperature", "--count", "3", "--history", "3"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out,
            "{index: 1, celsius: 20.01, room: \"room-1\"}\n"
            "{index: 2, celsius: 20.02, room: \"room-2\"}\n"
            "{index: 3, celsius: 20.03, room: \"room-3\"}\n");
}

TEST_F(BusCommands, EchoJsonCarriesTheHeader) {
  const auto [out, code] = run({"echo", "home/sensor/temperature", "--json", "-n", "1", "--history", "1"});
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(contains(out, "\"sequence\":3,\"publisher_pid\":" + std::to_string(publisher_->pid()))) << out;
  EXPECT_TRUE(contains(out, "\"value\":{\"celsius\":20.03,\"index\":3,\"room\":\"room-3\"}")) << out;
}

TEST_F(BusCommands, LsShowsTheChannelItsTypeAndPorts) {
  const auto [out, code] = run({"ls"});
  EXPECT_EQ(code, 0);
  std::string line;
  for (std::size_t start = 0; start < out.size();) {
    const std::size_t end = out.find('\n', start);
    const std::string candidate = out.substr(start, end - start);
    if (candidate.rfind("home/sensor/temperature ", 0) == 0) line = candidate;
    start = end + 1;
  }
  ASSERT_FALSE(line.empty()) << out;
  EXPECT_TRUE(contains(line, "test/Reading")) << line;
  EXPECT_TRUE(contains(line, "   1     1  ")) << "one publisher, one subscriber: " << line;
  EXPECT_TRUE(contains(line, "sensor")) << line;
  EXPECT_FALSE(contains(out, "Introspection")) << "iceoryx's own channels are not listed";
}

TEST_F(BusCommands, HzCountsSamplesAndLosses) {
  const auto [out, code] = run({"hz", "home/sensor/temperature", "-n", "3", "--history", "3"});
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(contains(out, "total: 3 samples")) << out;
  EXPECT_TRUE(contains(out, "0 lost")) << out;
}

TEST_F(BusCommands, UnknownChannelIsAClearErrorAndNonZeroExit) {
  std::string errors;
  const auto [out, code] = run({"echo", "home/nothing/here", "-n", "1"}, &errors);
  EXPECT_EQ(code, 1);
  EXPECT_TRUE(contains(errors, "no publisher on channel 'home/nothing/here'")) << errors;
  EXPECT_TRUE(contains(errors, "statebus ls")) << errors;

  const auto [out2, code2] = run({"hz", "bad//name"}, &errors);
  EXPECT_EQ(code2, 2);
  EXPECT_TRUE(contains(errors, "empty part")) << errors;
}

using BusCommandsWithoutDaemon = testing::PrivateBusTest;

TEST_F(BusCommandsWithoutDaemon, SayHowToStartTheDaemon) {
  auto cli = ChildProcess::spawn({STATEBUS_CLI, "ls"});
  ASSERT_TRUE(cli);
  const auto status = cli->wait(30s);
  ASSERT_TRUE(status && WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_TRUE(contains(cli->read_stderr(5s), "`statebus daemon`"));
}

}  // namespace
}  // namespace statebus
