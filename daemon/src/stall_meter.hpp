#pragma once
// How long RouDi has made no progress, counted on the daemon's own time.
// RouDi completes a monitoring round every 100 ms and answers a client's
// request in microseconds; stuck longer than the wedge timeout means a lock
// in shared memory that it waits for forever (iceoryx #1711).
//
// Wall-clock time is the wrong measure: a daemon paused with SIGSTOP, or
// starved on a busy machine, resumes to find seconds passed since RouDi's
// last round, though RouDi was never stuck. The meter counts only time its
// own caller saw pass in small steps: the janitor ticks every 10 ms, and a
// gap between two ticks longer than `kCountedGap` (the process was stopped
// or not scheduled) counts as `kCountedGap`. RouDi's threads ran no more
// than the janitor did in such a gap; once the process runs again, RouDi's
// next round ends the stall.
//
// Thread safety: tick() from one thread (the janitor); stalled() from any.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace statebus::detail {

class StallMeter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kCountedGap{50};

  explicit StallMeter(Clock::time_point now = Clock::now()) noexcept : last_tick_(now) {}

  /// One look: `rounds` RouDi's monitoring rounds so far, `request` the
  /// number of the client request RouDi is handling (0: none).
  void tick(Clock::time_point now, std::uint64_t rounds, std::uint64_t request) noexcept {
    const auto gap = std::min<Clock::duration>(now - last_tick_, kCountedGap);
    last_tick_ = now;
    cycle_ = rounds != rounds_ ? Clock::duration::zero() : cycle_ + gap;
    rounds_ = rounds;
    request_stall_ = request == 0 || request != request_ ? Clock::duration::zero() : request_stall_ + gap;
    request_ = request;
    stalled_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(cycle_, request_stall_)).count(),
                      std::memory_order_relaxed);
  }

  /// How long RouDi has been stuck, on the meter's count.
  [[nodiscard]] std::chrono::nanoseconds stalled() const noexcept {
    return std::chrono::nanoseconds(stalled_ns_.load(std::memory_order_relaxed));
  }

 private:
  Clock::time_point last_tick_;
  std::uint64_t rounds_ = 0;
  std::uint64_t request_ = 0;
  Clock::duration cycle_{};
  Clock::duration request_stall_{};
  std::atomic<std::int64_t> stalled_ns_{0};
};

}  // namespace statebus::detail
