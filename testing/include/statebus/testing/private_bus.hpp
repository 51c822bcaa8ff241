#pragma once
/// A bus of the test's own: private /tmp and /dev/shm for this process and its children.

#include <string>

#include "statebus/base/error.hpp"
#include "statebus/daemon/daemon.hpp"

namespace statebus::testkit {

/// Where the calling process's bus lives.
enum class Isolation {
  private_namespace,  ///< own mount namespace with private /tmp and /dev/shm
  shared_machine,     ///< namespaces not permitted: the machine's /tmp and /dev/shm
};

/// Moves this process into private user + mount namespaces and mounts fresh
/// tmpfs on /tmp and /dev/shm. Call while the process is single-threaded
/// (the kernel refuses a user namespace to a threaded process). Idempotent.
///
/// Where no user namespace can be made (a chroot, or a policy) but a mount
/// namespace can (root), it uses that alone, also inside a chroot whose "/"
/// is not a mount point. Returns shared_machine when the system permits no
/// namespace at all, or when the environment says STATEBUS_ISOLATION=off;
/// an error only when it half-succeeded (then the process should not go on).
Result<Isolation> isolate_bus();

/// How isolate_bus() isolated this process, or why it did not, in words
/// (for messages and skips). Not thread-safe with isolate_bus().
std::string isolation_reason();

/// A daemon started once per process and kept until exit. Fails like
/// Daemon::start(). Not thread-safe: call from the test's thread.
Result<Daemon*> shared_daemon();

}  // namespace statebus::testkit
