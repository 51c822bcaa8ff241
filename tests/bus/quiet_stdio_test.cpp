// QuietStdio, which keeps iceoryx's start-up chatter out of our output.
#include "quiet_stdio.hpp"  // bus/src

#include <cstdio>

#include <gtest/gtest.h>

namespace statebus::detail {
namespace {

// RouDi writes "RouDi is ready for clients" and its '\n' in two steps, and
// captured_line's own fflush can push out the first without the second. The
// daemon used to end the capture on seeing the text alone, and the '\n' then
// reached the real stdout: an empty line before "statebus daemon ready",
// which scripts and tests read as the ready line.
TEST(QuietStdio, AHalfWrittenLineIsNotCapturedYet) {
  QuietStdio sut;
  std::fputs("RouDi is ready for clients", stdout);  // the line, without its end
  EXPECT_FALSE(sut.captured_line("RouDi is ready for clients"));
  std::fputs("\n", stdout);
  EXPECT_TRUE(sut.captured_line("RouDi is ready for clients"));
}

TEST(QuietStdio, TextThatNeverCameIsNotCaptured) {
  QuietStdio sut;
  std::fputs("Reserving 100 bytes\n", stdout);
  EXPECT_FALSE(sut.captured_line("RouDi is ready for clients"));
}

}  // namespace
}  // namespace statebus::detail
