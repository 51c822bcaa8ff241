#pragma once
/// The one way a statebus thread sleeps until another thread or process
/// signals it through shared memory: a futex event count in one 32-bit
/// word. Bit 0 says "a waiter may sleep"; the other bits count events.
/// Used by the state cells' waits, the clock's wake words and the lockstep
/// bells. Internal to statebus.
///
/// The waiter:  for (;;) { ticket = ec.prepare(); if (ready()) break; ec.sleep(ticket, ns); }
/// The signaller: makes ready() true, then ec.notify().
///
/// Contract (each line a test or an argument below):
/// - No lost wake-up: if ready() was false after prepare(), a notify() that
///   follows the change wakes the sleeper, or makes its sleep return at once
///   (the word moved past the ticket). prepare() raises the bit with a
///   read-modify-write before ready() is read; notify() counts and clears
///   the bit in one read-modify-write after the change: in the seq_cst order
///   either the waiter's check sees the change, or notify() sees the bit (or
///   a word that already moved past the ticket).
/// - Crash-safe: a waiter killed asleep leaves at most the bit, which the
///   next notify() clears for one needless wake-up; no count of sleepers is
///   kept, so none can leak.
/// - Cheap without sleepers: notify() is one uncontended read-modify-write
///   and no system call while nobody announced a sleep.
/// - Address-free and lock-free: a plain word in a shared mapping; any
///   number of waiters and signallers in any processes.

#include <atomic>
#include <cstdint>

#include "statebus/internal/futex.hpp"

namespace statebus::detail {

class EventCount {
 public:
  static constexpr std::uint32_t kSleepers = 1U;
  static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the word lives in shared memory");

  explicit EventCount(std::atomic<std::uint32_t>& word) noexcept : word_(word) {}

  /// Announces a waiter and returns the ticket to sleep on: call it before
  /// the waiter's last look at its condition.
  std::uint32_t prepare() noexcept {
    std::uint32_t seen = word_.load(std::memory_order_seq_cst);
    while ((seen & kSleepers) == 0 &&
           !word_.compare_exchange_weak(seen, seen | kSleepers, std::memory_order_seq_cst)) {
    }
    return seen | kSleepers;
  }

  /// Sleeps while no event came since prepare() gave `ticket`, at most
  /// `timeout_ns`. False if it slept the whole time.
  bool sleep(std::uint32_t ticket, std::int64_t timeout_ns) noexcept { return futex_wait(word_, ticket, timeout_ns); }

  /// True if an event came since the ticket (or since the word read as
  /// `seen`, with or without the bit).
  [[nodiscard]] bool moved_since(std::uint32_t seen) const noexcept {
    return (word_.load(std::memory_order_seq_cst) | kSleepers) != (seen | kSleepers);
  }

  /// Takes back the announcement prepare() made with `ticket`, if no event
  /// came since (else the signaller cleared it already). Only for a word
  /// with one waiter (a lockstep loop's bell): another waiter's
  /// announcement would be taken back too. A waiter that found its
  /// condition met after prepare() calls it, so that the next notify()
  /// makes no system call for a sleeper that never slept.
  void withdraw(std::uint32_t ticket) noexcept {
    std::uint32_t expected = ticket;
    (void)word_.compare_exchange_strong(expected, ticket & ~kSleepers, std::memory_order_seq_cst);
  }

  /// The word now, to compare with moved_since() later (raises no bit).
  [[nodiscard]] std::uint32_t current() const noexcept { return word_.load(std::memory_order_seq_cst); }

  /// Counts an event; true if a waiter may sleep (wake() must follow).
  /// Split from wake() only for tests that stop a signaller between the two.
  bool count() noexcept {
    std::uint32_t seen = word_.load(std::memory_order_relaxed);
    while (!word_.compare_exchange_weak(seen, (seen & ~kSleepers) + 2U, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
    }
    return (seen & kSleepers) != 0;
  }
  /// Wakes every sleeper.
  void wake() noexcept { futex_wake_all(word_); }

  /// Counts an event and wakes the sleepers, if any announced themselves.
  void notify() noexcept {
    if (count()) wake();
  }

  /// Whether a waiter announced itself since the last event (for tests and
  /// diagnostics).
  [[nodiscard]] bool may_have_sleepers() const noexcept {
    return (word_.load(std::memory_order_seq_cst) & kSleepers) != 0;
  }

 private:
  std::atomic<std::uint32_t>& word_;
};

}  // namespace statebus::detail
