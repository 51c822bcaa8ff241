// Stopping the daemon cleanly, with the heating demo's controller on its bus.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/child_process.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using HomeOnItsOwnDaemon = testkit::PrivateBusTest;

// Stopping the daemon cleanly (SIGTERM) never crashes a client: the heating
// learns at once that its daemon has stopped, says so, and ends with status
// 1 by its own choice, in every one of 50 runs (a supervisor restarts it).
TEST_F(HomeOnItsOwnDaemon, StoppingTheDaemonLetsTheHeatingEndByItsOwnChoiceEveryTime) {
  for (int run = 1; run <= 50; ++run) {
    auto daemon = testkit::ChildProcess::spawn({STATEBUS_CLI, "daemon"});
    ASSERT_TRUE(daemon);
    std::optional<std::string> line;
    while ((line = daemon->read_line(20s)) && line->rfind("statebus daemon ready", 0) != 0) {
    }
    ASSERT_TRUE(line) << daemon->describe();
    auto heating = testkit::ChildProcess::spawn({STATEBUS_HOME_DIR "/statebus-heating"});
    ASSERT_TRUE(heating);
    ASSERT_EQ(heating->read_line(20s), "ready") << heating->describe();
    ASSERT_TRUE(daemon->signal(SIGTERM));
    const auto stopped = daemon->wait(10s);
    EXPECT_TRUE(stopped && WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0)
        << "run " << run << ": " << daemon->describe();
    const auto ended = heating->wait(10s);
    ASSERT_TRUE(ended) << "run " << run << ": the heating did not end after its daemon stopped";
    EXPECT_TRUE(WIFEXITED(*ended) && WEXITSTATUS(*ended) == 1)
        << "run " << run << ": the heating ended with wait status " << *ended << ": " << heating->describe();
    const std::string said = heating->read_stderr(2s);
    EXPECT_NE(said.find("lost the bus"), std::string::npos) << "run " << run << ": " << said;
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace statebus
