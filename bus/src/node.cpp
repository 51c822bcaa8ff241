#include "statebus/bus/node.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bus_membership.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "statebus/bus/daemon_info.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/bus_access.hpp"
#include "statebus/internal/cerr_filter.hpp"
#include "statebus/internal/file_lock.hpp"
#include "statebus/internal/iceoryx.hpp"
#include "statebus/internal/iceoryx_files.hpp"
#include "statebus/internal/member_groups.hpp"
#include "statebus/internal/paths.hpp"
#include "statebus/internal/port_lock.hpp"
#include "statebus/internal/roudi_socket.hpp"

namespace statebus {

struct detail::NodeState {
  std::string name;
  std::uint32_t max_payload = 0;
  std::uint32_t max_chunk = 0;
  detail::FileLock name_lock;  // held for the life of the process

  // At exit: give the name back and leave no lock file behind, nor the run
  // directory if this was the last file in it (the daemon stopped first):
  // left, it would keep the daemon's owner and group, and a daemon of
  // another user and group could put no lock in it. (A starting daemon
  // makes it again if it goes under its feet.)
  ~NodeState() {
    name_lock.release(/*remove=*/true);
    ::rmdir(detail::kRunDir);  // only once empty
  }
};

namespace {

std::mutex g_mutex;
std::mutex g_unanswerable_mutex;
std::function<void(const Error&)>* g_unanswerable = nullptr;  // set once, by the first connect
std::shared_ptr<const detail::NodeState> g_state;  // iceoryx: one runtime per process, for its life
std::atomic<bool> g_runtime{false};
std::mutex g_daemon_mutex;
std::optional<DaemonInfo> g_daemon;  // the daemon this process registers (or registered) with
std::atomic<bool> g_bus_lost{false};

// Waits up to `timeout` for a live daemon. Polls every 10 ms: a daemon that
// is starting has no way to tell us sooner, and this runs once per process.
Result<DaemonInfo> wait_for_daemon(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto info = find_daemon();
    if (!info && info.error().code() == Errc::not_permitted) return info;  // waiting changes nothing
    // A bus of another user and group: say so, instead of "does not answer"
    // (its socket and memory are closed to this process).
    if (auto access = detail::check_bus_access(detail::kIceoryxMgmtShm); info && !access) {
      return tl::make_unexpected(access.error());
    }
    if (info && detail::roudi_socket_bound()) return info;
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!info) return info;
      return fail(Errc::no_daemon, "the statebus daemon (pid " + std::to_string(info->pid) +
                                       ") does not answer on " + detail::kRoudiSocket +
                                       "; restart it with `statebus daemon`");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// At exit, iceoryx's runtime says goodbye to its daemon and waits for the
// answer without a timeout. A daemon that stopped (its registry connection
// closed) after reading its last request never answers: the process would
// hang at exit. Closing the runtime's own socket for reading makes that wait
// end at once; a daemon that still runs gets its goodbye as always.
void leave_a_stopped_daemon_quickly() {
  std::string runtime;
  {
    std::lock_guard<std::mutex> guard(g_mutex);
    if (!g_state) return;
    runtime = "/tmp/" + detail::runtime_name(g_state->name);
  }
  if (!detail::daemon_left()) return;
  rlimit files{};
  const int highest = ::getrlimit(RLIMIT_NOFILE, &files) == 0 ? static_cast<int>(std::min<rlim_t>(files.rlim_cur, 65536)) : 1024;
  for (int fd = 0; fd < highest; ++fd) {
    sockaddr_un address{};
    socklen_t size = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0 || address.sun_family != AF_UNIX) continue;
    if (runtime == address.sun_path) ::shutdown(fd, SHUT_RD);
  }
}

}  // namespace

