#include "statebus/bus/daemon.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "embedded_roudi.hpp"
#include "file_lock.hpp"
#include "iceoryx.hpp"
#include "iceoryx_posh/internal/mepoo/memory_manager.hpp"
#include "cerr_filter.hpp"
#include "chunk_reclaimer.hpp"
#include "lock_doctor.hpp"
#include "paths.hpp"
#include "pools.hpp"
#include "quiet_stdio.hpp"
#include "roudi_socket.hpp"
#include "run_directory.hpp"
#include "stall_meter.hpp"
#include "statebus/internal/clock_segment.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/base/process.hpp"
#include "statebus/internal/lockstep.hpp"
#include "statebus/internal/state_segment.hpp"

namespace statebus {
namespace {

using Clock = std::chrono::steady_clock;
// The janitor's round: the lock doctor's scan (cheap: a look at each port's
// lock word) every round, so a lock a killed process left held is released
// within ~10 ms; the leaked-chunk scan and lockstep housekeeping every tenth.
constexpr auto kJanitorPeriod = std::chrono::milliseconds(10);
constexpr int kSlowScanEveryRounds = 10;
constexpr std::size_t kLatenciesKept = 65536;

std::string pool_name(std::uint32_t chunk_size) {
  return chunk_size >= (1U << 20) ? std::to_string(chunk_size >> 20) + " MiB"
         : chunk_size >= (1U << 10) ? std::to_string(chunk_size >> 10) + " KiB"
                                    : std::to_string(chunk_size) + " B";
}

// RouDi completes a round every 100 ms and, on a busy machine, may take a
// few; a wedge timeout must leave room for that.
constexpr std::chrono::milliseconds kMinWedgeTimeout{500};

}  // namespace

namespace {
// The daemon whose janitor runs in this process, and how to stop it.
std::mutex g_running_mutex;
void* g_running = nullptr;
void (*g_stop_running)(void*) = nullptr;
}  // namespace

struct Daemon::Impl {
  // The daemon's threads log through the logger that was the default at
  // start: a process may drop spdlog's registry (spdlog::shutdown()) while
  // its daemon runs, which left spdlog::warn() a null logger to call.
  std::shared_ptr<spdlog::logger> log = spdlog::default_logger();
  detail::FileLock lock;
  std::vector<std::string> removed;
  std::unique_ptr<iox::roudi::IceOryxRouDiComponents> components;
  std::unique_ptr<detail::EmbeddedRouDi> roudi;
  std::uint64_t shm_bytes = 0;
  std::chrono::nanoseconds startup{};
  std::uint32_t max_payload = 0;
  pid_t pid = ::getpid();
  bool verbose = false;
  std::chrono::milliseconds wedge_timeout{3000};
  // Lockstep housekeeping: drops event loops of crashed processes, so that a
  // crash never stops lockstep time for good.
  std::thread janitor;
  std::optional<detail::LockDoctor> doctor;
  std::optional<detail::ChunkReclaimer> reclaimer;
  mutable std::mutex latency_mutex;
  std::vector<std::chrono::nanoseconds> release_latency;  // a ring of kLatenciesKept
  std::uint64_t latencies_seen = 0;
  detail::StallMeter stall;
  std::mutex janitor_mutex;
  std::condition_variable janitor_wake;
  bool janitor_stop = false;

  ~Impl() { stop(); }

  iox::mepoo::MemoryManager* data_memory() const {
    auto segments = components->rouDiMemoryManager.segmentManager();
    if (!segments) return nullptr;
    auto info = (*segments)->getSegmentInformationWithWriteAccessForUser(iox::posix::PosixUser::getUserOfCurrentProcess());
    return info.m_memoryManager ? &info.m_memoryManager->get() : nullptr;
  }

