#pragma once
// The lock of an iceoryx port, as every statebus process takes it.
//
// iceoryx 2.0 guards each publisher's list of subscriber queues (and its
// history) and each subscriber queue with a process-shared pthread mutex
// that is not robust (iceoryx #1711): glibc takes the lock word first and
// records its holder's thread id a few instructions later, as a thread id of
// the holder's own PID namespace. A process that dies holding one leaves it
// held for ever, and nobody can tell for sure who holds it.
//
// statebus replaces the three calls through which iceoryx takes and leaves
// these locks (`iox::popo::ThreadSafePolicy::lock/unlock/tryLock`, which the
// iceoryx library calls through its PLT; statebus's definitions take
// precedence in every statebus process, checked by `port_locks_in_effect()`).
// Its lock keeps glibc's memory layout and uses one word of it: 0 when free,
// else the holder's place on the bus (process_slot.hpp) and thread id, with
// a waiters bit. Taking the lock and naming the holder are one
// compare-and-swap, so a lock is never held by nobody known. A recursive take
// counts in glibc's `__count`; `__nusers` stays 0, so iceoryx's
// pthread_mutex_destroy of a port still succeeds.
//
// The daemon clears a lock only once the kernel has reported the death of
// the process at the holder's place (daemon/src/port_repair.cpp, from the
// word's layout below); it never looks at thread ids, /proc or the time.
// Clients carry the lock, never that release.
//
// Thread and process safety: as a mutex; the word is shared memory written
// with atomics only. Internal to the bus and the daemon.

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace iox::popo {
class ThreadSafePolicy;
}

namespace statebus::detail {

/// The lock word: bit 31 says threads may wait in the kernel; bits 22–30
/// hold the holder's place, bits 0–21 its thread id (pid_max is at most 2^22).
inline constexpr std::uint32_t kPortLockWaiters = 1U << 31;
inline constexpr unsigned kPortLockSlotShift = 22;
inline constexpr std::uint32_t kPortLockTidMask = (1U << kPortLockSlotShift) - 1;
inline constexpr std::uint32_t kPortLockHolderMask = ~kPortLockWaiters;

/// Who holds a port lock.
struct PortLockHolder {
  std::uint32_t slot = 0;  ///< the holder's place on the bus (0: a process without one)
  pid_t tid = 0;           ///< its thread, as its own PID namespace numbers it
};

/// A port lock, seen from outside (the daemon's repairs and the tests).
class PortLockView {
 public:
  explicit PortLockView(pthread_mutex_t* mutex) noexcept : mutex_(mutex) {}
  /// The lock inside an iceoryx lock policy (a port's queue list or queue).
  static PortLockView of(const iox::popo::ThreadSafePolicy& policy) noexcept;

  /// Its holder, if it is held.
  [[nodiscard]] std::optional<PortLockHolder> holder() const noexcept;
  [[nodiscard]] pthread_mutex_t* mutex() const noexcept { return mutex_; }
  /// The lock word (kPortLockWaiters and the holder), written with atomics only.
  [[nodiscard]] std::uint32_t* word() const noexcept;

 private:
  pthread_mutex_t* mutex_;
};

/// True if iceoryx takes its port locks through statebus's lock in this
/// process (the dynamic linker bound iceoryx's calls to it). A process where
/// it is not would take the same locks glibc's way: Node::connect refuses.
bool port_locks_in_effect() noexcept;
/// What to tell a user whose program takes them glibc's way.
std::string port_locks_not_in_effect();

/// Tests only: runs right after a port lock is taken (not on a recursive
/// take), right before it is left, and right after it is free but before
/// its waiters are woken, in the taking thread.
enum class PortLockPoint { taken, leaving, left };
using PortLockHook = void (*)(PortLockPoint point, pthread_mutex_t* lock);
void set_port_lock_hook(PortLockHook hook) noexcept;

}  // namespace statebus::detail
