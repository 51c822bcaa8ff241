#include "statebus/internal/port_lock.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "iceoryx_hoofs/internal/posix_wrapper/mutex.hpp"
#include "iceoryx_posh/internal/popo/building_blocks/locking_policy.hpp"
#include "interposition.hpp"
#include "statebus/internal/process_slot.hpp"

namespace statebus::detail {
namespace {

static_assert(kProcessSlots <= (1U << (31 - kPortLockSlotShift)), "a place must fit the word's place bits");

// The layouts this file relies on (glibc 2.36 on x86_64, iceoryx 2.0.3): a
// policy is one posix::mutex, which is one pthread_mutex_t, whose first
// field is the lock word. A different iceoryx or libc fails to build here
// instead of sharing a lock with another protocol.
static_assert(sizeof(pthread_mutex_t) == 40 && alignof(pthread_mutex_t) == 8, "glibc's x86_64 pthread_mutex_t");
static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0 && offsetof(pthread_mutex_t, __data.__count) == 4 &&
                  offsetof(pthread_mutex_t, __data.__owner) == 8 && offsetof(pthread_mutex_t, __data.__nusers) == 12,
              "glibc's pthread_mutex_t fields");
static_assert(sizeof(iox::posix::mutex) == sizeof(pthread_mutex_t), "iceoryx 2.0.3's posix::mutex is its handle alone");
static_assert(sizeof(iox::popo::ThreadSafePolicy) == sizeof(iox::posix::mutex),
              "iceoryx 2.0.3's ThreadSafePolicy is its mutex alone");

std::atomic<PortLockHook> g_hook{nullptr};

// A thread's id never changes, but a forked child's thread has a new one.
std::atomic<unsigned> g_fork_generation{1};
const int g_fork_hook = ::pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1); });

pid_t this_thread_id() noexcept {
  static thread_local pid_t tid = 0;
  static thread_local unsigned generation = 0;
  const unsigned now = g_fork_generation.load(std::memory_order_relaxed);
  if (generation != now) {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    generation = now;
  }
  return tid;
}

std::uint32_t this_holder() noexcept {
  return (process_slot() << kPortLockSlotShift) | (static_cast<std::uint32_t>(this_thread_id()) & kPortLockTidMask);
}

std::uint32_t* word_of(pthread_mutex_t* mutex) noexcept {
  return reinterpret_cast<std::uint32_t*>(&mutex->__data.__lock);
}

// Not FUTEX_PRIVATE: the waiters and the waker are in different processes.
void futex(std::uint32_t* word, int op, std::uint32_t value) noexcept {
  ::syscall(SYS_futex, word, op, value, nullptr, nullptr, 0);
}

void run_hook(PortLockPoint point, pthread_mutex_t* mutex) noexcept {
  if (const PortLockHook hook = g_hook.load(std::memory_order_relaxed)) hook(point, mutex);
}

void note_taken(pthread_mutex_t* mutex) noexcept {
  mutex->__data.__count = 1;
  __atomic_store_n(&mutex->__data.__owner, this_thread_id(), __ATOMIC_RELAXED);  // for debuggers only
  run_hook(PortLockPoint::taken, mutex);
}

