// `statebus ls`, `echo` and `hz` on a live channel.
#include <sys/wait.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "run_cli.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

class BusCommands : public testkit::BusTest {
 protected:
  // A publisher of 3 readings with history 3, so late readers see them all.
  void SetUp() override {
    BusTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
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
  // One sample is no rate: said so, not "0.00 Hz".
  const auto [one, one_code] = run({"hz", "home/sensor/temperature", "-n", "1", "--history", "1"});
  EXPECT_EQ(one_code, 0);
  EXPECT_TRUE(contains(one, "total: 1 sample, no rate yet (one sample), 0 lost")) << one;
}

TEST_F(BusCommands, UnknownChannelIsAClearErrorAndNonZeroExit) {
  std::string errors;
  const auto [out, code] = run({"echo", "home/nothing/here", "-n", "1"}, &errors);
  EXPECT_EQ(code, 2);  // not found: the user named what is not there
  EXPECT_TRUE(contains(errors, "no publisher on channel 'home/nothing/here'")) << errors;
  EXPECT_TRUE(contains(errors, "statebus ls")) << errors;

  const auto [out2, code2] = run({"hz", "bad//name"}, &errors);
  EXPECT_EQ(code2, 2);
  EXPECT_TRUE(contains(errors, "empty part")) << errors;
}

// Every subcommand given wrong names, numbers, values and files: a non-zero
// exit (never a signal or a hang) and a message naming what was wrong.
TEST_F(BusCommands, BadArgumentsToEverySubcommandAreClearErrors) {
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  const std::string not_mcap = ::testing::TempDir() + "statebus-not-" + std::to_string(::getpid()) + ".mcap";
  const std::vector<Case> cases = {
      {{}, 2, "A subcommand is required"},
      {{"frobnicate"}, 2, "unknown command 'frobnicate'; the commands are daemon, ls"},
      {{"ls", "--bogus"}, 2, "--bogus"},
      {{"echo"}, 2, "channel is required"},
      {{"echo", "bad//name"}, 2, "channel name 'bad//name' has an empty part"},
      {{"echo", "home/x", "-n", "-5"}, 2, "--count: Value -5 not in range 1 to 1000000000"},
      {{"echo", "home/x", "--history", "99"}, 2, "--history: Value 99 not in range 0 to 16"},
      {{"hz", ""}, 2, "channel name is empty"},
      {{"clock", "--rate", "-1"}, 2, "clock rate '-1': a rate has no sign"},
      {{"clock", "--rate", "-0"}, 2, "clock rate '-0': a rate has no sign"},
      {{"clock", "--rate", ""}, 2, "clock rate '': empty"},
      {{"clock", "--rate", "abc"}, 2, "clock rate 'abc': not a number"},
      {{"clock", "--rate", "1e9"}, 2, "clock rate 1e+09 is outside the supported range"},
      {{"clock", "--step", "forever"}, 2, "duration 'forever': a number is missing"},
      {{"state", "get", "no/such/cell"}, 2, "no cell 'no/such/cell' on this bus"},
      {{"record"}, 2, "--output is required"},
      {{"record", "-o", "/nonexistent/dir/x.mcap", "**"}, 1, "cannot create MCAP file /nonexistent/dir/x.mcap"},
      {{"record", "-o", "/tmp/x.mcap", "a/***/b"}, 2, "part '***' mixes '*' with other characters"},
      {{"play", "/nonexistent.mcap"}, 2, "cannot read /nonexistent.mcap: No such file or directory"},
      {{"play", not_mcap}, 2, not_mcap + " is not an MCAP file: it starts with 68 65 6C"},
      {{"log", "--level", "loud"}, 2, "unknown level 'loud'"},
      {{"play", "/dev/zero"}, 2, "/dev/zero is not a regular file"},
      {{"log", "-n", "0"}, 2, "--count: Value 0 not in range"},
      {{"daemon", "--wedge-timeout", "0"}, 2, "--wedge-timeout: Value 0 not in range 1 to 600000"},
  };
  { std::ofstream(not_mcap) << "hello, not a recording"; }
  for (const Case& c : cases) {
    std::string errors;
    const auto [out, code] = run(c.args, &errors);
    std::string line = "statebus";
    for (const auto& a : c.args) line += " '" + a + "'";
    EXPECT_EQ(code, c.code) << line << "\n" << out << errors;
    EXPECT_TRUE(contains(out + errors, c.says)) << line << " said: " << out << errors;
  }
  std::remove(not_mcap.c_str());
}

using BusCommandsWithoutDaemon = testkit::PrivateBusTest;

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