Result<Node> Node::connect(std::string_view name, NodeOptions options) {
  if (auto valid = validate_node_name(name); !valid) return tl::make_unexpected(valid.error());
  if (options.connect_timeout.count() < 0) {
    return fail(Errc::invalid_argument, "connect_timeout is negative");
  }
  std::lock_guard<std::mutex> guard(g_mutex);
  if (g_state) {
    if (g_state->name == name) return Node(g_state);
    return fail(Errc::already_connected, "this process is already on the bus as '" + g_state->name +
                                           "'; iceoryx allows one name per process, so it cannot also be '" +
                                           std::string(name) + "'");
  }
  auto daemon = wait_for_daemon(options.connect_timeout);
  if (!daemon) return tl::make_unexpected(daemon.error());
  if (options.on_unanswerable) {
    std::lock_guard<std::mutex> hold(g_unanswerable_mutex);
    if (g_unanswerable == nullptr) {
      g_unanswerable = new std::function<void(const Error&)>(std::move(options.on_unanswerable));  // for good
    }
  }
  // iceoryx reports each failed call to the daemon on std::cerr: a send of
  // its runtime's periodic keep-alive in the moment between the daemon's
  // end and this process's, and the goodbye at exit. Kept out of the
  // process's output from the start (the process learns of the daemon's
  // end from bus_health(), in words).
  detail::filter_iceoryx_posix_errors();

  auto state = std::make_shared<detail::NodeState>();
  state->name = std::string(name);
  state->max_payload = daemon->max_payload;
  state->max_chunk = daemon->max_chunk;
  pid_t holder = 0;
  int error = 0;
  switch (detail::FileLock::try_acquire(detail::node_lock_path(name), state->name_lock, holder, error)) {
    case detail::FileLock::Outcome::acquired: break;
    case detail::FileLock::Outcome::held_by_other:
      return fail(Errc::name_in_use, "another process (pid " + std::to_string(holder) +
                                         ") is on the bus as '" + std::string(name) + "'; choose another name");
    case detail::FileLock::Outcome::failed:
      return fail(error == EACCES || error == EPERM ? Errc::not_permitted : Errc::system_error,
                  detail::lock_failure(detail::node_lock_path(name), error));
  }
  // Every port lock must be taken the statebus way, or the daemon could
  // not tell a dead holder from a live one.
  if (!detail::port_locks_in_effect()) return fail(Errc::system_error, detail::port_locks_not_in_effect());
  if (!detail::iceoryx_files_in_effect()) return fail(Errc::system_error, detail::iceoryx_files_not_in_effect());
  if (auto known = detail::check_named_user(); !known) return tl::make_unexpected(known.error());
  const std::string runtime = detail::runtime_name(name);
  if (auto socket = detail::check_runtime_socket("/tmp/" + runtime); !socket) {
    return tl::make_unexpected(socket.error());
  }
  // The bus's group (its memory's): iceoryx maps the memory of that group
  // if this process has it, and a member by a group other than its primary
  // one gives its socket to it, for the daemon to answer there.
  if (!detail::member_groups_in_effect()) return fail(Errc::system_error, detail::member_groups_not_in_effect());
  if (struct stat memory{}; ::stat(detail::kIceoryxMgmtShm, &memory) == 0) detail::set_bus_group(memory.st_gid);
  // Joins the daemon's registry before iceoryx exists in this process: the
  // daemon holds a pidfd of it from now on, and this process its place.
  if (auto joined = detail::join_bus(name, options.connect_timeout); !joined) {
    return tl::make_unexpected(joined.error());
  }
  // The bus's clock: a node that cannot map it keeps real time (the segment
  // checks say why in the error, which the clock's status shows).
  (void)VirtualClock::attach();
  detail::set_iceoryx_log_level(false);
  {
    std::lock_guard<std::mutex> daemon_guard(g_daemon_mutex);
    g_daemon = *daemon;
  }
  // Registration waits up to 60 s for a daemon that wedges meanwhile; the
  // request watchdog ends the process sooner once that daemon is replaced.
  detail::DaemonRequest request;
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, runtime.c_str()));
  g_runtime.store(true, std::memory_order_release);
  // Runs at exit before iceoryx's runtime is destroyed (registered after it).
  static const int registered = std::atexit(leave_a_stopped_daemon_quickly);
  (void)registered;
  g_state = std::move(state);
  return Node(g_state);
}

bool detail::bus_lost() noexcept { return g_bus_lost.load(std::memory_order_acquire); }

