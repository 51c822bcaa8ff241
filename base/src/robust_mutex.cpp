#include "statebus/internal/robust_mutex.hpp"

#include <cerrno>
#include <string>

namespace statebus::detail {

Result<void> init_robust_mutex(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return fail(Errc::system_error, "cannot initialise a shared mutex: " + errno_text(rc));
  return {};
}

RobustLock::RobustLock(pthread_mutex_t* mutex) noexcept : mutex_(mutex) { took(pthread_mutex_lock(mutex_)); }

RobustLock::RobustLock(pthread_mutex_t* mutex, Try) noexcept : mutex_(mutex) { took(pthread_mutex_trylock(mutex_)); }

void RobustLock::took(int rc) noexcept {
  if (rc == EOWNERDEAD) {
    // The holder died: the lock is ours. Marked consistent at once: what it
    // guards is consistent by construction, and a lock left unmarked would
    // become unusable (ENOTRECOVERABLE) for everyone.
    inherited_ = true;
    rc = pthread_mutex_consistent(mutex_);
  }
  error_ = rc;
}

RobustLock::~RobustLock() {
  if (held()) pthread_mutex_unlock(mutex_);
}

Error RobustLock::failure(const char* what) const {
  return Error(Errc::system_error, std::string("cannot lock ") + what + ": " + errno_text(error_) +
                                       (error_ == ENOTRECOVERABLE
                                            ? " (a holder died and it was never repaired; restart the daemon)"
                                            : ""));
}

}  // namespace statebus::detail
