// The daemon's janitor thread: lets processes join, repairs what each death
// the kernel reports left held, keeps the stall meter and the chunk census,
// and tells the bus's tools through the status cell.
#include <cstdlib>
#include <cstring>
#include <utility>

#include "chunk_census.hpp"
#include "daemon_impl.hpp"
#include "port_repair.hpp"
#include "statebus/internal/bus_access.hpp"
#include "statebus/internal/lockstep.hpp"
#include "statebus/internal/log_ring.hpp"
#include "statebus/internal/port_lock.hpp"

namespace statebus {
namespace {

using Clock = std::chrono::steady_clock;
// The janitor wakes for every join and death at once, and at least every
// 10 ms to keep the stall meter; lockstep housekeeping every 100 ms; the
// chunk census (a report) every second.
constexpr auto kJanitorPeriod = std::chrono::milliseconds(10);
constexpr int kHousekeepingEveryRounds = 10;
constexpr int kCensusEveryRounds = 100;
constexpr std::size_t kLatenciesKept = 65536;

// The daemon whose janitor runs in this process, and how to stop it.
std::mutex g_running_mutex;
void* g_running = nullptr;
void (*g_stop_running)(void*) = nullptr;

}  // namespace

void Daemon::Impl::start_janitor() {
  {
    // At exit the janitor stops before any static it uses (spdlog's
    // registry) is destroyed, however the daemon itself is held.
    std::lock_guard<std::mutex> guard(g_running_mutex);
    g_running = this;
    g_stop_running = [](void* impl) { static_cast<Impl*>(impl)->join_janitor(); };
    static const int registered = std::atexit([] {
      std::lock_guard<std::mutex> running(g_running_mutex);
      if (g_running != nullptr) g_stop_running(std::exchange(g_running, nullptr));
    });
    (void)registered;
  }
  if (auto pool = components->rouDiMemoryManager.portPool(); pool.has_value()) {
    ports = *pool;
    detail::register_port_pool(ports);
  }
  memory = data_memory();
  if (auto cell = Cell<DaemonStatus>::open_or_create(kDaemonStatusCell); cell) status_cell.emplace(std::move(*cell));
  janitor = std::thread([this] {
    for (int round = 1;; ++round) {
      const auto deaths = registry->wait(kJanitorPeriod);
      for (const detail::ProcessRegistry::Death& death : deaths) repair_after(death);  // even when stopping
      if (janitor_stop.load(std::memory_order_acquire)) break;
      stall.tick(Clock::now(), roudi->rounds_done(), roudi->request_in_progress());
      if (stall.stalled() > wedge_timeout) name_what_roudi_waits_for();
      if (round % kHousekeepingEveryRounds == 0) detail::lockstep_housekeeping();
      if (round % kCensusEveryRounds == 0) take_census();
      if (!deaths.empty() || round % kCensusEveryRounds == 0) tell_status();
    }
  });
}

// Stores what the bus's tools see in the status cell, when it changed.
void Daemon::Impl::tell_status() {
  if (!status_cell) return;
  DaemonStatus now;
  {
    std::lock_guard<std::mutex> guard(repairs_mutex);
    now.deaths = repairs_.deaths;
    now.locks_released = repairs_.locks_released;
    now.structures_repaired = repairs_.structures_repaired;
    now.chunks_lost = repairs_.chunks_lost;
    now.slots_lost = repairs_.slots_lost;
  }
  now.processes = static_cast<std::uint32_t>(registry->members().size());
  if (std::memcmp(&now, &status_said, sizeof now) == 0) return;
  status_cell->store(now);
  status_said = now;
}

// The kernel reported that the process at `death.slot` has died: nothing
// of it can change shared memory any more. Releases the port locks it held
// (each after setting right what it guards), clears what it counted in the
// clock, and has RouDi remove it.
void Daemon::Impl::repair_after(const detail::ProcessRegistry::Death& death) {
  std::vector<detail::PortRelease> released;
  if (ports != nullptr && memory != nullptr) released = detail::release_port_locks_of(death.slot, *ports, *memory);
  detail::forget_process(death.slot);
  detail::forget_log_ring(death.slot);
  registry->repaired(death);
  const auto latency = Clock::now() - death.reported;
  std::uint64_t repaired = 0;
  for (const detail::PortRelease& release : released) {
    log->warn("released {}: its process (node {}, pid {}) died holding it in thread {} (iceoryx #1711){}{}",
              release.port, death.node, death.pid, release.thread, release.repaired.empty() ? "" : "; ",
              release.repaired);
    if (!release.repaired.empty()) ++repaired;
  }
  std::lock_guard<std::mutex> guard(repairs_mutex);
  ++repairs_.deaths;
  repairs_.locks_released += released.size();
  repairs_.structures_repaired += repaired;
  if (released.empty()) return;
  const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(latency);
  if (repairs_.release_latency.size() < kLatenciesKept) {
    repairs_.release_latency.push_back(nanoseconds);
  } else {
    repairs_.release_latency[latencies_seen % kLatenciesKept] = nanoseconds;
  }
  ++latencies_seen;
}

// RouDi is stuck: if a live process holds a port lock, it is what RouDi
// waits for; say so once (the daemon waits for it, never robs it).
void Daemon::Impl::name_what_roudi_waits_for() {
  if (said_waiting || ports == nullptr) return;
  const std::string holders = live_lock_holders();
  if (holders.empty()) return;
  said_waiting = true;
  log->warn("RouDi has made no progress for {} ms; live processes hold port locks ({}): it goes on when they let "
            "go or die (a stopped or frozen process holds them until it runs again)",
            std::chrono::duration_cast<std::chrono::milliseconds>(stall.stalled()).count(), holders);
}

// Port locks held by a live process on the bus other than this one,
// named. A holder without a place, or one whose death is not repaired
// yet, explains nothing: RouDi cannot count on it.
std::string Daemon::Impl::live_lock_holders() const {
  std::string holders;
  if (ports == nullptr || registry == nullptr) return holders;
  const auto members = registry->members();
  auto note = [&](const iox::popo::ThreadSafePolicy& policy, const iox::popo::BasePortData& port) {
    const auto holder = detail::PortLockView::of(policy).holder();
    if (!holder || holder->slot == detail::kDaemonSlot) return;
    for (const auto& member : members) {
      if (member.slot != holder->slot) continue;
      holders += (holders.empty() ? "" : "; ") + std::string(port.m_runtimeName.c_str()) + "'s port, held by node " +
                 member.node + " (pid " + std::to_string(member.pid) + ")";
    }
  };
  for (auto* port : ports->getPublisherPortDataList()) note(port->m_chunkSenderData, *port);
  for (auto* port : ports->getSubscriberPortDataList()) note(port->m_chunkReceiverData, *port);
  return holders;
}

// What repairs_ says, with the losses counted now where the count is exact.
DaemonRepairs Daemon::Impl::count_losses() const {
  std::lock_guard<std::mutex> guard(repairs_mutex);
  DaemonRepairs now = repairs_;
  if (ports == nullptr || memory == nullptr) return now;
  const detail::ChunkCensus census = detail::count_chunks(*ports, *memory);
  if (census.queues_empty) now.chunks_lost = census.unreferenced();
  if (census.still) now.slots_lost = census.orphan_slots;
  return now;
}

// The janitor's census: keeps the losses, says when they grow.
void Daemon::Impl::take_census() {
  const DaemonRepairs now = count_losses();
  std::lock_guard<std::mutex> guard(repairs_mutex);
  if (now.chunks_lost > repairs_.chunks_lost || now.slots_lost > repairs_.slots_lost) {
    log->warn("{} chunks are in use that no port refers to, and {} pool slots taken that no chunk manages: "
              "processes killed between two steps of their work had them in hand (or stopped ones have, until "
              "they go on); nobody can tell which, so they are not given back",
              now.chunks_lost, now.slots_lost);
  }
  repairs_.chunks_lost = now.chunks_lost;
  repairs_.slots_lost = now.slots_lost;
  said_waiting = said_waiting && stall.stalled() > wedge_timeout;
}

void Daemon::Impl::join_janitor() noexcept {
  if (!janitor.joinable()) return;
  janitor_stop.store(true, std::memory_order_release);
  registry->wake();
  janitor.join();
  detail::register_port_pool(nullptr);
}

void Daemon::Impl::stop_janitor() noexcept {
  {
    std::lock_guard<std::mutex> guard(g_running_mutex);
    if (g_running == this) g_running = nullptr;
  }
  join_janitor();
}

}  // namespace statebus
