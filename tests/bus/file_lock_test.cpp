// Who holds a flock, read from /proc/locks.
#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include <sstream>

#include "file_lock.hpp"

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