  void start_janitor() {
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
    auto pool = components->rouDiMemoryManager.portPool();
    if (pool.has_value()) {
      doctor.emplace(**pool);
      detail::register_port_pool(*pool);
      if (auto* memory = data_memory()) reclaimer.emplace(**pool, *memory);
    }
    janitor = std::thread([this] {
      std::unique_lock<std::mutex> guard(janitor_mutex);
      for (int round = 1; !janitor_wake.wait_for(guard, kJanitorPeriod, [this] { return janitor_stop; }); ++round) {
        stall.tick(Clock::now(), roudi->rounds_done(), roudi->request_in_progress());
        if (doctor) {
          for (const detail::LockRepair& repair : doctor->scan()) {
            if (repair.dead_thread != 0) {
              log->warn("released a lock that thread {} of a killed process left held: {} (iceoryx #1711)",
                           repair.dead_thread, repair.port);
            } else {
              log->warn("released a lock held for {} ms by no thread (its holder was killed taking or leaving "
                           "it): {} (iceoryx #1711)",
                           std::chrono::duration_cast<std::chrono::milliseconds>(repair.within).count(), repair.port);
            }
            note_latency(repair.within);
          }
        }
        if (round % kSlowScanEveryRounds != 0) continue;
        if (reclaimer) say_reclaimed(reclaimer->scan());
        detail::lockstep_housekeeping();
      }
    });
  }

  void note_latency(std::chrono::nanoseconds latency) {
    std::lock_guard<std::mutex> guard(latency_mutex);
    if (release_latency.size() < kLatenciesKept) {
      release_latency.push_back(latency);
    } else {
      release_latency[latencies_seen % kLatenciesKept] = latency;
    }
    ++latencies_seen;
  }

  void say_reclaimed(const detail::ChunksReclaimed& reclaimed) const {
    if (reclaimed.bookkeeping != 0 || reclaimed.counters != 0) {
      log->warn("repaired the pools' bookkeeping that killed processes left half done: {} chunk records given "
                   "back, {} counts of chunks in use set right", reclaimed.bookkeeping, reclaimed.counters);
    }
    if (reclaimed.chunks == 0) return;
    std::string pools;
    auto* memory = data_memory();
    for (std::uint32_t i = 0; memory != nullptr && i < reclaimed.per_pool.size(); ++i) {
      if (reclaimed.per_pool[i] == 0) continue;
      pools += (pools.empty() ? "" : ", ") + std::to_string(reclaimed.per_pool[i]) + " of " +
               pool_name(memory->getMemPoolInfo(i).m_chunkSize);
    }
    log->warn("gave back {} chunk{} that killed processes left in use ({})", reclaimed.chunks,
                 reclaimed.chunks == 1 ? "" : "s", pools);
  }

  // The names of the memory and lock RouDi would remove on destruction, for
  // the paths that keep its objects alive past stop().
  static void unlink_iceoryx_files() noexcept {
    ::unlink(detail::kIceoryxMgmtShm);
    ::unlink(detail::data_segment_path().c_str());
    ::unlink(detail::kRoudiUniqueLock);
  }

  void join_janitor() noexcept {
    if (!janitor.joinable()) return;
    {
      std::lock_guard<std::mutex> guard(janitor_mutex);
      janitor_stop = true;
    }
    janitor_wake.notify_all();
    janitor.join();
    detail::register_port_pool(nullptr);
  }

  void stop_janitor() noexcept {
    {
      std::lock_guard<std::mutex> guard(g_running_mutex);
      if (g_running == this) g_running = nullptr;
    }
    join_janitor();
  }

