#pragma once
// The daemon's state, shared by its two files: daemon.cpp (start, stop, the
// public calls) and daemon_janitor.cpp (the janitor thread: joins, the
// repairs after each death the kernel proves, the census, the status cell).
// Internal to daemon/src.

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "embedded_roudi.hpp"
#include "iceoryx_posh/internal/mepoo/memory_manager.hpp"
#include "process_registry.hpp"
#include "stall_meter.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/internal/file_lock.hpp"
#include "statebus/state/cell.hpp"

namespace statebus {

struct Daemon::Impl {
  // The daemon's threads log through the logger that was the default at
  // start: a process may drop spdlog's registry (spdlog::shutdown()) while
  // its daemon runs, which left spdlog::warn() a null logger to call.
  std::shared_ptr<spdlog::logger> log = spdlog::default_logger();
  detail::FileLock lock;
  std::vector<std::string> removed;
  // The registry of the processes on the bus: RouDi's threads ask it, so it
  // is declared before RouDi and outlives it.
  std::unique_ptr<detail::ProcessRegistry> registry;
  std::unique_ptr<iox::roudi::IceOryxRouDiComponents> components;
  std::unique_ptr<detail::EmbeddedRouDi> roudi;
  std::uint64_t shm_bytes = 0;
  std::chrono::nanoseconds startup{};
  std::uint32_t max_payload = 0;
  pid_t pid = ::getpid();
  bool verbose = false;
  std::chrono::milliseconds wedge_timeout{3000};
  // The janitor thread lets processes join and repairs what each death the
  // kernel reports left held.
  std::thread janitor;
  std::atomic<bool> janitor_stop{false};
  iox::roudi::PortPool* ports = nullptr;
  iox::mepoo::MemoryManager* memory = nullptr;
  mutable std::mutex repairs_mutex;  // repairs_ and the latencies
  DaemonRepairs repairs_;
  std::uint64_t latencies_seen = 0;
  std::optional<Cell<DaemonStatus>> status_cell;  // janitor thread: what the bus's tools see
  DaemonStatus status_said;
  detail::StallMeter stall;
  bool said_waiting = false;  // the janitor named the live holder RouDi waits for
  ~Impl() { stop(); }
  iox::mepoo::MemoryManager* data_memory() const;
  void start_janitor();
  // Stores what the bus's tools see in the status cell, when it changed.
  void tell_status();
  // The kernel reported that the process at `death.slot` has died: nothing
  // of it can change shared memory any more. Releases the port locks it held
  // (each after setting right what it guards), clears what it counted in the
  // clock, and has RouDi remove it.
  void repair_after(const detail::ProcessRegistry::Death& death);
  // RouDi is stuck: if a live process holds a port lock, it is what RouDi
  // waits for; say so once (the daemon waits for it, never robs it).
  void name_what_roudi_waits_for();
  // Port locks held by a live process on the bus other than this one,
  // named. A holder without a place, or one whose death is not repaired
  // yet, explains nothing: RouDi cannot count on it.
  std::string live_lock_holders() const;
  // What repairs_ says, with the losses counted now where the count is exact.
  DaemonRepairs count_losses() const;
  // The janitor's census: keeps the losses, says when they grow.
  void take_census();
  // The names of the memory and lock RouDi would remove on destruction, for
  // the paths that keep its objects alive past stop().
  static void unlink_iceoryx_files() noexcept;
  void join_janitor() noexcept;
  void stop_janitor() noexcept;
  void stop() noexcept;
};

}  // namespace statebus
