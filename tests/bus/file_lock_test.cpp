// Who holds a flock, read from /proc/locks; lock files in shared directories.
#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

#include "statebus/internal/file_lock.hpp"

namespace {

TEST(FlockHolder, MatchesTheDeviceAsWellAsTheInode) {
  // Two private /tmp (two tmpfs) with a lock each on inode 7: only the
  // second line is the file asked about (device 0:43).
  std::istringstream locks(
      "1: FLOCK  ADVISORY  WRITE 1111 00:2a:7 0 EOF\n"
      "2: FLOCK  ADVISORY  WRITE 2222 00:2b:7 0 EOF\n"
      "3: POSIX  ADVISORY  WRITE 3333 fd:01:77 0 EOF\n");
  EXPECT_EQ(statebus::detail::find_flock_holder(locks, makedev(0, 0x2b), 7), 2222);
}

TEST(FlockHolder, ReadsWaitersAndNothingElse) {
  std::istringstream waiter("4: -> FLOCK  ADVISORY  WRITE 4444 fd:01:9 0 EOF\n");
  EXPECT_EQ(statebus::detail::find_flock_holder(waiter, makedev(0xfd, 1), 9), 4444);
  std::istringstream other("5: FLOCK  ADVISORY  WRITE 5555 fd:01:19 0 EOF\n");
  EXPECT_EQ(statebus::detail::find_flock_holder(other, makedev(0xfd, 1), 9), std::nullopt);
}

}  // namespace

namespace {

// A lock file in a directory others may write to: never opened through a
// link someone planted there, never written when it is not a plain file of
// its own.
class FileLockInASharedDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/statebus-file-lock-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    victim_ = dir_ + "/victim";
    std::ofstream(victim_) << "precious";
  }
  void TearDown() override {
    for (const char* name : {"/victim", "/lock"}) ::unlink((dir_ + name).c_str());
    ::rmdir(dir_.c_str());
  }
  std::string contents(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string dir_;
  std::string victim_;
};

TEST_F(FileLockInASharedDirectory, ASymbolicLinkIsRefusedAndItsTargetLeftAlone) {
  const std::string lock = dir_ + "/lock";
  ASSERT_EQ(::symlink(victim_.c_str(), lock.c_str()), 0);
  statebus::detail::FileLock held;
  pid_t holder = 0;
  int error = 0;
  EXPECT_EQ(statebus::detail::FileLock::try_acquire(lock, held, holder, error),
            statebus::detail::FileLock::Outcome::failed);
  EXPECT_EQ(error, ELOOP);
  EXPECT_EQ(contents(victim_), "precious");
  const std::string message = statebus::detail::lock_failure(lock, error);
  EXPECT_NE(message.find("is a symbolic link"), std::string::npos) << message;
  EXPECT_NE(message.find("remove it"), std::string::npos) << message;
}

TEST_F(FileLockInASharedDirectory, AHardLinkToAnotherFileIsRefusedAndLeftAlone) {
  const std::string lock = dir_ + "/lock";
  ASSERT_EQ(::link(victim_.c_str(), lock.c_str()), 0);
  statebus::detail::FileLock held;
  pid_t holder = 0;
  int error = 0;
  EXPECT_EQ(statebus::detail::FileLock::try_acquire(lock, held, holder, error),
            statebus::detail::FileLock::Outcome::failed);
  EXPECT_EQ(contents(victim_), "precious");
  EXPECT_NE(statebus::detail::lock_failure(lock, error).find("not a plain file of its own"), std::string::npos);
}

TEST_F(FileLockInASharedDirectory, ANewLockIsForItsUserAndGroupWhateverTheUmask) {
  const std::string lock = dir_ + "/lock";
  const mode_t previous = ::umask(0);
  statebus::detail::FileLock held;
  pid_t holder = 0;
  int error = 0;
  const auto outcome = statebus::detail::FileLock::try_acquire(lock, held, holder, error);
  ::umask(previous);
  ASSERT_EQ(outcome, statebus::detail::FileLock::Outcome::acquired);
  struct stat st{};
  ASSERT_EQ(::stat(lock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
  EXPECT_EQ(contents(lock), std::to_string(::getpid()) + "\n");
}

}  // namespace
