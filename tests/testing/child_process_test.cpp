// The test kit's child process handle, without a bus.
#include "statebus/testing/child_process.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "support/signal_interrupts.hpp"

namespace statebus::testkit {
namespace {

using namespace std::chrono_literals;
using test_support::Usr1Interrupts;

TEST(ChildProcess, StartsWithNoSignalBlockedWhateverItsParentBlocks) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigset_t before;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &stop_signals, &before), 0);  // as a launcher waiting in sigwait does
  auto sut = ChildProcess::spawn({"/bin/grep", "SigBlk", "/proc/self/status"});
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ASSERT_TRUE(sut) << sut.error().message();

  EXPECT_EQ(sut->read_line(10s), "SigBlk:\t0000000000000000");  // else SIGTERM would not stop it
}

TEST(ChildProcess, ReadLineGoesOnWaitingWhenASignalInterruptsIt) {
  Usr1Interrupts interrupts;
  auto sut = ChildProcess::spawn({"/bin/sh", "-c", interrupts.interrupt_parent_once() + "echo late\n"});
  ASSERT_TRUE(sut) << sut.error().message();

  const auto line = sut->read_line(30s);

  EXPECT_EQ(interrupts.count(), 1);
  EXPECT_EQ(line, "late");
}

TEST(ChildProcess, WaitGoesOnWaitingWhenASignalInterruptsIt) {
  Usr1Interrupts interrupts;
  auto sut = ChildProcess::spawn({"/bin/sh", "-c", interrupts.interrupt_parent_once() + "exit 3\n"});
  ASSERT_TRUE(sut) << sut.error().message();

  const auto status = sut->wait(30s);

  EXPECT_EQ(interrupts.count(), 1);
  ASSERT_TRUE(status) << "the wait ended without the child";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 3) << *status;
}

TEST(ChildProcess, WriteToAChildThatEndedIsFalseAndNoSigpipe) {
  auto sut = ChildProcess::spawn({"/bin/true"});
  ASSERT_TRUE(sut) << sut.error().message();
  ASSERT_TRUE(sut->wait(10s));  // its stdin's read end is gone with it

  EXPECT_FALSE(sut->write("anyone there?\n"));  // SIGPIPE's default action would end this test program
  sigset_t pending;
  ::sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

}  // namespace
}  // namespace statebus::testkit
