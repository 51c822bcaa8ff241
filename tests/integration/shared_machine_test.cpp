// A bus on a shared machine, tried as its users would: the daemon's user
// (bin, under the group users), members of that group (uucp by a
// supplementary group, and by its primary group though the group database
// does not list it), and an outsider (nobody). Each test runs as root, with
// `setpriv` making the users, on the machine's bus (the test command's pass
// with STATEBUS_ISOLATION=off); where users cannot be switched (a user
// namespace maps root alone) it is skipped, saying why.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "sink_count.hpp"
#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/child_process.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

// Who runs a command: setpriv's arguments.
struct User {
  const char* uid;
  const char* gid;
  const char* groups;  // supplementary groups ("" for none)
};
constexpr User kDaemonUser{"2", "100", ""};      // bin, under the group users
constexpr User kMember{"10", "10", "100"};       // uucp, users as a supplementary group
constexpr User kPrimaryMember{"10", "100", ""};  // uucp, users as its primary group (as `sg users` makes it)
constexpr User kOutsider{"65534", "65534", ""};  // nobody
constexpr gid_t kUnnamedGroup = 4242;

std::vector<std::string> as(const User& user, std::vector<std::string> argv) {
  std::vector<std::string> prefix{"/usr/bin/setpriv", std::string("--reuid=") + user.uid,
                                  std::string("--regid=") + user.gid};
  prefix.push_back(*user.groups != '\0' ? std::string("--groups=") + user.groups : std::string("--clear-groups"));
  prefix.insert(prefix.end(), argv.begin(), argv.end());
  return prefix;
}

struct Outcome {
  int status = -1;  // exit status; 128 + N for signal N; -1: did not end
  std::string out;
  std::string err;
};

// Runs `argv` to its end (at most 30 s).
Outcome run(std::vector<std::string> argv) {
  Outcome outcome;
  auto child = ChildProcess::spawn(std::move(argv));
  if (!child) return outcome;
  while (auto line = child->read_line(30s)) outcome.out += *line + "\n";
  const auto status = child->wait(30s);
  outcome.err = child->read_stderr(5s);
  if (status && WIFEXITED(*status)) outcome.status = WEXITSTATUS(*status);
  if (status && WIFSIGNALED(*status)) outcome.status = 128 + WTERMSIG(*status);
  return outcome;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string> why_users_cannot_be_made() {
  if (::geteuid() != 0) return "needs root to make other users with setpriv";
  if (::getpwuid(2) == nullptr || ::getpwuid(10) == nullptr || ::getpwuid(65534) == nullptr ||
      ::getgrgid(100) == nullptr) {
    return "needs Debian's users bin (2), uucp (10), nobody (65534) and group users (100)";
  }
  if (::getgrgid(kUnnamedGroup) != nullptr) return "needs group id 4242 to have no name";
  const Outcome probe = run(as(kOutsider, {"/bin/true"}));
  if (probe.status != 0) {
    return "setpriv cannot become another user here (a user namespace maps root alone; the test command's "
           "pass on the machine's bus runs this test)";
  }
  return std::nullopt;
}

class SharedMachine : public testkit::PrivateBusTest {
 protected:
  void SetUp() override {
    PrivateBusTest::SetUp();
    if (IsSkipped()) return;
    if (const auto why = why_users_cannot_be_made()) GTEST_SKIP() << *why;
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->signal(SIGTERM);
      (void)daemon_->wait(20s);
      daemon_.reset();
    }
    for (const std::string& path : planted_) ::unlink(path.c_str());
    PrivateBusTest::TearDown();
  }

  // Starts `statebus daemon` as `user`; false (and its output in `said_`) if it did not get ready.
  bool start_daemon(const User& user, const std::string& umask = "022") {
    auto child = ChildProcess::spawn(
        as(user, {"/bin/sh", "-c", "umask " + umask + " && exec \"$0\" daemon", STATEBUS_CLI}));
    if (!child) return false;
    daemon_.emplace(std::move(*child));
    while (auto line = daemon_->read_line(20s)) {
      if (line->rfind("statebus daemon ready", 0) == 0) return true;
      said_ += *line + "\n";
    }
    said_ += daemon_->read_stderr(5s);
    return false;
  }
  // `text` in `path`, made by `user` (removed when the test ends).
  void plant_file(const User& user, const std::string& path, const std::string& text) {
    planted_.push_back(path);
    ASSERT_EQ(run(as(user, {"/bin/sh", "-c", "printf '%s' \"$1\" > \"$0\"", path, text})).status, 0) << path;
  }
  void plant_link(const User& user, const std::string& path, const std::string& target) {
    planted_.push_back(path);
    ASSERT_EQ(run(as(user, {"/bin/ln", "-s", target, path})).status, 0) << path;
  }

  std::optional<ChildProcess> daemon_;
  std::string said_;
  std::vector<std::string> planted_;
};