  void stop() noexcept {
    stop_janitor();
    if (!lock.held()) return;
    ::unlink(detail::kDaemonInfo);
    remove_clock_segment();
    remove_state_segment();
    std::optional<detail::QuietStdio> quiet;  // RouDi says goodbye on stdout too
    if (!verbose) quiet.emplace();
    if (roudi && stall.stalled() > wedge_timeout) {
      // Wedged: its threads wait for a lock nobody will release, so joining
      // them would hang. Leave them (they end with the process); free the names.
      log->error("the daemon is wedged (iceoryx #1711); leaving its threads, removing its files");
      unlink_iceoryx_files();
      ::unlink(detail::kRoudiSocket);
      (void)roudi.release();
      (void)components.release();
    } else if (detail::runtime_in_process()) {
      // A node of this process works on the same memory and may still
      // destroy ports and loggers in it, down to its exit. RouDi's destructor
      // would unmap that memory and unregister the process's relative
      // pointers under it: stop its threads only, keep the memory mapped
      // until exit, and remove the segments' names now.
      roudi->stop_threads();
      unlink_iceoryx_files();
      (void)roudi.release();
      (void)components.release();
    } else {
      roudi.reset();       // stops RouDi's threads first,
      components.reset();  // then unmaps and removes the segments
    }
    // Leave /tmp as found: the lock's name (a daemon starting meanwhile
    // retries on the new name), then the run directory once it is empty.
    lock.release(/*remove=*/true);
    ::rmdir(detail::kRunDir);
  }
};

Result<Daemon> Daemon::start(DaemonOptions options) {
  const auto started = Clock::now();
  // spdlog's registry (a function-local static) must exist before the
  // janitor's exit handler is registered, so that the handler (which stops
  // the janitor) runs before the registry is destroyed. Created first by the
  // janitor's first warning, the registry went first at exit while the
  // janitor still logged (a crash at exit, LockRepair under load).
  (void)spdlog::default_logger_raw();
  if (auto valid = detail::validate_memory(options.memory); !valid) return tl::make_unexpected(valid.error());
  if (auto dir = detail::ensure_run_dir(); !dir) return tl::make_unexpected(dir.error());

  auto impl = std::make_unique<Impl>();
  impl->verbose = options.verbose_iceoryx;
  if (options.wedge_timeout < kMinWedgeTimeout) {
    return fail(Errc::invalid_argument,
                "a wedge timeout of " + std::to_string(options.wedge_timeout.count()) + " ms is shorter than " +
                    std::to_string(kMinWedgeTimeout.count()) +
                    " ms: RouDi completes a round every 100 ms and may take several on a busy machine, so a "
                    "shorter one would judge a working daemon wedged; give " +
                    std::to_string(kMinWedgeTimeout.count()) + " ms or more");
  }
  impl->wedge_timeout = options.wedge_timeout;
  const auto previous_daemon = detail::read_pid_file(detail::kDaemonLock);
  pid_t holder = 0;
  int error = 0;
  switch (detail::FileLock::try_acquire(detail::kDaemonLock, impl->lock, holder, error)) {
    case detail::FileLock::Outcome::acquired: break;
    case detail::FileLock::Outcome::held_by_other:
      return fail(Errc::already_running,
                  "a statebus daemon is already running (pid " + std::to_string(holder) +
                      "); connect to it, or stop it (kill " + std::to_string(holder) + ") before starting another");
    case detail::FileLock::Outcome::failed:
      return fail(error == EACCES ? Errc::not_permitted : Errc::system_error,
                  std::string("cannot lock ") + detail::kDaemonLock + ": " + errno_text(error));
  }

  // An iceoryx daemon not started by statebus (iox-roudi) would make RouDi
  // abort the process; refuse first, and name it. (Its lock is released
  // again at once: RouDi takes it itself below.)
  if (detail::iceoryx_daemon_running()) {
    const auto pid = detail::flock_holder(detail::kRoudiUniqueLock);
    return fail(Errc::already_running,
                "an iceoryx daemon not started by statebus (iox-roudi" +
                    (pid ? ", pid " + std::to_string(*pid) : std::string()) +
                    ") is running on this machine; stop it, then start `statebus daemon`");
  }

  impl->removed = detail::remove_leftovers();
  detail::say_removed(impl->removed, previous_daemon);

  std::uint64_t pool_bytes = 0;
  for (const MemoryPool& pool : options.memory.pools) {
    pool_bytes += static_cast<std::uint64_t>(options.memory.iceoryx_defaults ? pool.payload_size
                                                                             : detail::pool_chunk_size(pool.payload_size)) *
                  pool.count;
  }
  if (auto space = detail::check_shm_space(detail::kManagementSegmentBytes + pool_bytes); !space) {
    return tl::make_unexpected(space.error());
  }

  detail::set_iceoryx_log_level(options.verbose_iceoryx);
  if (!options.verbose_iceoryx) detail::filter_iceoryx_posix_errors();
  const iox::RouDiConfig_t config = detail::make_roudi_config(options.memory);
  std::optional<detail::QuietStdio> quiet;
  if (!options.verbose_iceoryx) quiet.emplace();
  impl->components = std::make_unique<iox::roudi::IceOryxRouDiComponents>(config);
  impl->roudi = std::make_unique<detail::EmbeddedRouDi>(*impl->components);
  impl->roudi->start();
  // RouDi binds its socket in the thread just started, then says it is
  // ready: wait for both, so that "started" means clients can connect.
  const auto deadline = Clock::now() + detail::kReadyTimeout;
  while (!detail::roudi_socket_bound() || (quiet && !quiet->captured_line(detail::kReadyLine))) {
    if (Clock::now() >= deadline) {
      return fail(Errc::system_error, "RouDi did not open " + std::string(detail::kRoudiSocket) + " within " +
                                          std::to_string(detail::kReadyTimeout.count()) + " ms; see its messages above");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  quiet.reset();

  if (auto clock = create_clock_segment(); !clock) return tl::make_unexpected(clock.error());
  if (auto state = create_state_segment(); !state) return tl::make_unexpected(state.error());
  impl->start_janitor();
  impl->shm_bytes = detail::file_size(detail::kIceoryxMgmtShm) + detail::file_size(detail::data_segment_path());
  const std::uint32_t max_chunk = detail::largest_chunk(options.memory);
  impl->max_payload = detail::max_payload_for_chunk(max_chunk);
  const ProcessId self = this_process();
  const auto instance = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  if (auto info = detail::write_info({self.pid, self.start_time, impl->max_payload, max_chunk, instance}); !info) {
    return tl::make_unexpected(info.error());
  }
  impl->startup = Clock::now() - started;
  return Daemon(std::move(impl));
}

Daemon::Daemon(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

Daemon::Daemon(Daemon&&) noexcept = default;
Daemon& Daemon::operator=(Daemon&&) noexcept = default;
Daemon::~Daemon() = default;

void Daemon::stop() noexcept {
  if (impl_) impl_->stop();
}
pid_t Daemon::pid() const noexcept { return impl_->pid; }
Result<void> Daemon::health() const noexcept {
  if (!impl_ || !impl_->roudi) return fail(Errc::no_daemon, "this daemon was stopped");
  const auto stalled = impl_->stall.stalled();
  if (stalled <= impl_->wedge_timeout) return {};
  return fail(Errc::daemon_wedged,
              "the daemon (pid " + std::to_string(impl_->pid) + ") has made no progress for " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(stalled).count()) +
                  " ms: a process killed inside publish() left a lock held (iceoryx issue #1711); its clients "
                  "must reconnect to a new daemon: end this one (`statebus daemon` restarts by itself)");
}

DaemonRepairs Daemon::repairs() const {
  DaemonRepairs repairs;
  if (!impl_) return repairs;
  repairs.locks_released = impl_->doctor ? impl_->doctor->released() : 0;
  repairs.chunks_reclaimed = impl_->reclaimer ? impl_->reclaimer->reclaimed() : 0;
  std::lock_guard<std::mutex> guard(impl_->latency_mutex);
  repairs.release_latency = impl_->release_latency;
  return repairs;
}

bool Daemon::wait_for_round(std::chrono::nanoseconds timeout) const {
  if (!impl_ || !impl_->roudi) return false;
  return impl_->roudi->wait_for_round(timeout);
}

std::vector<PoolUsage> Daemon::pool_usage() const {
  std::vector<PoolUsage> pools;
  if (!impl_ || !impl_->components) return pools;
  const iox::mepoo::MemoryManager* memory = impl_->data_memory();
  if (memory == nullptr) return pools;
  for (std::uint32_t i = 0; i < memory->getNumberOfMemPools(); ++i) {
    const auto pool = memory->getMemPoolInfo(i);
    pools.push_back({pool.m_chunkSize, pool.m_numChunks, pool.m_usedChunks, pool.m_minFreeChunks});
  }
  return pools;
}

const std::vector<std::string>& Daemon::removed_leftovers() const noexcept { return impl_->removed; }
std::uint64_t Daemon::shared_memory_bytes() const noexcept { return impl_->shm_bytes; }
std::chrono::nanoseconds Daemon::startup_time() const noexcept { return impl_->startup; }
std::uint32_t Daemon::max_payload() const noexcept { return impl_->max_payload; }

}  // namespace statebus
