#include "statebus/base/process.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace statebus {
namespace {

TEST(ProcessId, ThisProcessIsAlive) {
  const ProcessId sut = this_process();
  EXPECT_EQ(sut.pid, ::getpid());
  EXPECT_GT(sut.start_time, 0U);
  EXPECT_TRUE(is_alive(sut));
}

TEST(ProcessId, SamePidWithAnotherStartTimeIsNotAlive) {
  ProcessId sut = this_process();
  sut.start_time += 1;
  EXPECT_FALSE(is_alive(sut));
}

TEST(ProcessId, ReapedChildIsNotAlive) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  const auto start = process_start_time(child);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(start.has_value() || !is_alive({child, 0}));
  EXPECT_FALSE(is_alive({child, start.value_or(0)}));
}

TEST(ProcessId, NonPositivePidHasNoStartTime) {
  EXPECT_FALSE(process_start_time(0));
  EXPECT_FALSE(process_start_time(-1));
}

}  // namespace
}  // namespace statebus
