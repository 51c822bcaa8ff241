#pragma once
// Lets a test act only once another process is really asleep, waiting for
// a wake-up (not merely about to wait): the kernel names the function a
// sleeping thread waits in (/proc/<pid>/task/<tid>/wchan); or really
// stopped (SIGSTOP): its state letter in /proc/<pid>/stat.

#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace statebus::test {

/// True once thread `tid` (default: the main thread) of `pid` sleeps in a
/// futex wait; false if it does not within `timeout`.
inline bool sleeps_in_futex(pid_t pid, std::chrono::milliseconds timeout, pid_t tid = 0) {
  const std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid != 0 ? tid : pid) + "/wchan";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string where;
    std::ifstream(path) >> where;
    if (where.find("futex") != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
}

/// The state letter of a process (T: stopped), or '?' once it is gone.
inline char state_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() ? '?' : text[paren + 2];
}

/// True once `pid` is stopped; false if it is not within `timeout`.
inline bool stopped_within(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state_of(pid) != 'T') {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace statebus::test
