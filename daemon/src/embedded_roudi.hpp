#pragma once
// RouDi, iceoryx's daemon, embedded in the statebus daemon's process: its
// configuration from statebus's pools, the checks before it starts, and
// the hooks that report its progress. Internal to daemon/src.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "iceoryx_posh/iceoryx_posh_config.hpp"
#include "iceoryx_posh/internal/roudi/roudi.hpp"
#include "iceoryx_posh/roudi/iceoryx_roudi_components.hpp"
#include "process_registry.hpp"
#include "statebus/base/error.hpp"
#include "statebus/daemon/memory_config.hpp"
#include "statebus/internal/member_groups.hpp"

namespace statebus::detail {

// iceoryx's management segment: fixed by the compile-time limits of the
// Debian build; measured 65.9 MB here. Used only for the free-space check.
inline constexpr std::uint64_t kManagementSegmentBytes = 66ULL << 20;
inline constexpr std::chrono::milliseconds kReadyTimeout{5000};
inline constexpr const char* kReadyLine = "RouDi is ready for clients";

/// RouDi's configuration for statebus's pools (iceoryx's defaults if asked).
iox::RouDiConfig_t make_roudi_config(const MemoryConfig& memory);
/// Refuses an empty pool list, a pool of 0 samples or of 0 bytes, and pools over 1 GiB per sample.
Result<void> validate_memory(const MemoryConfig& memory);
/// Refuses to start when /dev/shm has less than `needed` bytes free.
Result<void> check_shm_space(std::uint64_t needed);

// What RouDi's threads report about their progress. A base of EmbeddedRouDi
// listed before RouDi: RouDi's monitoring thread starts in RouDi's
// constructor and stops in its destructor, so what the hooks touch is built
// before it and outlives it.
struct RoudiProgress {
  std::atomic<std::uint64_t> requests{0};  // client requests taken up so far
  std::atomic<std::uint64_t> request{0};   // the one being handled (0: none)
  mutable std::mutex round_mutex;
  mutable std::condition_variable round_done;
  std::uint64_t rounds = 0;  // monitoring rounds completed (under round_mutex)
};

// RouDi whose runtime-message thread starts when we say, so that its
// "ready" line falls inside the QuietStdio window, and whose processes come
// and go through the daemon's registry (process_registry.hpp): it registers
// only a runtime that joined there, and removes a process once the kernel
// reported its death.
class EmbeddedRouDi : private RoudiProgress, public iox::roudi::RouDi {
 public:
  EmbeddedRouDi(iox::roudi::IceOryxRouDiComponents& components)
      : RoudiProgress(),
        RouDi(components.rouDiMemoryManager, components.portManager,
              // Monitoring off: iceoryx would drop a process that sends no
              // keep-alive for 1.5 s (stopped, frozen, starved) and free its
              // ports and the chunks it still writes. The registry's proven
              // deaths remove processes instead.
              // killProcessesInDestructor off: stopping the bus does not kill its users.
              RoudiStartupParameters{iox::roudi::MonitoringMode::OFF, false, RuntimeMessagesThreadStart::DEFER_START}) {
  }
  // RouDi's own destructor joins its threads after this part is gone,
  // while they may still call the hooks below: join them first.
  ~EmbeddedRouDi() override { stop_threads(); }
  EmbeddedRouDi(const EmbeddedRouDi&) = delete;
  EmbeddedRouDi& operator=(const EmbeddedRouDi&) = delete;

  /// Starts taking requests; registrations go through `registry`, which
  /// must outlive RouDi's threads.
  void start(ProcessRegistry* registry) {
    registry_.store(registry, std::memory_order_release);
    remover_ = std::thread([this, registry] { remove_the_dead(*registry); });
    startProcessRuntimeMessagesThread();
  }
  // Stops RouDi's threads and closes its socket; the destructor would also
  // unmap the memory and unregister the process's relative pointers.
  void stop_threads() noexcept {
    stop_removing_.store(true, std::memory_order_release);
    if (ProcessRegistry* registry = registry_.load(std::memory_order_acquire)) registry->wake_removals();
    if (remover_.joinable()) remover_.join();
    shutdown();
  }

  [[nodiscard]] std::uint64_t rounds_done() const {
    std::lock_guard<std::mutex> guard(round_mutex);
    return rounds;
  }
  [[nodiscard]] std::uint64_t request_in_progress() const noexcept { return request.load(std::memory_order_relaxed); }
  bool wait_for_round(std::chrono::nanoseconds timeout) const {
    std::unique_lock<std::mutex> guard(round_mutex);
    const std::uint64_t seen = rounds;
    return round_done.wait_for(guard, timeout, [&] { return rounds != seen; });
  }

 protected:
  void cyclicUpdateHook() noexcept override {
    {
      std::lock_guard<std::mutex> guard(round_mutex);
      ++rounds;
    }
    round_done.notify_all();
  }
  void processMessage(const iox::runtime::IpcMessage& message, const iox::runtime::IpcMessageType& cmd,
                      const iox::RuntimeName_t& runtime_name) noexcept override {
    ProcessRegistry* registry = registry_.load(std::memory_order_acquire);
    const bool registration = cmd == iox::runtime::IpcMessageType::REG;
    // A runtime that did not join through the registry is never registered:
    // it waits, then iceoryx ends it; the daemon's log says why.
    if (registration && (registry == nullptr || !registry->admit(runtime_name.c_str(), registering_pid(message)))) {
      return;
    }
    request.store(requests.fetch_add(1, std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    {
      // The segments RouDi offers follow the process's own groups, as the
      // kernel's checks do (member_groups.hpp).
      const MemberGroupsScope groups(registry != nullptr && registry->in_bus_group(runtime_name.c_str()));
      RouDi::processMessage(message, cmd, runtime_name);
    }
    request.store(0, std::memory_order_relaxed);
    if (registration) registry->admitted(runtime_name.c_str());
  }

 private:
  // Removes from RouDi each process whose death the kernel reported, as
  // soon as the janitor has released what it held. Its own thread: RouDi's
  // process manager (a lock of its own) may be busy for as long as RouDi
  // waits for a live process's port lock, and the janitor must not wait.
  void remove_the_dead(ProcessRegistry& registry) noexcept {
    while (!stop_removing_.load(std::memory_order_acquire)) {
      for (const std::string& runtime : registry.wait_for_removals()) {
        const bool found =
            m_prcMgr->unregisterProcess(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, runtime.c_str()));
        registry.removed(runtime, found);
      }
    }
  }
  // The pid a registration names (its third element), as the registering
  // process's own PID namespace numbers it; 0 if it names none.
  static pid_t registering_pid(const iox::runtime::IpcMessage& message) noexcept {
    if (message.getNumberOfElements() < 3) return 0;
    const std::string text = message.getElementAtIndex(2);
    char* end = nullptr;
    const unsigned long pid = std::strtoul(text.c_str(), &end, 10);
    return end != nullptr && *end == '\0' && pid > 0 && pid < 1UL << 22 ? static_cast<pid_t>(pid) : 0;
  }
  std::atomic<ProcessRegistry*> registry_{nullptr};
  std::thread remover_;
  std::atomic<bool> stop_removing_{false};
};

}  // namespace statebus::detail
