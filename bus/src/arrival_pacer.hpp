#pragma once
// When an adaptive wait (Spin::adaptive()) should stop sleeping and start
// spinning, learned from the stream itself.
//
// A sample that finds its subscriber asleep costs a kernel wake-up, tens of
// µs on a VM; one that finds it spinning is seen in a few hundred ns. A
// fixed spin only helps when samples come within it. For a steady stream
// (a sensor at 10 kHz, a control loop's tick) the pacer learns the period
// from the publishers' own timestamps (SampleHeader::real_time_ns), so the
// subscriber sleeps through most of the gap and spins only around the
// moment the next sample is due: poll latency at a fraction of a core.
//
// The period: an average of the intervals between samples, trusted once
// kSettle intervals in a row were within a quarter of it. An interval out
// of line (a pause, a burst, a new rate) starts the learning again.
// The guard: how early to wake before the sample is due. It is the timer's
// lateness as measured on this thread (an average that rises four times
// faster than it falls, so it sits near the usual worst case, not the
// median) plus kMargin, so the spin starts before the sample even when the
// wake-up is late. On a VM a timer fires ~40 µs late even with 1 µs of
// slack (bench/pingpong_bench, paced_subscriber), which sets the CPU share.
//
// Thread safety: none; one per subscriber, used by the thread that waits.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>

namespace statebus::detail {

class ArrivalPacer {
 public:
  using Clock = std::chrono::steady_clock;
  using ns = std::chrono::nanoseconds;

  static constexpr int kSettle = 4;
  /// Slower streams just block: a wake-up is then a small share of the gap.
  static constexpr ns kMaxPeriod{std::chrono::milliseconds(50)};
  static constexpr ns kMargin{std::chrono::microseconds(8)};
  /// The most a wake-up is believed to be late (a preempted thread is not
  /// the timer's lateness).
  static constexpr ns kMaxLate{std::chrono::microseconds(200)};
  /// Spin this long past the due time before going to sleep.
  static constexpr ns kMinTail{std::chrono::microseconds(20)};
  /// Spin that long while no period is known (plain spin-then-block).
  static constexpr ns kLearningSpin{std::chrono::microseconds(20)};

  /// A sample published at `published_ns` (CLOCK_MONOTONIC) was taken.
  void published(std::int64_t published_ns) noexcept {
    if (last_ns_ == 0 || published_ns <= last_ns_) {
      if (published_ns > last_ns_) last_ns_ = published_ns;
      return;
    }
    const std::int64_t interval = published_ns - last_ns_;
    last_ns_ = published_ns;
    if (settled_ > 0 && std::abs(interval - period_ns_) <= period_ns_ / 4) {
      period_ns_ += (interval - period_ns_) / 8;
      if (settled_ < kSettle) ++settled_;
    } else {
      period_ns_ = interval;
      settled_ = 1;
    }
  }

  /// A sleep meant to end at some moment ended `late` after it.
  void woke_late(ns late) noexcept {
    const std::int64_t l = std::clamp<std::int64_t>(late.count(), 0, kMaxLate.count());
    late_ns_ += l > late_ns_ ? (l - late_ns_) / 4 : -(late_ns_ - l) / 16;
  }

  /// The sample came while the thread still slept past the spin's start:
  /// the timer is later than believed, by an unknown amount (the data's
  /// own wake-up hides it). Nudges the guard up.
  void overslept() noexcept { woke_late(ns(late_ns_) + 2 * kMargin); }

  /// The learned period, once it is trusted.
  [[nodiscard]] std::optional<ns> period() const noexcept {
    if (settled_ < kSettle || period_ns_ > kMaxPeriod.count()) return std::nullopt;
    return ns(period_ns_);
  }

  /// When the next sample is due, if the stream is steady.
  [[nodiscard]] std::optional<Clock::time_point> due() const noexcept {
    const auto p = period();
    if (!p) return std::nullopt;
    return Clock::time_point(ns(last_ns_) + *p);
  }

  /// When to start spinning for the sample due at `due`.
  [[nodiscard]] Clock::time_point spin_from(Clock::time_point due) const noexcept {
    return due - ns(late_ns_) - kMargin;
  }

  /// When to stop spinning for the sample due at `due` and sleep.
  [[nodiscard]] Clock::time_point spin_until(Clock::time_point due) const noexcept {
    return due + std::max(kMinTail, ns(period_ns_ / 8));
  }

  [[nodiscard]] ns guard() const noexcept { return ns(late_ns_) + kMargin; }

 private:
  std::int64_t last_ns_ = 0;
  std::int64_t period_ns_ = 0;
  std::int64_t late_ns_ = 0;
  int settled_ = 0;
};

}  // namespace statebus::detail
