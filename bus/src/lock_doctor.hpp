#pragma once
// Releases the locks in the bus's shared memory that a killed process left
// held (iceoryx #1711). iceoryx 2.0 guards each publisher's list of
// subscriber queues and each subscriber's queue with a process-shared mutex
// that is not robust: a process SIGKILLed inside publish() leaves it held for
// ever, and RouDi's cleanup of that process, then every client's request,
// wait for it. The doctor finds a locked mutex whose owner thread no longer
// exists and releases it, so cleanup and discovery go on.
//
// Thread safety: scan() from one thread at a time (the daemon's doctor
// thread). It reads the port lists without RouDi's lock (a wedged RouDi
// holds it), which is safe because the ports live in a fixed pool that stays
// mapped. A mutex is released only once its owner is proven dead, and then
// nobody else can hold it.

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace iox::roudi {
class PortPool;
}

namespace statebus::detail {

/// One lock released.
struct LockRepair {
  pid_t dead_thread = 0;  ///< the thread (of a killed process) that held it; 0 if it had not said
  std::string port;       ///< "the publisher of channel home/x (node web)"
  /// How long after the death at most: the time since the previous scan,
  /// which found the lock free or its owner alive.
  std::chrono::nanoseconds within{};
};

/// A thread records itself as a lock's owner just after taking it and
/// clears that just before letting go: killed in between, it leaves the lock
/// held by nobody known. A lock seen so for `kAnonymousGrace` on every scan
/// is released too (a live thread spends a few instructions there).
class LockDoctor {
 public:
  static constexpr std::chrono::milliseconds kAnonymousGrace{200};

  explicit LockDoctor(iox::roudi::PortPool& pool) noexcept : pool_(pool) {}
  /// One pass over the lock of every publisher and subscriber port; releases
  /// each whose owner thread no longer exists. Returns what it released.
  std::vector<LockRepair> scan();
  /// Locks released so far. Counted before each release: a thread that got
  /// a released lock sees the count include it. Thread-safe.
  [[nodiscard]] std::uint64_t released() const noexcept { return released_.load(std::memory_order_acquire); }

 private:
  iox::roudi::PortPool& pool_;
  std::atomic<std::uint64_t> released_{0};
  std::chrono::steady_clock::time_point previous_scan_ = std::chrono::steady_clock::now();
  struct Anonymous {
    std::chrono::steady_clock::time_point since;
    bool seen = false;
  };
  std::unordered_map<pthread_mutex_t*, Anonymous> anonymous_;  // held, owner 0
};

/// For tests that make a process die holding a lock: the lock of the first
/// publisher (or subscriber) port on `channel` of the daemon running in this
/// process (nullptr if there is none). Not thread-safe with the daemon's stop.
pthread_mutex_t* publisher_lock_of(std::string_view channel) noexcept;
pthread_mutex_t* subscriber_lock_of(std::string_view channel) noexcept;

/// The daemon in this process registers its port pool here (nullptr on stop).
void register_port_pool(iox::roudi::PortPool* pool) noexcept;

}  // namespace statebus::detail
