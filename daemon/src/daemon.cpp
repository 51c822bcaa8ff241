// The daemon: start (RouDi embedded, the run directory, the segments),
// stop, and the public calls. Its janitor thread: daemon_janitor.cpp.
#include "statebus/daemon/daemon.hpp"
#include "daemon_impl.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "chunk_census.hpp"
#include "daemon_stop_hook.hpp"
#include "embedded_roudi.hpp"
#include "iceoryx_posh/internal/mepoo/memory_manager.hpp"
#include "pools.hpp"
#include "port_repair.hpp"
#include "process_registry.hpp"
#include "quiet_stdio.hpp"
#include "run_directory.hpp"
#include "stall_meter.hpp"
#include "statebus/base/process.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/bus_access.hpp"
#include "statebus/internal/cerr_filter.hpp"
#include "statebus/internal/channel_types.hpp"
#include "statebus/internal/clock_segment.hpp"
#include "statebus/internal/file_lock.hpp"
#include "statebus/internal/iceoryx.hpp"
#include "statebus/internal/iceoryx_files.hpp"
#include "statebus/internal/lockstep.hpp"
#include "statebus/internal/log_ring.hpp"
#include "statebus/internal/member_groups.hpp"
#include "statebus/internal/paths.hpp"
#include "statebus/internal/port_lock.hpp"
#include "statebus/internal/roudi_socket.hpp"
#include "statebus/internal/state_segment.hpp"
#include "statebus/state/cell.hpp"

