#pragma once
/// The one writer lock of statebus's shared memory (the clock's parameters,
/// each state cell): a process-shared robust pthread mutex. When its holder
/// dies, the kernel marks the lock and hands it to the next taker in one
/// atomic step, saying so (EOWNERDEAD); two processes can never both
/// believe they hold it. Internal to statebus.
///
/// What the lock guards must stay consistent by construction (a writer
/// fills a spare copy and publishes it last): a taker that inherits a dead
/// holder's lock finishes or undoes what it finds and goes on.

#include <pthread.h>

#include "statebus/base/error.hpp"

namespace statebus::detail {

/// Initialises `mutex`, in shared memory, as a process-shared robust mutex.
Result<void> init_robust_mutex(pthread_mutex_t* mutex);

/// Holds a robust mutex for its lifetime. Thread-safe as pthread mutexes are.
class RobustLock {
 public:
  enum class Try { no };  ///< tag: only try, never wait

  /// Waits for the lock.
  explicit RobustLock(pthread_mutex_t* mutex) noexcept;
  /// Takes the lock only if it is free or its holder died.
  RobustLock(pthread_mutex_t* mutex, Try) noexcept;
  ~RobustLock();
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;

  /// True if this object holds the lock.
  [[nodiscard]] bool held() const noexcept { return error_ == 0; }
  /// True if its previous holder died holding it: what it guarded may be half changed.
  [[nodiscard]] bool inherited() const noexcept { return inherited_; }
  /// Why the lock is not held (EBUSY when only trying), as pthread reports it.
  [[nodiscard]] int error() const noexcept { return error_; }
  /// A message for an error other than EBUSY.
  [[nodiscard]] Error failure(const char* what) const;

 private:
  void took(int rc) noexcept;
  pthread_mutex_t* mutex_;
  int error_ = 0;
  bool inherited_ = false;
};

}  // namespace statebus::detail