// `count` self-proving samples from a publisher run as `from` to a lossless
// sink run as `to`, on `channel`: every one arrives intact, none twice. Both
// processes go on running, in `running`.
void expect_carried_intact(const User& from, const User& to, const std::string& channel, int count,
                           std::vector<ChildProcess>& running) {
  auto sink = ChildProcess::spawn(as(to, {STATEBUS_TEST_CHILD, "patterned-sink", "sink-" + std::string(to.uid), channel,
                                          "lossless"}));
  ASSERT_TRUE(sink);
  ASSERT_EQ(sink->read_line(20s), "ready") << sink->describe();
  auto publisher = ChildProcess::spawn(
      as(from, {STATEBUS_TEST_CHILD, "patterned-publish", "publisher-" + std::string(from.uid), channel, "200", "0"}));
  ASSERT_TRUE(publisher);
  ASSERT_EQ(publisher->read_line(20s), "ready") << publisher->describe();
  ASSERT_TRUE(publisher->write("publish " + std::to_string(count) + "\n"));
  ASSERT_EQ(publisher->read_line(20s), "sent " + std::to_string(count)) << publisher->describe();
  const auto expected = static_cast<std::uint64_t>(count);
  EXPECT_EQ(test::sink_checked(*sink, expected), test::intact(expected)) << sink->describe();
  running.push_back(std::move(*sink));
  running.push_back(std::move(*publisher));
}

TEST_F(SharedMachine, MembersByEitherKindOfGroupPublishAndSubscribeIntact) {
  ASSERT_TRUE(start_daemon(kDaemonUser)) << said_;
  // The subscriber: users as its primary group, which the group database
  // does not give uucp; the publisher: users as a supplementary group.
  std::vector<ChildProcess> running;
  expect_carried_intact(kMember, kPrimaryMember, "shared/data", 1000, running);
  if (HasFatalFailure()) return;
  const Outcome ls = run(as(kMember, {STATEBUS_CLI, "ls"}));
  EXPECT_EQ(ls.status, 0) << ls.err;
  EXPECT_NE(ls.out.find("shared/data"), std::string::npos) << ls.out;
}

// Root outside the bus's group (as `sudo` runs a command): it may open every
// file anyway, so it is served as a member, never offered no memory (iceoryx
// then aborted its first loan).
TEST_F(SharedMachine, RootOutsideTheGroupPublishesAndSubscribesIntact) {
  ASSERT_TRUE(start_daemon(kDaemonUser)) << said_;
  constexpr User kRoot{"0", "0", ""};
  std::vector<ChildProcess> running;
  expect_carried_intact(kRoot, kMember, "root/data", 100, running);
  if (HasFatalFailure()) return;
  // And the other way round: a member publishes, root takes.
  expect_carried_intact(kMember, kRoot, "root/back", 100, running);
}

TEST_F(SharedMachine, AnOutsiderIsRefusedAtOnceAndCannotTakeANodesName) {
  ASSERT_TRUE(start_daemon(kDaemonUser)) << said_;
  const Outcome ls = run(as(kOutsider, {STATEBUS_CLI, "ls"}));
  EXPECT_EQ(ls.status, 1);
  EXPECT_NE(ls.err.find("permission denied"), std::string::npos) << ls.err;
  EXPECT_NE(ls.err.find("is not in that group"), std::string::npos) << ls.err;

  // Squatting a name in the run directory: nothing may be created there.
  const Outcome squat =
      run(as(kOutsider, {"/bin/sh", "-c", "echo 4242 > /tmp/statebus/node-heating.lock"}));
  EXPECT_NE(squat.status, 0) << "an outsider created a file in the run directory";
  struct stat dir{};
  ASSERT_EQ(::stat("/tmp/statebus", &dir), 0);
  EXPECT_EQ(dir.st_mode & 07777, 03770U) << "the run directory: the daemon's user, its group, setgid and sticky";
  EXPECT_EQ(dir.st_gid, 100U);

  // Squatting the node's iceoryx socket in /tmp: refused with its owner, at once.
  plant_file(kOutsider, "/tmp/sb.heating", "4242");
  const Outcome heating = run(as(kMember, {STATEBUS_TEST_CHILD, "connect", "heating", "1000"}));
  EXPECT_EQ(heating.status, 1) << heating.out << heating.err;
  EXPECT_NE(heating.out.find("not_permitted /tmp/sb.heating belongs to nobody (uid 65534)"), std::string::npos)
      << heating.out << heating.err;
  EXPECT_NE(heating.out.find("choose another node name"), std::string::npos) << heating.out;
  EXPECT_EQ(read_file("/tmp/sb.heating"), "4242");
  const Outcome other = run(as(kMember, {STATEBUS_TEST_CHILD, "connect", "heating-2", "1000"}));
  EXPECT_EQ(other.status, 0) << other.out << other.err;
}

