#pragma once
// A signal that interrupts a blocking call of the test, at a moment the test
// does not choose and without sleeping: SIGUSR1 handled without SA_RESTART
// (as in a process whose handlers are not written for the code under test),
// sent by a shell child once the test's thread sleeps in a system call.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace statebus::test_support {

namespace usr1 {
inline volatile sig_atomic_t interruptions = 0;
inline int answer_fd = -1;

inline void on_signal(int) {
  interruptions = interruptions + 1;
  const char newline = '\n';
  [[maybe_unused]] const ssize_t n = ::write(answer_fd, &newline, 1);  // async-signal-safe
}
}  // namespace usr1

/// For its lifetime SIGUSR1 runs a handler installed without SA_RESTART
/// (a blocking call it interrupts fails with EINTR), which counts and answers
/// a line on a pipe whose read end children inherit. The test process must
/// be single-threaded (see interrupt_parent_once()).
class Usr1Interrupts {
 public:
  Usr1Interrupts() {
    EXPECT_EQ(::pipe(answer_), 0);
    ::fcntl(answer_[1], F_SETFD, FD_CLOEXEC);  // children inherit the read end only
    usr1::answer_fd = answer_[1];
    usr1::interruptions = 0;
    struct sigaction action {};
    action.sa_handler = usr1::on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART
    ::sigaction(SIGUSR1, &action, &old_);
  }
  ~Usr1Interrupts() {
    ::sigaction(SIGUSR1, &old_, nullptr);
    usr1::answer_fd = -1;
    ::close(answer_[0]);
    ::close(answer_[1]);
  }
  Usr1Interrupts(const Usr1Interrupts&) = delete;
  Usr1Interrupts& operator=(const Usr1Interrupts&) = delete;

  /// How many times the handler ran.
  [[nodiscard]] int count() const noexcept { return static_cast<int>(usr1::interruptions); }

  /// Shell lines (for `/bin/sh -c`, a child of this process) that wait until
  /// this process sleeps in a system call, interrupt it with SIGUSR1, wait
  /// for the handler's answer, then wait until this process sleeps again:
  /// after them, the call was interrupted and this process went back to
  /// sleep (or is past it). Single-threaded, this process's state in
  /// /proc/PID/stat is its test thread's: 'S' only inside a blocking call,
  /// 'R' from the moment its handler runs until it blocks again.
  [[nodiscard]] std::string interrupt_parent_once() const {
    return "parent_sleeps() { read -r _ _ state _ < /proc/$PPID/stat; [ \"$state\" = S ]; }\n"
           "until parent_sleeps; do :; done\n"
           "kill -USR1 $PPID\n"
           "read -r answer < /dev/fd/" + std::to_string(answer_[0]) + "\n"
           "until parent_sleeps; do :; done\n";
  }

 private:
  int answer_[2] = {-1, -1};
  struct sigaction old_ {};
};

}  // namespace statebus::test_support
