#include <dirent.h>

#include <chrono>
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

using PrivateBus = testing::PrivateBusTest;
using SharedDaemon = testing::BusTest;

TEST_F(PrivateBus, StartsWithNothingOfTheMachinesBus) {
  if (isolation_ == testing::Isolation::private_namespace) {
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

TEST_F(PrivateBus, IsolatingTwiceKeepsTheSameBus) {
  const auto again = testing::isolate_bus();
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, isolation_);
}

TEST_F(SharedDaemon, ChildProcessesShareTheTestsPrivateBus) {
  auto child = testing::ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "inherited", "1000"});
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_EQ(child->read_line(10s), "ok");
}

TEST_F(SharedDaemon, ChildProcessThatCannotStartIsAnError) {
  const auto sut = testing::ChildProcess::spawn({"/nonexistent/statebus-child"});
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("/nonexistent/statebus-child"), std::string::npos);
}

}  // namespace
}  // namespace statebus
