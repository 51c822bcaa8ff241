#pragma once
/// A bus of the test's own: private /tmp and /dev/shm for this process and its children.

#include "statebus/bus/daemon.hpp"
#include "statebus/error.hpp"

namespace statebus::testing {

/// Where the calling process's bus lives.
enum class Isolation {
  private_namespace,  ///< own mount namespace with private /tmp and /dev/shm
  shared_machine,     ///< namespaces not permitted: the machine's /tmp and /dev/shm
};

/// Moves this process into private user + mount namespaces and mounts fresh
/// tmpfs on /tmp and /dev/shm. Call while the process is single-threaded
/// (the kernel refuses a user namespace to a threaded process). Idempotent.
/// Returns shared_machine when the system does not permit namespaces, and an
/// error only when it half-succeeded (then the process should not go on).
Result<Isolation> isolate_bus();

/// A daemon started once per process and kept until exit. Fails like
/// Daemon::start(). Not thread-safe: call from the test's thread.
Result<Daemon*> shared_daemon();

}  // namespace statebus::testing
