#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using NodeWithoutDaemon = testkit::PrivateBusTest;
using NodeTest = testkit::BusTest;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Reaches: Node::connect Errc::no_daemon
TEST_F(NodeWithoutDaemon, FailsWithinItsTimeoutNamingTheDaemonCommand) {
  const auto started = std::chrono::steady_clock::now();

  const auto sut = Node::connect("lonely");

  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::no_daemon);
  EXPECT_TRUE(contains(sut.error().message(), "`statebus daemon`")) << sut.error().message();
  // The point is "about a second, not iceoryx's 60 s and an abort"; the bound
  // is loose because this machine is shared.
  EXPECT_GE(elapsed, 1s);
  EXPECT_LT(elapsed, 10s);
}

TEST_F(NodeWithoutDaemon, TimeoutIsConfigurable) {
  NodeOptions options;
  options.connect_timeout = std::chrono::milliseconds(0);
  const auto sut = Node::connect("lonely", options);
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::no_daemon);
}

// The run directory is left as found when the last of its users goes,
// whoever that is: a process that outlives the daemon removes it with its
// name lock. (Left behind, it kept the daemon's owner and group, and a
// daemon of another user and group could put no lock in it.)
TEST_F(NodeWithoutDaemon, TheLastProcessToLeaveRemovesTheRunDirectory) {
  auto daemon = Daemon::start();
  ASSERT_TRUE(daemon) << daemon.error().message();
  auto holder = testkit::ChildProcess::spawn({STATEBUS_TEST_CHILD, "hold", "outliver"});
  ASSERT_TRUE(holder) << holder.error().message();
  ASSERT_EQ(holder->read_line(10s), "ready") << holder->describe();
  daemon->stop();
  struct stat dir {};
  ASSERT_EQ(::stat("/tmp/statebus", &dir), 0) << "the holder's name lock keeps it";

  holder->close_stdin();
  ASSERT_TRUE(holder->wait(10s)) << holder->describe();

  EXPECT_NE(::stat("/tmp/statebus", &dir), 0) << "an empty run directory was left behind";
  EXPECT_EQ(errno, ENOENT);
}

// Reaches: Node::connect Errc::invalid_argument
TEST_F(NodeTest, InvalidNameIsRefusedBeforeIceoryxSeesIt) {
  const auto sut = Node::connect("bad name");
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(contains(sut.error().message(), "' ' at position 3")) << sut.error().message();
}

// Reaches: Node::connect Errc::name_in_use
TEST_F(NodeTest, NameHeldByAnotherProcessIsRefusedWithItsPid) {
  auto holder = testkit::ChildProcess::spawn({STATEBUS_TEST_CHILD, "hold", "taken"});
  ASSERT_TRUE(holder) << holder.error().message();
  ASSERT_EQ(holder->read_line(10s), "ready");

  const auto sut = Node::connect("taken");

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::name_in_use);
  EXPECT_TRUE(contains(sut.error().message(), "pid " + std::to_string(holder->pid()))) << sut.error().message();
  holder->close_stdin();
  const auto status = holder->wait(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(NodeTest, NameOfAProcessThatEndedCanBeTakenAgain) {
  {
    auto first = testkit::ChildProcess::spawn({STATEBUS_TEST_CHILD, "hold", "reused"});
    ASSERT_TRUE(first) << first.error().message();
    ASSERT_EQ(first->read_line(10s), "ready");
    first->close_stdin();
    ASSERT_TRUE(first->wait(10s));
  }
  auto second = testkit::ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "reused", "1000"});
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->read_line(10s), "ok");
}

// Reaches: Node::connect Errc::already_connected
TEST_F(NodeTest, OneProcessHasOneName) {
  const auto sut = Node::connect("first");
  ASSERT_TRUE(sut) << sut.error().message();

  const auto again = Node::connect("first");
  const auto other = Node::connect("second");

  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->name(), "first");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Errc::already_connected);
  EXPECT_TRUE(contains(other.error().message(), "already on the bus as 'first'")) << other.error().message();
}

TEST_F(NodeTest, NodeKnowsTheDaemonsLargestPayload) {
  const auto sut = Node::connect("sizer");
  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_EQ(sut->max_payload(), daemon_->max_payload());
}

}  // namespace
}  // namespace statebus
