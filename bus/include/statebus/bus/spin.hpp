#pragma once
/// How a subscriber's wait spends the time before a sample comes.

#include <chrono>

namespace statebus {

/// A wait that blocks at once (the default) sleeps in the kernel, and the
/// sample that wakes it costs a kernel wake-up: tens of µs on a VM. A wait
/// that spins first sees a sample that comes within the spin in well under
/// a µs, at the price of a core while it spins.
///
///     sub.wait(1s);                       // block: no CPU while waiting
///     sub.wait(1s, 20us);                 // spin up to 20 µs, then block
///     sub.wait(1s, Spin::adaptive());     // learn the stream's period
///
/// Spin::adaptive() is for steady streams (a sensor at 10 kHz, a control
/// loop's tick). It learns the period from the publishers' timestamps,
/// sleeps through the gap, and spins only from just before the next sample
/// is due until a little after it (at 10 kHz a share of a core near the
/// guard over the period, reported by bench/pingpong_bench). Until the
/// period is steady, or for periods over 50 ms, it spins 20 µs and blocks.
/// It sets the waiting thread's timer slack to 1 µs (PR_SET_TIMERSLACK),
/// so that its sleeps end on time.
class Spin {
 public:
  /// Block at once.
  constexpr Spin() noexcept = default;
  /// Spin up to `budget`, then block.
  template <class Rep, class Period>
  constexpr Spin(std::chrono::duration<Rep, Period> budget) noexcept  // NOLINT: implicit, so wait(1s, 20us) reads well
      : budget_(std::chrono::duration_cast<std::chrono::nanoseconds>(budget)) {}
  /// Learn the arrival period and spin around the moment a sample is due.
  static constexpr Spin adaptive() noexcept {
    Spin spin;
    spin.adaptive_ = true;
    return spin;
  }

  [[nodiscard]] constexpr std::chrono::nanoseconds budget() const noexcept { return budget_; }
  [[nodiscard]] constexpr bool is_adaptive() const noexcept { return adaptive_; }

 private:
  std::chrono::nanoseconds budget_{0};
  bool adaptive_ = false;
};

}  // namespace statebus