void detail::keep_for_good_raw(const void* object) noexcept {
  static std::mutex mutex;
  static auto* kept = new std::vector<const void*>();  // never destroyed: what it holds is kept too
  std::lock_guard<std::mutex> guard(mutex);
  try {
    kept->push_back(object);
  } catch (...) {
    // No memory to note it: the object stays all the same, unnoted.
  }
}

bool detail::runtime_in_process() noexcept { return g_runtime.load(std::memory_order_acquire); }

Result<void> detail::bus_health() {
  std::optional<DaemonInfo> daemon;
  {
    std::lock_guard<std::mutex> guard(g_daemon_mutex);
    daemon = g_daemon;
  }
  if (!daemon) return {};  // not on a bus: nothing to lose
  // The daemon's end of this process's registry connection closes when it
  // stops or dies: the kernel's word, no pid or /proc to guess from.
  if (!detail::daemon_left()) return {};
  const DaemonInfo& ours = *daemon;
  const std::string who = "the statebus daemon this process connected to (pid " + std::to_string(ours.pid) + ")";
  auto now = find_daemon();
  if (!now) {
    g_bus_lost.store(true, std::memory_order_release);
    return fail(Errc::no_daemon, who + " is gone (" + now.error().message() +
                                     "); this process lost the bus: restart it once a daemon runs again");
  }
  if (now->instance != ours.instance || now->pid != ours.pid || now->start_time != ours.start_time) {
    g_bus_lost.store(true, std::memory_order_release);
    const std::string by = now->pid == ours.pid ? "restarted in place (a new daemon, same pid)"
                                                : "replaced by a new daemon (pid " + std::to_string(now->pid) + ")";
    return fail(Errc::stale_bus, who + " was " + by + "; this process is still on the old bus: restart it to join the new one");
  }
  g_bus_lost.store(true, std::memory_order_release);
  return fail(Errc::no_daemon, who + " has stopped; this process lost the bus: restart it once a daemon runs again");
}

Result<void> Node::bus_health() const { return detail::bus_health(); }

std::optional<Waited> detail::bus_gone() noexcept {
  try {
    if (auto health = bus_health(); !health) return Waited::failed(std::move(health.error()));
  } catch (...) {
    // No memory for the message: the wait goes on, and looks again.
  }
  return std::nullopt;
}

namespace {

std::atomic<int> g_requests{0};
std::atomic<std::int64_t> g_request_since{0};

std::int64_t steady_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

void watch_requests() {
  constexpr std::int64_t kPatience = 2'000'000'000;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (g_requests.load(std::memory_order_acquire) == 0) continue;
    if (steady_ns() - g_request_since.load(std::memory_order_relaxed) < kPatience) continue;
    auto health = detail::bus_health();
    if (health) continue;  // slow (or wedged, not yet replaced): keep waiting
    std::function<void(const Error&)> handler;
    {
      std::lock_guard<std::mutex> guard(g_unanswerable_mutex);
      if (g_unanswerable != nullptr) handler = *g_unanswerable;
    }
    if (handler) {
      handler(health.error());
      return;  // once: the process chose to go on
    }
    std::fprintf(stderr,
                 "statebus: this process waits for an answer the daemon will never give (%s); "
                 "ending it with status 75 so that it can be started again on the new bus\n",
                 health.error().message().c_str());
    std::fflush(stderr);
    std::_Exit(75);
  }
}

}  // namespace

detail::DaemonRequest::DaemonRequest() noexcept {
  static const bool watching = [] {
    try {
      std::thread(watch_requests).detach();
      return true;
    } catch (...) {
      return false;  // no thread: requests just are not watched
    }
  }();
  (void)watching;
  if (g_requests.fetch_add(1, std::memory_order_acq_rel) == 0) {
    g_request_since.store(steady_ns(), std::memory_order_relaxed);
  }
}

detail::DaemonRequest::~DaemonRequest() { g_requests.fetch_sub(1, std::memory_order_acq_rel); }

const std::string& Node::name() const noexcept { return state_->name; }
std::uint32_t Node::max_payload() const noexcept { return state_->max_payload; }
std::uint32_t Node::max_chunk() const noexcept { return state_->max_chunk; }

}  // namespace statebus
