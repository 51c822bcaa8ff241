// The launcher's handle on its child processes: start, read, stop.
#include "home/supervisor.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "support/signal_interrupts.hpp"

namespace home {
namespace {

using namespace std::chrono_literals;
using statebus::test_support::Usr1Interrupts;

std::string stderr_file(const std::string& name) { return ::testing::TempDir() + name + ".stderr"; }

TEST(Supervised, ASignalDuringTheGraceDoesNotCutItShort) {
  Usr1Interrupts interrupts;
  // Once SIGTERM has come, the child interrupts stop()'s grace and then ends
  // by itself, while the grace still runs.
  const std::string script = "trap 'term=1' TERM\n"
                             "echo ready\n"
                             "while [ -z \"$term\" ]; do :; done\n" +
                             interrupts.interrupt_parent_once() + "exit 0\n";
  auto sut = Supervised::start({"/bin/sh", "-c", script}, stderr_file("supervised_grace"));
  ASSERT_TRUE(sut) << sut.error().message();
  ASSERT_EQ(sut->read_line(10s), "ready");

  const int status = sut->stop(30s);

  EXPECT_EQ(interrupts.count(), 1);
  EXPECT_EQ(describe_status(status), "exit 0");
}

TEST(Supervised, ReadLineGoesOnWaitingWhenASignalInterruptsIt) {
  Usr1Interrupts interrupts;
  auto sut = Supervised::start({"/bin/sh", "-c", interrupts.interrupt_parent_once() + "echo late\n"},
                               stderr_file("supervised_read"));
  ASSERT_TRUE(sut) << sut.error().message();

  const auto line = sut->read_line(30s);

  EXPECT_EQ(interrupts.count(), 1);
  EXPECT_EQ(line, "late");
}

TEST(Supervised, AnExecutableThatCannotStartIsAnErrorNamingIt) {
  const auto sut = Supervised::start({"/nonexistent/statebus-sensor"}, stderr_file("supervised_exec"));

  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("/nonexistent/statebus-sensor"), std::string::npos) << sut.error().message();
}

TEST(Supervised, StopReportsHowAChildThatIgnoresSigtermEnded) {
  auto ends = Supervised::start({"/bin/sh", "-c", "trap '' TERM; echo ready; exit 3"}, stderr_file("supervised_exit"));
  auto stays = Supervised::start({"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 1000"},
                                 stderr_file("supervised_stays"));
  ASSERT_TRUE(ends && stays);
  ASSERT_EQ(ends->read_line(10s), "ready");
  ASSERT_EQ(stays->read_line(10s), "ready");

  EXPECT_EQ(describe_status(ends->stop(30s)), "exit 3");   // ended by itself within the grace
  EXPECT_EQ(describe_status(stays->stop(0ms)), "SIGKILL");  // no grace: SIGKILL right after SIGTERM
}

}  // namespace
}  // namespace home