// Takes the lock after a first try failed: marks it contended and sleeps
// until the word changes; a lock taken from here keeps the waiters bit (other
// threads may still sleep), so its unlock wakes the next one.
void take_contended(std::uint32_t* word, std::uint32_t me) noexcept {
  for (;;) {
    std::uint32_t seen = __atomic_load_n(word, __ATOMIC_RELAXED);
    if ((seen & kPortLockHolderMask) == 0) {
      if (__atomic_compare_exchange_n(word, &seen, me | kPortLockWaiters, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        return;
      }
      continue;
    }
    if ((seen & kPortLockWaiters) == 0) {
      if (!__atomic_compare_exchange_n(word, &seen, seen | kPortLockWaiters, false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED)) {
        continue;
      }
      seen |= kPortLockWaiters;
    }
    futex(word, FUTEX_WAIT, seen);  // returns at once if the word changed meanwhile
  }
}

void take(pthread_mutex_t* mutex) noexcept {
  std::uint32_t* word = word_of(mutex);
  const std::uint32_t me = this_holder();
  std::uint32_t seen = 0;
  if (!__atomic_compare_exchange_n(word, &seen, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    if ((seen & kPortLockHolderMask) == me) {  // iceoryx's locks are recursive
      ++mutex->__data.__count;
      return;
    }
    take_contended(word, me);
  }
  note_taken(mutex);
}

bool try_take(pthread_mutex_t* mutex) noexcept {
  std::uint32_t* word = word_of(mutex);
  const std::uint32_t me = this_holder();
  std::uint32_t seen = 0;
  if (__atomic_compare_exchange_n(word, &seen, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    note_taken(mutex);
    return true;
  }
  if ((seen & kPortLockHolderMask) != me) return false;
  ++mutex->__data.__count;
  return true;
}

void leave(pthread_mutex_t* mutex) noexcept {
  if (--mutex->__data.__count != 0) return;
  run_hook(PortLockPoint::leaving, mutex);
  __atomic_store_n(&mutex->__data.__owner, 0, __ATOMIC_RELAXED);
  // Release order: what the holder wrote is visible to the next holder.
  const std::uint32_t previous = __atomic_exchange_n(word_of(mutex), 0U, __ATOMIC_RELEASE);
  if ((previous & kPortLockWaiters) == 0) return;
  run_hook(PortLockPoint::left, mutex);
  futex(word_of(mutex), FUTEX_WAKE, 1);
}

pthread_mutex_t* mutex_of(const iox::popo::ThreadSafePolicy& policy) noexcept {
  return reinterpret_cast<pthread_mutex_t*>(const_cast<iox::popo::ThreadSafePolicy*>(&policy));
}

}  // namespace

PortLockView PortLockView::of(const iox::popo::ThreadSafePolicy& policy) noexcept {
  return PortLockView(mutex_of(policy));
}

std::optional<PortLockHolder> PortLockView::holder() const noexcept {
  const std::uint32_t word = __atomic_load_n(word_of(mutex_), __ATOMIC_ACQUIRE) & kPortLockHolderMask;
  if (word == 0) return std::nullopt;
  return PortLockHolder{word >> kPortLockSlotShift, static_cast<pid_t>(word & kPortLockTidMask)};
}

std::uint32_t* PortLockView::word() const noexcept { return word_of(mutex_); }

bool port_locks_in_effect() noexcept {
  (void)g_fork_hook;
  return bound_to_object_of(reinterpret_cast<const void*>(&port_locks_in_effect),
                            {"_ZNK3iox4popo16ThreadSafePolicy4lockEv", "_ZNK3iox4popo16ThreadSafePolicy6unlockEv",
                             "_ZNK3iox4popo16ThreadSafePolicy7tryLockEv"});
}

std::string port_locks_not_in_effect() {
  return not_interposed("takes iceoryx's port locks",
                        "a process that took those locks the other way could corrupt the bus");
}

void set_port_lock_hook(PortLockHook hook) noexcept { g_hook.store(hook, std::memory_order_relaxed); }

}  // namespace statebus::detail

// iceoryx's port lock policy, taken the statebus way (see port_lock.hpp).
// These definitions take the place of the iceoryx library's own.
void iox::popo::ThreadSafePolicy::lock() const noexcept { statebus::detail::take(statebus::detail::mutex_of(*this)); }

void iox::popo::ThreadSafePolicy::unlock() const noexcept {
  statebus::detail::leave(statebus::detail::mutex_of(*this));
}

bool iox::popo::ThreadSafePolicy::tryLock() const noexcept {
  return statebus::detail::try_take(statebus::detail::mutex_of(*this));
}
