// One access rule for the whole bus: the daemon's user and group. A process
// of another user, not in that group, is refused by every entry point with
// a clear "permission denied … not in that group", never a wrong diagnosis,
// and changes nothing. Run as root, with `setpriv` making the other user.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

constexpr const char* kNobody = "65534";

// Runs `argv` as user and group nobody, without supplementary groups:
// its exit code and stderr (nothing if this machine cannot switch users).
std::optional<std::pair<int, std::string>> as_nobody(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/setpriv", std::string("--reuid=") + kNobody, std::string("--regid=") + kNobody,
                             "--clear-groups"});
  auto child = ChildProcess::spawn(argv);
  if (!child) return std::nullopt;
  while (child->read_line(20s)) {
  }
  const auto status = child->wait(20s);
  if (!status || !WIFEXITED(*status)) return std::nullopt;
  return std::make_pair(WEXITSTATUS(*status), child->read_stderr(5s));
}

bool can_switch_users() {
  if (::geteuid() != 0) return false;
  const auto probe = as_nobody({"/bin/true"});
  return probe && probe->first == 0;
}

class BusAccess : public testkit::BusTest {
 protected:
  static void expect_refused(const std::pair<int, std::string>& result, const std::string& what) {
    EXPECT_NE(result.first, 0) << what << " succeeded for another user";
    EXPECT_NE(result.second.find("permission denied"), std::string::npos) << what << ": " << result.second;
    EXPECT_NE(result.second.find("is not in that group"), std::string::npos) << what << ": " << result.second;
  }
};

TEST_F(BusAccess, AnotherUserOutsideTheBussGroupIsRefusedEverywhereAndChangesNothing) {
  if (!can_switch_users()) {
    GTEST_SKIP() << "needs root and setpriv able to become nobody (a user namespace maps root alone; the "
                    "test command's second pass, on the machine's bus, runs it)";
  }
  auto cell = Cell<test::Counter>::open_or_create("test/owned", test::Counter{1});
  ASSERT_TRUE(cell);
  ASSERT_TRUE(VirtualClock::set_real());

  const auto set = as_nobody({STATEBUS_CLI, "state", "set", "test/owned", "value=999"});
  ASSERT_TRUE(set);
  expect_refused(*set, "statebus state set");
  EXPECT_EQ(cell->load().value, 1U) << "another user changed a cell";

  const auto rate = as_nobody({STATEBUS_CLI, "clock", "--rate", "1000"});
  ASSERT_TRUE(rate);
  expect_refused(*rate, "statebus clock --rate");
  EXPECT_EQ(VirtualClock::status().mode, ClockMode::real) << "another user changed the bus's clock";

  const auto ls = as_nobody({STATEBUS_CLI, "ls"});
  ASSERT_TRUE(ls);
  expect_refused(*ls, "statebus ls");
  EXPECT_EQ(ls->second.find("does not answer"), std::string::npos) << "a wrong diagnosis: " << ls->second;
}

TEST_F(BusAccess, TheBussFilesAreForItsUserAndGroupOnly) {
  for (const char* path : {"/dev/shm/statebus-clock", "/dev/shm/statebus-state", "/dev/shm/iceoryx_mgmt"}) {
    struct stat st{};
    ASSERT_EQ(::stat(path, &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0660U) << path;
  }
}

using RunDirectory = testkit::PrivateBusTest;

TEST_F(RunDirectory, TheDaemonRefusesARunDirectoryAnotherUserControls) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand a directory to another user";
  ::mkdir("/tmp/statebus", 01777);
  if (::chown("/tmp/statebus", 65534, 65534) != 0) GTEST_SKIP() << "uid 65534 does not exist here (a user namespace)";
  auto daemon = Daemon::start();
  const bool refused = !daemon;
  const std::string message = refused ? daemon.error().message() : "";
  daemon = fail(Errc::no_daemon, "");  // stop it, if it started
  ::chown("/tmp/statebus", 0, 0);
  ASSERT_TRUE(refused) << "the daemon trusted a /tmp/statebus that uid 65534 controls";
  EXPECT_NE(message.find("does not trust files in a directory another user controls"), std::string::npos) << message;
}

}  // namespace
}  // namespace statebus
