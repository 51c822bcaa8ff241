#pragma once
/// The bus daemon: iceoryx's RouDi running inside the calling process
/// (statebus::daemon; its contract: daemon/README.md).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "statebus/base/describe.hpp"
#include "statebus/base/error.hpp"
#include "statebus/bus/daemon_info.hpp"
#include "statebus/daemon/memory_config.hpp"

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
  std::uint32_t used = 0;  ///< chunks loaned, in flight or held by subscribers now (taken from the pool's free list)
  std::uint32_t min_free = 0;  ///< fewest free chunks seen since the start
};

/// What the daemon did about processes that died on its bus, and what it
/// could only report. Every repair acts on a death the kernel reported (the
/// pidfd each process handed the daemon when it joined), never on a guess.
struct DaemonRepairs {
  /// Processes on the bus whose death the kernel reported.
  std::uint64_t deaths = 0;
  /// Port locks a dead process held (iceoryx #1711: RouDi and every
  /// publisher to that port would wait for them for ever), released after
  /// its death.
  std::uint64_t locks_released = 0;
  /// Half-done updates set right before such a release: a history or queue
  /// entry left twice (or null) by a kill inside an erase or a sort, a wait
  /// set left half attached.
  std::uint64_t structures_repaired = 0;
  /// For each death that left locks held (the latest 65 536): from the
  /// kernel's report of the death to those locks released.
  std::vector<std::chrono::nanoseconds> release_latency;
  /// Chunks in use that no port refers to, counted while no subscriber queue
  /// holds a sample: a process killed inside publish(), take() or release()
  /// had them in hand. Nobody can tell them from those a live process holds
  /// between two steps (a stopped one counts here until it goes on), so
  /// they are reported, never given back.
  std::uint32_t chunks_lost = 0;
  /// Pool slots taken that no chunk record manages (a process killed, or
  /// stopped, inside iceoryx's allocator), counted while the pools stood
  /// still. Reported, never given back.
  std::uint32_t slots_lost = 0;
};

/// What a daemon tells the processes on its bus about its repairs: the
/// state cell `statebus/daemon` (kDaemonStatusCell), stored by the daemon
/// whenever it changes; `statebus ls` shows it.
struct DaemonStatus {
  std::uint64_t deaths = 0;               ///< DaemonRepairs::deaths
  std::uint64_t locks_released = 0;       ///< DaemonRepairs::locks_released
  std::uint64_t structures_repaired = 0;  ///< DaemonRepairs::structures_repaired
  std::uint32_t chunks_lost = 0;          ///< DaemonRepairs::chunks_lost
  std::uint32_t slots_lost = 0;           ///< DaemonRepairs::slots_lost
  std::uint32_t processes = 0;            ///< processes on the bus now (its own included)
  std::uint32_t reserved = 0;
};
STATEBUS_MESSAGE(DaemonStatus, "statebus/DaemonStatus", deaths, locks_released, structures_repaired, chunks_lost,
                 slots_lost, processes, reserved);
inline constexpr const char* kDaemonStatusCell = "statebus/daemon";

/// RouDi, iceoryx's daemon, embedded in this process, with its registry of
/// the processes on the bus (they join it in Node::connect).
///
/// One per machine (or per private namespace, see statebus::testkit). Starting
/// a second one fails (see start()), naming the running one's pid.
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
  /// Starts RouDi and returns once processes can connect (daemon_bench
  /// measures how long that takes).
  /// Fails with Errc::already_running (naming the running daemon's pid),
  /// Errc::invalid_argument (no memory pool, a pool of size or count 0,
  /// or a wedge_timeout under 500 ms) or Errc::out_of_resources (/dev/shm too
  /// small). Also fails, untested here, when the operating system refuses
  /// (not permitted: a run directory another user controls, a group
  /// without a name) or a system call fails (system error); never aborts
  /// the process.
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
  /// Bytes of shared memory the daemon reserved (management + data segments,
  /// and the log rings).
  [[nodiscard]] std::uint64_t shared_memory_bytes() const noexcept;
  /// Time from the call to start() until clients could connect.
  [[nodiscard]] std::chrono::nanoseconds startup_time() const noexcept;
  /// Largest payload a sample may have on this bus.
  [[nodiscard]] std::uint32_t max_payload() const noexcept;
  /// Fails with Errc::no_daemon once stop() ran. Also fails, saying the
  /// daemon is wedged (no test sets that up: RouDi stalled with nobody to
  /// explain it), while RouDi makes no progress for longer than
  /// `wedge_timeout`, counted on the daemon's own time (a pause of the
  /// process, SIGSTOP or starvation, does not count), unless a live
  /// process explains it: one that holds a lock RouDi needs and is stopped
  /// or frozen. Then the daemon waits for it (its log names it) and health()
  /// succeeds: a live holder is never robbed of its lock. A lock of a dead
  /// process is released as soon as the kernel reports the death, so a
  /// wedge means something nobody can repair: end the process and start a
  /// new daemon (`statebus daemon` does so by itself). End it with
  /// std::_Exit: a node of the same process would otherwise wait at exit for
  /// the wedged daemon to take its goodbye (iceoryx's runtime). Thread-safe.
  [[nodiscard]] Result<void> health() const noexcept;
  /// Chunks in use per memory pool, smallest chunks first: what leaks show
  /// in. The chunks a process held come back once RouDi removed it, right
  /// after the kernel reported its death; those it had in hand when killed
  /// stay in use (repairs().chunks_lost). Thread-safe; reads counters.
  [[nodiscard]] std::vector<PoolUsage> pool_usage() const;
  /// What the daemon repaired so far, and the losses it can only report
  /// (counted now, or as of its latest exact look). It logs a warning per
  /// death that left something held (naming the process, the ports and
  /// what it set right), and one when the losses grow. Thread-safe.
  [[nodiscard]] DaemonRepairs repairs() const;
  /// Waits (real time) until RouDi completes its next monitoring round, the
  /// one in which it removes the processes whose death the kernel reported
  /// and frees their chunks. False on timeout (a wedged or stopped daemon).
  /// Thread-safe.
  bool wait_for_round(std::chrono::nanoseconds timeout) const;

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// Removes what a daemon or nodes that died without stopping left in /tmp
/// and /dev/shm, as Daemon::start() does before it starts; while a daemon
/// runs, only what ended nodes left. Returns the paths removed (each is also
/// logged as a warning). Fails when the daemon's lock or run directory
/// cannot be read (not permitted, or a failing system call: neither is
/// tested). Not thread-safe with Daemon::start().
Result<std::vector<std::string>> remove_stale_bus();

}  // namespace statebus
