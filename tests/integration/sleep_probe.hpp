#pragma once
// Lets a test act only once another process is really asleep, waiting for
// a wake-up (not merely about to wait): the kernel names the function a
// sleeping thread waits in (/proc/<pid>/task/<tid>/wchan).

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

}  // namespace statebus::test