TEST_F(SharedMachine, LinksPlantedInTmpAreRemovedNeverWrittenThrough) {
  // What an outsider may write in /tmp, pointing at a file only root may write.
  const std::string victim = "/tmp/statebus-test-victim";
  planted_.push_back(victim);
  {
    std::ofstream out(victim);
    out << "precious";
  }
  ::chmod(victim.c_str(), 0644);
  plant_link(kOutsider, "/tmp/iox-unique-roudi.lock", victim);
  plant_link(kOutsider, "/tmp/roudi.lock", victim);
  // A root daemon removes every one of them and writes none.
  auto daemon = Daemon::start();
  ASSERT_TRUE(daemon) << daemon.error().message();
  EXPECT_EQ(read_file(victim), "precious") << "the daemon wrote through a link an outsider planted";
  struct stat lock{};
  ASSERT_EQ(::lstat("/tmp/iox-unique-roudi.lock", &lock), 0);
  EXPECT_TRUE(S_ISREG(lock.st_mode)) << "iceoryx's lock is the daemon's own file now";
  daemon->stop();
}

TEST_F(SharedMachine, AnotherUsersFileWhereTheDaemonPutsItsOwnIsNamedWithItsOwner) {
  // /tmp/roudi as a plain file (iceoryx flooded its log when it met one),
  // and the clock's segment, taken first by an outsider.
  plant_file(kOutsider, "/tmp/roudi", "x");
  const Outcome first = run(as(kDaemonUser, {STATEBUS_CLI, "daemon"}));
  EXPECT_EQ(first.status, 1) << first.err;
  EXPECT_NE(first.err.find("cannot remove /tmp/roudi"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("belongs to nobody (uid 65534)"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("sudo rm /tmp/roudi"), std::string::npos) << first.err;
  EXPECT_LT(first.err.size() + first.out.size(), 2000U) << "a flood of output";
  ::unlink("/tmp/roudi");

  plant_file(kOutsider, "/dev/shm/statebus-clock", "x");
  const Outcome second = run(as(kDaemonUser, {STATEBUS_CLI, "daemon"}));
  EXPECT_EQ(second.status, 1) << second.err;
  EXPECT_NE(second.err.find("/dev/shm/statebus-clock"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("belongs to nobody (uid 65534)"), std::string::npos) << second.err;
  EXPECT_EQ(read_file("/dev/shm/statebus-clock"), "x");
}

TEST_F(SharedMachine, TheDaemonsFilesHaveTheirModesWhateverTheUmask) {
  for (const char* umask : {"000", "077"}) {
    SCOPED_TRACE(std::string("umask ") + umask);
    ASSERT_TRUE(start_daemon(kDaemonUser, umask)) << said_;
    struct stat info{};
    ASSERT_EQ(::stat("/tmp/statebus/daemon.info", &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0640U);
    struct stat dir{};
    ASSERT_EQ(::stat("/tmp/statebus", &dir), 0);
    EXPECT_EQ(dir.st_mode & 07777, 03770U);
    // A member reads the daemon's info (under 077 it was told no daemon ran)
    // and may not rewrite it (under 000 anyone could).
    const Outcome ls = run(as(kMember, {STATEBUS_CLI, "ls"}));
    EXPECT_EQ(ls.status, 0) << ls.err;
    const Outcome rewrite = run(as(kOutsider, {"/bin/sh", "-c", "echo pid=1 > /tmp/statebus/daemon.info"}));
    EXPECT_NE(rewrite.status, 0) << "an outsider rewrote daemon.info";
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait(20s));
    daemon_.reset();
  }
}

TEST_F(SharedMachine, ADaemonUnderAGroupWithoutANameRefusesSayingWhy) {
  const Outcome daemon = run(as(User{"2", "4242", ""}, {STATEBUS_CLI, "daemon"}));
  EXPECT_EQ(daemon.status, 1) << "ended by iceoryx instead of refusing: " << daemon.err;
  EXPECT_NE(daemon.err.find("group id 4242, which has no entry in the group database"), std::string::npos)
      << daemon.err;
  EXPECT_NE(daemon.err.find("groupadd -g 4242"), std::string::npos) << daemon.err;
}

}  // namespace
}  // namespace statebus
