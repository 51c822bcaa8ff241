#pragma once
/// Process-shared futex calls on words in shared memory (the clock's and the
/// state cells' wake words). Internal to statebus.

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <climits>
#include <cstdint>

namespace statebus::detail {

/// Sleeps while `word` holds `expected`, for at most `timeout_ns`; returns
/// early on a wake-up, a signal or a changed word. Not FUTEX_PRIVATE: waiters
/// and wakers are in different processes. False if it slept the whole timeout.
inline bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::int64_t timeout_ns) noexcept {
  const timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000),
                         static_cast<long>(timeout_ns % 1'000'000'000)};
  const long rc =
      ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &timeout, nullptr, 0);
  return rc == 0 || errno != ETIMEDOUT;
}

/// Wakes every process sleeping on `word`.
inline void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace statebus::detail
