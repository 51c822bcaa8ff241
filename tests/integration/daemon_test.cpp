#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/child_process.hpp"

namespace statebus {
namespace {

using DaemonTest = testkit::PrivateBusTest;

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(DaemonTest, StartPublishesItsPidAndLimitsForClients) {
  auto sut = Daemon::start();
  ASSERT_TRUE(sut) << sut.error().message();

  const auto info = find_daemon();
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->pid, ::getpid());
  EXPECT_GE(info->max_payload, 4U * 1024U * 1024U);
  EXPECT_EQ(info->max_payload, sut->max_payload());
  EXPECT_GT(sut->shared_memory_bytes(), 0U);
  EXPECT_TRUE(exists("/dev/shm/iceoryx_mgmt"));
}

// Reaches: Daemon::start Errc::already_running
TEST_F(DaemonTest, SecondDaemonIsRefusedAndNamesTheRunningPid) {
  auto first = Daemon::start();
  ASSERT_TRUE(first) << first.error().message();

  const auto sut = Daemon::start();

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::already_running);
  EXPECT_TRUE(contains(sut.error().message(), "already running (pid " + std::to_string(::getpid()) + ")"))
      << sut.error().message();
  EXPECT_TRUE(find_daemon()) << "the refused start must leave the running daemon alone";
}

// Reaches: find_daemon Errc::no_daemon
TEST_F(DaemonTest, StopRemovesSegmentsAndClientsSeeNoDaemon) {
  auto sut = Daemon::start();
  ASSERT_TRUE(sut) << sut.error().message();

  sut->stop();

  EXPECT_FALSE(exists("/dev/shm/iceoryx_mgmt"));
  const auto info = find_daemon();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), Errc::no_daemon);
  EXPECT_TRUE(contains(info.error().message(), "statebus daemon")) << info.error().message();
  EXPECT_TRUE(Daemon::start()) << "a stopped daemon must free the bus for the next one";
}

// Reaches: Daemon::health Errc::no_daemon
// Reaches: Node::bus_health Errc::no_daemon
TEST_F(DaemonTest, AStoppedDaemonAndANodeOnItsBusSaySoInTheirHealthChecks) {
  auto daemon = Daemon::start();
  ASSERT_TRUE(daemon) << daemon.error().message();
  auto node = Node::connect("checked");
  ASSERT_TRUE(node) << node.error().message();
  ASSERT_TRUE(daemon->health()) << daemon->health().error().message();
  ASSERT_TRUE(node->bus_health()) << node->bus_health().error().message();

  daemon->stop();

  const auto health = daemon->health();
  ASSERT_FALSE(health);
  EXPECT_EQ(health.error().code(), Errc::no_daemon);
  const auto bus = node->bus_health();
  ASSERT_FALSE(bus);
  EXPECT_EQ(bus.error().code(), Errc::no_daemon);
  EXPECT_TRUE(contains(bus.error().message(), "restart")) << bus.error().message();
}

TEST_F(DaemonTest, AProcessThatStopsItsOwnDaemonBeforeItsNodeEndsExitsCleanly) {
  // Its node, a publisher and the bus log sink are destroyed after the daemon
  // (the sink by spdlog at exit): none may touch memory the daemon unmapped.
  auto child = testkit::ChildProcess::spawn({STATEBUS_TEST_CHILD, "own-daemon", "owner"});
  ASSERT_TRUE(child) << child.error().message();

  std::optional<std::string> line;
  do {
    line = child->read_line(std::chrono::seconds(10));  // spdlog's console lines come first
  } while (line && *line != "stopped");
  EXPECT_EQ(line, "stopped");
  const auto status = child->wait(std::chrono::seconds(10));

  ASSERT_TRUE(status) << "the process hung at exit";
  EXPECT_TRUE(WIFEXITED(*status)) << "ended by signal " << WTERMSIG(*status) << "\n"
                                  << child->read_stderr(std::chrono::seconds(1));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST_F(DaemonTest, RefusesWhenAnIceoryxDaemonNotOursHoldsItsLock) {
  // What iox-roudi holds while it runs: a flock on this file.
  const int fd = ::open("/tmp/iox-unique-roudi.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);

  const auto sut = Daemon::start();

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::already_running);
  EXPECT_TRUE(contains(sut.error().message(), "iox-roudi, pid " + std::to_string(::getpid())))
      << sut.error().message();
  ::close(fd);
}

TEST_F(DaemonTest, RemovesWhatACrashedDaemonLeftAndSaysSo) {
  ::mkdir("/tmp/statebus", 01777);
  std::ofstream("/tmp/statebus/daemon.info") << "pid=999999\nstart_time=1\nmax_payload=1\nmax_chunk=1\n";
  std::ofstream("/dev/shm/iceoryx_mgmt") << "stale";
  std::ofstream("/tmp/roudi.lock") << "";

  auto sut = Daemon::start();

  ASSERT_TRUE(sut) << sut.error().message();
  const auto& removed = sut->removed_leftovers();
  for (const char* path : {"/tmp/statebus/daemon.info", "/dev/shm/iceoryx_mgmt", "/tmp/roudi.lock"}) {
    EXPECT_NE(std::find(removed.begin(), removed.end(), path), removed.end()) << path;
  }
  const auto info = find_daemon();
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->pid, ::getpid());
}

// Reaches: Daemon::start Errc::invalid_argument
TEST_F(DaemonTest, EmptyOrZeroPoolsAreRefused) {
  DaemonOptions options;
  options.memory.pools.clear();
  const auto empty = Daemon::start(options);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::invalid_argument);

  options.memory.pools = {{1024, 0}};
  const auto zero = Daemon::start(options);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code(), Errc::invalid_argument);
  EXPECT_FALSE(find_daemon()) << "a refused configuration must not leave a daemon behind";
}

}  // namespace
}  // namespace statebus
