#include <dirent.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> entries(const char* dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir)) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  return names;
}

using PrivateBus = testkit::PrivateBusTest;
using SharedDaemon = testkit::BusTest;

TEST_F(PrivateBus, StartsWithNothingOfTheMachinesBus) {
  if (isolation_ == testkit::Isolation::private_namespace) {
    // Only a build tree that lives under /tmp is carried over into the private /tmp.
    for (const std::string& entry : entries("/tmp")) {
      EXPECT_TRUE(entry != "roudi" && entry != "statebus" && entry != "iox-unique-roudi.lock" && entry != "roudi.lock")
          << "private /tmp must hold nothing of a bus: " << entry;
    }
    EXPECT_TRUE(entries("/dev/shm").empty()) << "private /dev/shm must start empty";
  }
  // Either way, no daemon: the fixture refuses to share a live one.
  EXPECT_FALSE(find_daemon());
}

TEST_F(PrivateBus, SaysHowItIsolated) {
  const std::string reason = testkit::isolation_reason();
  if (isolation_ == testkit::Isolation::private_namespace) {
    EXPECT_NE(reason.find("namespace"), std::string::npos) << reason;
  } else {
    EXPECT_TRUE(reason.find("not permitted") != std::string::npos || reason == "STATEBUS_ISOLATION=off") << reason;
  }
  std::printf("isolation: %s\n", reason.c_str());  // tests/chroot/run.sh reads it
}

// Where no bus of its own can be had, a test shares the machine's: it runs
// with its own daemon there, and steps aside (a skip that says why) while a
// daemon that is not its own runs, which it leaves untouched.
TEST_F(PrivateBus, ATestOnTheMachinesBusSkipsWhileAnotherDaemonRuns) {
  auto daemon = testkit::ChildProcess::spawn({STATEBUS_CLI, "daemon"});
  ASSERT_TRUE(daemon) << daemon.error().message();
  const auto ready = daemon->read_line(20s);
  ASSERT_TRUE(ready && ready->rfind("statebus daemon ready", 0) == 0) << daemon->describe();
  const auto live = find_daemon();
  ASSERT_TRUE(live);

  // This same program, told to share the bus this test sees as the machine's.
  ASSERT_EQ(::setenv("STATEBUS_ISOLATION", "off", 1), 0);
  auto sut = testkit::ChildProcess::spawn(
      {"/proc/self/exe", "--gtest_filter=SharedDaemon.ChildProcessesShareTheTestsPrivateBus"});
  ::unsetenv("STATEBUS_ISOLATION");
  ASSERT_TRUE(sut) << sut.error().message();
  std::string out;
  while (auto line = sut->read_line(30s)) out += *line + "\n";
  const auto status = sut->wait(10s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out << sut->describe();
  EXPECT_NE(out.find("[  SKIPPED ] SharedDaemon.ChildProcessesShareTheTestsPrivateBus"), std::string::npos) << out;
  EXPECT_NE(out.find("a statebus daemon that is not this test's (pid " + std::to_string(live->pid) + ")"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("STATEBUS_ISOLATION=off"), std::string::npos) << out;

  // The daemon it stepped aside for still serves.
  EXPECT_FALSE(daemon->wait(0ms)) << daemon->describe(0ms);
  auto newcomer = testkit::ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "newcomer", "5000"});
  ASSERT_TRUE(newcomer);
  EXPECT_EQ(newcomer->read_line(20s), "ok") << newcomer->describe();
  ASSERT_TRUE(daemon->signal(SIGTERM));
  EXPECT_TRUE(daemon->wait(10s)) << daemon->describe(0ms);
}

TEST_F(PrivateBus, IsolatingTwiceKeepsTheSameBus) {
  const auto again = testkit::isolate_bus();
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, isolation_);
}

TEST_F(SharedDaemon, ChildProcessesShareTheTestsPrivateBus) {
  auto child = testkit::ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "inherited", "1000"});
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_EQ(child->read_line(10s), "ok");
}

TEST_F(SharedDaemon, ChildProcessThatCannotStartIsAnError) {
  const auto sut = testkit::ChildProcess::spawn({"/nonexistent/statebus-child"});
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("/nonexistent/statebus-child"), std::string::npos);
}

}  // namespace
}  // namespace statebus
