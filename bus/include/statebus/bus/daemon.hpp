#pragma once
/// The bus daemon: iceoryx's RouDi running inside the calling process.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "statebus/bus/memory_config.hpp"
#include "statebus/base/error.hpp"

namespace statebus {

/// How a daemon starts.
struct DaemonOptions {
  /// Memory pools; the compact default carries payloads up to 4 MiB.
  MemoryConfig memory = MemoryConfig::compact();
  /// Let iceoryx print its own lines (off: only what ends the process; a
  /// failed POSIX call it reports on std::cerr is dropped too).
  bool verbose_iceoryx = false;
  /// RouDi stuck this long (no monitoring round, or one client request
  /// unanswered) counts as wedged; see Daemon::health(). At least 500 ms
  /// (RouDi completes a round every 100 ms, slower on a busy machine).
  std::chrono::milliseconds wedge_timeout{3000};
};

/// One memory pool of a running daemon.
struct PoolUsage {
  std::uint32_t chunk_size = 0;  ///< bytes per chunk (payload, headers and padding)
  std::uint32_t chunks = 0;      ///< chunks in the pool
  std::uint32_t used = 0;        ///< chunks loaned, in flight or held by subscribers now
  std::uint32_t min_free = 0;    ///< fewest free chunks seen since the start
};

/// What the daemon repaired that killed processes left behind.
struct DaemonRepairs {
  /// Locks in the bus's shared memory released because their owner thread
  /// had died (iceoryx #1711: RouDi would wait for them for ever).
  std::uint64_t locks_released = 0;
  /// For each release (the latest 65 536): how long after the death at
  /// most the lock was free again, the time since the janitor's previous look.
  std::vector<std::chrono::nanoseconds> release_latency;
  /// Chunks given back to their pools: in use, yet referred to by no port,
  /// because the process that held the last reference was killed.
  std::uint64_t chunks_reclaimed = 0;
};

/// RouDi, iceoryx's daemon, embedded in this process, with process monitoring on.
///
/// One per machine (or per private namespace, see statebus::testkit). Starting
/// a second one fails with `Errc::already_running` naming the running one's pid.
/// On start it removes what a crashed daemon left in /dev/shm and /tmp and
/// lists it in `removed_leftovers()`. Stopping (or destroying) it does not kill
/// connected processes; they lose the bus.
///
/// A process that also connects a Node should keep the daemon alive until
/// exit (iceoryx keeps the node until then): hold it in a static initialised
/// by start() itself, `static auto daemon = Daemon::start();`, so it is
/// destroyed after the node and before iceoryx's own statics. Stopped earlier,
/// it removes its segments' names but leaves them mapped for this process, so
/// that its ports and loggers can still be destroyed safely.
///
/// Thread safety: start, stop and destroy from one thread. Not copyable; movable.
class Daemon {
 public:
  /// Starts RouDi and returns once processes can connect (~50 ms here).
  /// Fails with already_running, out_of_resources (/dev/shm too small),
  /// not_permitted or system_error; never aborts the process.
  static Result<Daemon> start(DaemonOptions options = {});

  Daemon(Daemon&&) noexcept;
  Daemon& operator=(Daemon&&) noexcept;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  /// Stops RouDi and removes its segments. Idempotent.
  void stop() noexcept;

  /// The pid of the process that runs the daemon (this one).
  [[nodiscard]] pid_t pid() const noexcept;
  /// Files a crashed daemon had left and this one removed at start.
  [[nodiscard]] const std::vector<std::string>& removed_leftovers() const noexcept;
  /// Bytes of shared memory the daemon reserved (management + data segments).
  [[nodiscard]] std::uint64_t shared_memory_bytes() const noexcept;
  /// Time from the call to start() until clients could connect.
  [[nodiscard]] std::chrono::nanoseconds startup_time() const noexcept;
  /// Largest payload a sample may have on this bus.
  [[nodiscard]] std::uint32_t max_payload() const noexcept;
  /// Fails with `Errc::daemon_wedged` while RouDi makes no progress for
  /// longer than `wedge_timeout`, counted on the daemon's own time (a pause
  /// of the process, SIGSTOP or starvation, does not count): a process SIGKILLed inside publish() can
  /// leave a lock in shared memory held that RouDi then waits for forever
  /// (iceoryx #1711). A wedged daemon cannot be stopped or repaired: end the
  /// process and start a new daemon (`statebus daemon` does so by itself).
  /// End it with std::_Exit: a node of the same process would otherwise wait
  /// at exit for the wedged daemon to take its goodbye (iceoryx's runtime).
  /// Thread-safe; two atomic loads.
  [[nodiscard]] Result<void> health() const noexcept;
  /// Chunks in use per memory pool, smallest chunks first: what leaks show
  /// in. Chunks held by a process that died return once the daemon has
  /// dropped it (within 1.5 s of its death); a chunk it carried unseen when
  /// it died (inside publish(), take() or release()) returns once nothing
  /// has referred to it for 0.5 s. Thread-safe; reads counters.
  [[nodiscard]] std::vector<PoolUsage> pool_usage() const;
  /// What the daemon repaired so far. Its janitor looks at every port's
  /// lock every ~10 ms and at the chunks in use every ~100 ms; it logs a
  /// warning per released lock (naming the dead thread, the port and its
  /// channel) and one per scan that gave chunks back. Thread-safe.
  [[nodiscard]] DaemonRepairs repairs() const;
  /// Waits (real time) until RouDi completes its next monitoring round, the
  /// one in which it drops dead processes and frees their chunks. False on
  /// timeout (a wedged or stopped daemon). Thread-safe.
  bool wait_for_round(std::chrono::nanoseconds timeout) const;

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// What a client can learn about the running daemon without connecting.
struct DaemonInfo {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  std::uint32_t max_payload = 0;
  std::uint32_t max_chunk = 0;
  /// Unique to one start of a daemon (a daemon restarted in place keeps its
  /// pid but not this).
  std::uint64_t instance = 0;
};

/// Removes what a daemon or nodes that died without stopping left in /tmp
/// and /dev/shm, as Daemon::start() does before it starts; while a daemon
/// runs, only what ended nodes left. Returns the paths removed (each is also
/// logged as a warning). Fails with not_permitted or system_error when the
/// daemon's lock cannot be read. Not thread-safe with Daemon::start().
Result<std::vector<std::string>> remove_stale_bus();

/// The running daemon, if one is alive on this machine (or namespace).
/// Fails with no_daemon and a message saying why (none started, or it died).
/// Thread-safe; reads one small file and /proc.
Result<DaemonInfo> find_daemon();

}  // namespace statebus