namespace statebus {
namespace {

using Clock = std::chrono::steady_clock;
// RouDi completes a round every 100 ms and, on a busy machine, may take a
// few; a wedge timeout must leave room for that.
constexpr std::chrono::milliseconds kMinWedgeTimeout{500};

std::atomic<detail::DaemonStopHook> g_after_goodbye_hook{nullptr};

}  // namespace

void detail::set_after_goodbye_hook(DaemonStopHook hook) noexcept {
  g_after_goodbye_hook.store(hook, std::memory_order_relaxed);
}

iox::mepoo::MemoryManager* Daemon::Impl::data_memory() const {
  auto segments = components->rouDiMemoryManager.segmentManager();
  if (!segments) return nullptr;
  auto info =
      (*segments)->getSegmentInformationWithWriteAccessForUser(iox::posix::PosixUser::getUserOfCurrentProcess());
  return info.m_memoryManager ? &info.m_memoryManager->get() : nullptr;
}

// The names of the memory and lock RouDi would remove on destruction, for
// the paths that keep its objects alive past stop().
void Daemon::Impl::unlink_iceoryx_files() noexcept {
  ::unlink(detail::kIceoryxMgmtShm);
  ::unlink(detail::data_segment_path().c_str());
  ::unlink(detail::kRoudiUniqueLock);
}

void Daemon::Impl::stop() noexcept {
  if (!lock.held()) {
    stop_janitor();
    return;
  }
  // Every process on the bus learns at once that its daemon is gone.
  if (registry) registry->close_all();
  if (const detail::DaemonStopHook hook = g_after_goodbye_hook.load(std::memory_order_relaxed)) hook();
  ::unlink(detail::kDaemonInfo);
  remove_clock_segment();
  remove_state_segment();
  detail::remove_log_segment();
  std::optional<detail::QuietStdio> quiet;  // RouDi says goodbye on stdout too
  if (!verbose) quiet.emplace();
  // The janitor goes on while RouDi's threads stop: a process that dies
  // now, holding a lock RouDi waits for, is still repaired.
  if (roudi && stall.stalled() > wedge_timeout) {
    // Wedged: its threads wait for a lock nobody will release, so joining
    // them would hang. Leave them (they end with the process); free the names.
    log->error("the daemon is wedged; leaving its threads, removing its files");
    stop_janitor();
    unlink_iceoryx_files();
    ::unlink(detail::kRoudiSocket);
    ::unlink(detail::kRegistrySocket);
    (void)roudi.release();
    (void)components.release();
    (void)registry.release();  // RouDi's threads, left running, may still ask it
  } else if (detail::runtime_in_process()) {
    // A node of this process works on the same memory and may still
    // destroy ports and loggers in it, down to its exit. RouDi's destructor
    // would unmap that memory and unregister the process's relative
    // pointers under it: stop its threads only, keep the memory mapped
    // until exit, and remove the segments' names now.
    if (roudi) roudi->stop_threads();
    stop_janitor();
    unlink_iceoryx_files();
    (void)roudi.release();
    (void)components.release();
  } else {
    if (roudi) roudi->stop_threads();
    stop_janitor();
    roudi.reset();
    components.reset();  // unmaps and removes the segments
  }
  ports = nullptr;
  memory = nullptr;
  registry.reset();  // after RouDi's threads, which ask it; removes its socket
  // Leave /tmp as found: the lock's name (a daemon starting meanwhile
  // retries on the new name), then the run directory once it is empty.
  detail::remove_channel_types();
  lock.release(/*remove=*/true);
  ::rmdir(detail::kRunDir);
}

Result<Daemon> Daemon::start(DaemonOptions options) {
  const auto started = Clock::now();
  // spdlog's registry (a function-local static) must exist before the
  // janitor's exit handler is registered, so that the handler (which stops
  // the janitor) runs before the registry is destroyed. Created first by the
  // janitor's first warning, the registry went first at exit while the
  // janitor still logged (a crash at exit, seen under load).
  (void)spdlog::default_logger_raw();
  if (auto valid = detail::validate_memory(options.memory); !valid) return tl::make_unexpected(valid.error());
  // iceoryx names the group that may use the bus's memory (the daemon's):
  // a group id the group database does not know would abort it.
  if (const gid_t group = ::getegid(); !detail::group_has_name(group)) {
    return fail(Errc::not_permitted,
                "the daemon runs under group id " + std::to_string(group) +
                    ", which has no entry in the group database (/etc/group), and iceoryx names the group that "
                    "may use the bus's memory: add it (groupadd -g " +
                    std::to_string(group) +
                    " NAME) or start the daemon under a group that has a name (docker --user UID:GROUP, "
                    "sg GROUP -c 'statebus daemon')");
  }
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
  const auto outcome = detail::try_daemon_lock(impl->lock, holder, error);
  if (!outcome) return tl::make_unexpected(outcome.error());
  switch (*outcome) {
    case detail::FileLock::Outcome::acquired: break;
    case detail::FileLock::Outcome::held_by_other:
      return fail(Errc::already_running, "a statebus daemon is already running (pid " + std::to_string(holder) +
                                             "); connect to it, or stop it (kill " + std::to_string(holder) +
                                             ") before starting another");
    case detail::FileLock::Outcome::failed:
      return fail(error == EACCES || error == EPERM ? Errc::not_permitted : Errc::system_error,
                  detail::lock_failure(detail::kDaemonLock, error));
  }

  // An iceoryx daemon not started by statebus (iox-roudi) would make RouDi
  // abort the process; refuse first, and name it. (Its lock is released
  // again at once: RouDi takes it itself below.)
  if (detail::iceoryx_daemon_running()) {
    const auto pid = detail::flock_holder(detail::kRoudiUniqueLock);
    return fail(Errc::already_running, "an iceoryx daemon not started by statebus (iox-roudi" +
                                           (pid ? ", pid " + std::to_string(*pid) : std::string()) +
                                           ") is running on this machine; stop it, then start `statebus daemon`");
  }

  auto removed = detail::remove_leftovers();
  if (!removed) return tl::make_unexpected(removed.error());
  impl->removed = std::move(*removed);
  detail::say_removed(impl->removed, previous_daemon);
  detail::sweep_channel_types();

  // Every port lock of this process (RouDi's threads, a node of its own) must
  // be taken the statebus way, or a death could not be told from a holder;
  // iceoryx's files made without following links; members seen by their
  // own groups.
  if (!detail::port_locks_in_effect()) return fail(Errc::system_error, detail::port_locks_not_in_effect());
  if (!detail::iceoryx_files_in_effect()) return fail(Errc::system_error, detail::iceoryx_files_not_in_effect());
  if (!detail::member_groups_in_effect()) return fail(Errc::system_error, detail::member_groups_not_in_effect());
  detail::set_bus_group(::getegid());  // the bus's memory is for the daemon's group
  // Three descriptors per process on the bus (its pidfd, its registry
  // connection, RouDi's channel to it): raise the soft limit to the hard one.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  auto registry = detail::ProcessRegistry::open(impl->log);
  if (!registry) return tl::make_unexpected(registry.error());
  impl->registry = std::move(*registry);

  std::uint64_t pool_bytes = 0;
  for (const MemoryPool& pool : options.memory.pools) {
    pool_bytes +=
        static_cast<std::uint64_t>(options.memory.iceoryx_defaults ? pool.payload_size
                                                                   : detail::pool_chunk_size(pool.payload_size)) *
        pool.count;
  }
  if (auto space = detail::check_shm_space(detail::kManagementSegmentBytes + pool_bytes + detail::kLogSegmentBytes);
      !space) {
    return tl::make_unexpected(space.error());
  }

  detail::set_iceoryx_log_level(options.verbose_iceoryx);
  if (!options.verbose_iceoryx) detail::filter_iceoryx_posix_errors();
  const iox::RouDiConfig_t config = detail::make_roudi_config(options.memory);
  std::optional<detail::QuietStdio> quiet;
  if (!options.verbose_iceoryx) quiet.emplace();
  impl->components = std::make_unique<iox::roudi::IceOryxRouDiComponents>(config);
  impl->roudi = std::make_unique<detail::EmbeddedRouDi>(*impl->components);
  try {
    impl->roudi->start(impl->registry.get());
  } catch (const std::exception& failed) {
    return fail(Errc::system_error, std::string("cannot start the daemon's threads: ") + failed.what());
  }
  // RouDi binds its socket in the thread just started, then says it is
  // ready: wait for both, so that "started" means clients can connect.
  const auto deadline = Clock::now() + detail::kReadyTimeout;
  while (!detail::roudi_socket_bound() || (quiet && !quiet->captured_line(detail::kReadyLine))) {
    // Another user's file put there since the leftovers were removed: RouDi
    // can neither replace it nor listen; say so now, not after the timeout.
    if (struct stat socket{};
        ::lstat(detail::kRoudiSocket, &socket) == 0 && (!S_ISSOCK(socket.st_mode) || socket.st_uid != ::geteuid())) {
      return fail(Errc::not_permitted, std::string(detail::kRoudiSocket) + " belongs to " +
                                           detail::user_name(socket.st_uid) +
                                           ", not to the daemon: RouDi cannot listen there; remove it as that "
                                           "user or root (sudo rm " +
                                           detail::kRoudiSocket + ") and start again");
    }
    if (Clock::now() >= deadline) {
      return fail(Errc::system_error, "RouDi did not open " + std::string(detail::kRoudiSocket) + " within " +
                                          std::to_string(detail::kReadyTimeout.count()) +
                                          " ms; see its messages above");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  quiet.reset();

  if (auto clock = create_clock_segment(); !clock) return tl::make_unexpected(clock.error());
  if (auto state = create_state_segment(); !state) return tl::make_unexpected(state.error());
  if (auto log = detail::create_log_segment(); !log) return tl::make_unexpected(log.error());
  impl->start_janitor();
  impl->shm_bytes = detail::file_size(detail::kIceoryxMgmtShm) + detail::file_size(detail::data_segment_path()) +
                    detail::kLogSegmentBytes;
  const std::uint32_t max_chunk = detail::largest_chunk(options.memory);
  impl->max_payload = detail::max_payload_for_chunk(max_chunk);
  const ProcessId self = this_process();
  const auto instance = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  if (auto info = detail::write_info(
          {self.pid, self.start_time, impl->max_payload, max_chunk, instance, pid_namespace().value_or(0)});
      !info) {
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
  try {
    // A live process that holds what RouDi waits for explains the stall: wait for it.
    if (!impl_->live_lock_holders().empty()) return {};
  } catch (...) {
    // No memory to look: judge by the stall alone.
  }
  return fail(Errc::daemon_wedged,
              "the daemon (pid " + std::to_string(impl_->pid) + ") has made no progress for " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(stalled).count()) +
                  " ms, and no live process holds a lock it could be waiting for; its clients must reconnect to "
                  "a new daemon: end this one (`statebus daemon` restarts by itself)");
}

DaemonRepairs Daemon::repairs() const {
  if (!impl_) return {};
  return impl_->count_losses();
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
  const std::vector<std::uint32_t> taken = detail::taken_slots(*const_cast<iox::mepoo::MemoryManager*>(memory));
  for (std::uint32_t i = 0; i < memory->getNumberOfMemPools(); ++i) {
    const auto pool = memory->getMemPoolInfo(i);
    pools.push_back(
        {pool.m_chunkSize, pool.m_numChunks, i < taken.size() ? taken[i] : pool.m_usedChunks, pool.m_minFreeChunks});
  }
  return pools;
}

const std::vector<std::string>& Daemon::removed_leftovers() const noexcept { return impl_->removed; }
std::uint64_t Daemon::shared_memory_bytes() const noexcept { return impl_->shm_bytes; }
std::chrono::nanoseconds Daemon::startup_time() const noexcept { return impl_->startup; }
std::uint32_t Daemon::max_payload() const noexcept { return impl_->max_payload; }

}  // namespace statebus
