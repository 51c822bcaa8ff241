// QuietStdio, which keeps iceoryx's start-up chatter out of our output.
#include "quiet_stdio.hpp"  // daemon/src

#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

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

// Looking at the capture must not move the offset its writers share: a line
// another thread writes meanwhile would land over earlier ones.
TEST(QuietStdio, LookingAtTheCaptureLosesNothingAnotherThreadWrites) {
  constexpr int kLines = 20000;
  std::string seen;
  {
    QuietStdio sut;
    std::thread writer([] {
      for (int i = 0; i < kLines; ++i) {
        const std::string line = "line " + std::to_string(i) + "\n";
        if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return;
      }
      const char end[] = "the end\n";
      if (::write(STDOUT_FILENO, end, sizeof end - 1) < 0) return;
    });
    while (!sut.captured_line("the end")) {
    }
    writer.join();
    seen = sut.text();
  }
  int lines = 0;
  for (std::size_t at = seen.find("line "); at != std::string::npos; at = seen.find("line ", at + 1)) ++lines;
  EXPECT_EQ(lines, kLines);
}

}  // namespace
}  // namespace statebus::detail
