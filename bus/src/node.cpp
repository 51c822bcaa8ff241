#include "statebus/bus/node.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "file_lock.hpp"
#include "iceoryx.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "paths.hpp"
#include "roudi_socket.hpp"
#include "statebus/bus/daemon.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus {

struct Node::State {
  std::string name;
  std::uint32_t max_payload = 0;
  std::uint32_t max_chunk = 0;
  detail::FileLock name_lock;  // held for the life of the process

  // At exit: give the name back and leave no lock file behind.
  ~State() { name_lock.release(/*remove=*/true); }
};

namespace {

std::mutex g_mutex;
std::shared_ptr<const Node::State> g_state;  // iceoryx: one runtime per process, for its life
std::atomic<bool> g_runtime{false};

// Waits up to `timeout` for a live daemon. Polls every 10 ms: a daemon that
// is starting has no way to tell us sooner, and this runs once per process.
Result<DaemonInfo> wait_for_daemon(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto info = find_daemon();
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

}  // namespace

Result<Node> Node::connect(std::string_view name, NodeOptions options) {
  if (auto valid = validate_node_name(name); !valid) return tl::make_unexpected(valid.error());
  if (options.connect_timeout.count() < 0) {
    return fail(Errc::invalid_argument, "connect_timeout is negative");
  }
  std::lock_guard<std::mutex> guard(g_mutex);
  if (g_state) {
    if (g_state->name == name) return Node(g_state);
    return fail(Errc::already_running, "this process is already on the bus as '" + g_state->name +
                                           "'; iceoryx allows one name per process, so it cannot also be '" +
                                           std::string(name) + "'");
  }
  auto daemon = wait_for_daemon(options.connect_timeout);
  if (!daemon) return tl::make_unexpected(daemon.error());

  auto state = std::make_shared<State>();
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
      return fail(Errc::system_error, "cannot lock " + detail::node_lock_path(name) + ": " +
                                          std::strerror(error));
  }
  // The bus's clock: a node that cannot map it keeps real time (the segment
  // checks say why in the error, which the clock's status shows).
  (void)VirtualClock::attach();
  detail::set_iceoryx_log_level(false);
  const std::string runtime = detail::runtime_name(name);
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, runtime.c_str()));
  g_runtime.store(true, std::memory_order_release);
  g_state = std::move(state);
  return Node(g_state);
}

bool detail::runtime_in_process() noexcept { return g_runtime.load(std::memory_order_acquire); }

const std::string& Node::name() const noexcept { return state_->name; }
std::uint32_t Node::max_payload() const noexcept { return state_->max_payload; }
std::uint32_t Node::max_chunk() const noexcept { return state_->max_chunk; }

}  // namespace statebus
