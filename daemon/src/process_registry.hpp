#pragma once
// The daemon's registry of the processes on its bus, and the one source of
// the deaths its repairs act on.
//
// A process joins before its iceoryx runtime exists (bus_membership.hpp):
// over the registry socket it hands the daemon a pidfd of itself and gets a
// place (process_slot.hpp). A pidfd names one process for as long as the
// descriptor lives, in whatever PID namespace either side is, and the kernel
// makes it readable exactly when the last thread of that process has exited.
// So the registry knows every process on the bus, and learns of each death
// as an event: no /proc, no pid that could be reused, no timer. An iceoryx
// runtime that registers with RouDi without having joined (a raw iceoryx
// program, an older statebus) is refused: its death could never be proven.
//
// A process whose name is still being removed from RouDi (it died a moment
// ago) waits for its answer until that removal is done, so that RouDi never
// mistakes the new process for the dead one.
//
// Thread safety: wait(), wake() and repaired() from the daemon's janitor
// thread (wake() from any); admit() and admitted() from RouDi's message
// thread; wait_for_removals() and removed() from the thread that removes
// processes from RouDi; members() and the counters from any thread.

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/internal/process_slot.hpp"
#include "statebus/internal/unique_fd.hpp"

namespace spdlog {
class logger;
}

namespace statebus::detail {

struct JoinRequest;

class ProcessRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  /// A process whose death the kernel reported.
  struct Death {
    std::uint32_t slot = 0;
    std::string node;
    pid_t pid = 0;               ///< as its own PID namespace numbered it
    Clock::time_point reported;  ///< when its pidfd said so
  };
  /// A process on the bus.
  struct Member {
    std::uint32_t slot = 0;
    std::string node;
    pid_t pid = 0;
  };

  /// Opens the registry socket (a dead daemon's is replaced: the caller
  /// holds the daemon lock) and gives this process place 1.
  static Result<std::unique_ptr<ProcessRegistry>> open(std::shared_ptr<spdlog::logger> log);
  ~ProcessRegistry();
  ProcessRegistry(const ProcessRegistry&) = delete;
  ProcessRegistry& operator=(const ProcessRegistry&) = delete;

  /// Waits up to `timeout` for something to do and does it: lets processes
  /// join, answers those that waited for their name. Returns the deaths the
  /// kernel reported meanwhile; the caller repairs what each left, then
  /// calls repaired().
  std::vector<Death> wait(std::chrono::milliseconds timeout);
  /// Ends a wait() at once (to stop the janitor).
  void wake() noexcept;
  /// What `death` held is released: frees its place and has RouDi remove it.
  void repaired(const Death& death);
  /// Closes the connections of all processes on the bus: each learns at
  /// once that its daemon is gone (a clean stop).
  void close_all() noexcept;

  // RouDi's side.
  /// A runtime registering with RouDi (its name "sb.<node>", `pid` as the
  /// registration says): true if that node has joined from that process
  /// and lives; then admitted() must follow its registration.
  bool admit(const std::string& runtime, pid_t pid);
  void admitted(const std::string& runtime);
  /// True if the process of `runtime` had the bus's group (the daemon's)
  /// when it joined (member_groups.hpp); the daemon's own nodes have it.
  bool in_bus_group(const std::string& runtime) const;
  /// Waits (up to 100 ms; 10 ms while a removal waits for a registration
  /// under way) for the runtimes of dead processes that RouDi is to remove
  /// now (its monitoring is off: only a proven death removes a process).
  std::vector<std::string> wait_for_removals();
  /// Ends a wait_for_removals() at once (to stop the thread that waits).
  void wake_removals() noexcept;
  /// RouDi removed `runtime` (`found`: it was registered).
  void removed(const std::string& runtime, bool found);

  [[nodiscard]] std::vector<Member> members() const;
  /// Deaths reported so far.
  [[nodiscard]] std::uint64_t deaths() const noexcept { return deaths_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    enum class State { free, alive, dead } state = State::free;
    std::string node;
    pid_t pid = 0;
    bool in_bus_group = false;
    UniqueFd pidfd;
    UniqueFd connection;
  };
  struct Parked {
    UniqueFd connection;
    UniqueFd pidfd;
    std::string node;
    pid_t pid = 0;   // as its own PID namespace numbers it
    pid_t peer = 0;  // as the daemon's does (0: not visible here)
    bool in_bus_group = false;
  };

  ProcessRegistry(std::shared_ptr<spdlog::logger> log, UniqueFd listener, UniqueFd epoll, UniqueFd wake);
  void accept_all();
  void read_request(std::uint64_t id);
  void admit_or_park(UniqueFd connection, UniqueFd pidfd, const JoinRequest& request, pid_t peer, bool in_bus_group);
  void answer_parked();
  void refuse(int connection, Errc code, const std::string& message);
  void refuse_for_want_of_descriptors();
  std::uint32_t free_slot() const;

  std::shared_ptr<spdlog::logger> log_;
  UniqueFd listener_;
  UniqueFd epoll_;
  UniqueFd wake_;
  // Two descriptors kept spare (a pipe): out of descriptors, the registry
  // closes them to log, accept a newcomer and tell it why it cannot join,
  // then takes them again.
  UniqueFd reserve_[2];
  bool reserve() noexcept;
  bool listening_ = true;  // the listener is watched (not while no descriptor is spare)
  bool said_out_of_fds_ = false;
  mutable std::mutex mutex_;  // everything below
  std::array<Slot, kProcessSlots> slots_;
  std::vector<std::string> own_nodes_;         // nodes of the daemon's own process (place 1)
  std::map<std::uint64_t, UniqueFd> pending_;  // connected, request not read yet
  std::uint64_t next_pending_ = 1;
  std::vector<Parked> parked_;        // waiting until their name is removed from RouDi
  std::deque<std::string> removals_;  // runtimes for RouDi to remove
  std::vector<std::string> retries_;  // … whose registration was under way: again soon
  std::condition_variable removals_due_;
  std::map<std::string, int> removing_;     // node → removals asked, not done
  std::map<std::string, int> registering_;  // runtime → registrations RouDi is handling
  std::set<std::string> refused_;           // runtimes refused (each said once)
  bool parked_ready_ = false;
  std::atomic<std::uint64_t> deaths_{0};
};

}  // namespace statebus::detail
