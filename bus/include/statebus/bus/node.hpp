#pragma once
/// A process's connection to the bus.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "statebus/base/error.hpp"

namespace statebus {

namespace detail {
struct NodeState;  // bus/src/node.cpp: the runtime, the name's lock and the pools
}  // namespace detail

/// How a node connects.
struct NodeOptions {
  /// How long to wait for a daemon that is not (yet) running.
  std::chrono::milliseconds connect_timeout{1000};
  /// What to do when a call waits for an answer that a replaced daemon will
  /// never give (see "Ending the process" below). Called once, from
  /// statebus's watcher thread, with why (stale_bus or no_daemon). Empty:
  /// a line on stderr, then `_Exit(75)`. A handler may save what it must
  /// and end the process its own way; if it returns, the process goes on
  /// with the waiting thread blocked inside iceoryx for good. The first
  /// connect() of the process sets it.
  std::function<void(const Error&)> on_unanswerable;
};

/// This process's connection to the bus, under a name unique on the bus.
///
/// iceoryx allows one runtime per process, for the life of the process, so a
/// process has one name: a second connect with the same name returns a
/// handle to the same connection; one with another name fails.
///
/// Thread safety: connect from any thread; handles are cheap to copy.
///
/// Ending the process: a call that needs the daemon's answer (creating a
/// port, a WaitSet or an EventLoop) while the daemon died and a new one
/// replaced it would wait forever inside iceoryx. A watcher thread, started
/// with the first such call, sees it after 2 s (the old daemon gone, the bus
/// taken over) and calls NodeOptions::on_unanswerable, by default ending
/// the process with `_Exit(75)` and a line on stderr saying why, so that a
/// supervisor (statebus-home, systemd) starts it again on the new bus.
/// statebus ends the host process nowhere else (iceoryx itself may still
/// abort on an internal error it deems fatal).
class Node {
 public:
  /// Connects this process as `name`. If no daemon answers within
  /// `connect_timeout`, fails with Errc::no_daemon and a message naming
  /// `statebus daemon` (instead of iceoryx's 60 s wait and abort).
  /// Other failures: Errc::invalid_argument (name, negative timeout),
  /// Errc::name_in_use (names the pid holding it), Errc::already_connected
  /// (this process has another name).
  static Result<Node> connect(std::string_view name, NodeOptions options = {});

  /// The name this process has on the bus.
  [[nodiscard]] const std::string& name() const noexcept;
  /// Largest payload a sample may have on this bus (from the daemon's pools).
  [[nodiscard]] std::uint32_t max_payload() const noexcept;
  /// Largest chunk (payload, headers and padding) the daemon's pools hold.
  [[nodiscard]] std::uint32_t max_chunk() const noexcept;
  /// Whether the daemon this process connected to still runs. Fails with
  /// Errc::no_daemon when it died or stopped, and with Errc::stale_bus when
  /// it was replaced by a new daemon (whose bus this process is not on: it
  /// must restart to join it; a wedged `statebus daemon` replaces itself).
  /// Every EventLoop checks this ten times a second and stops with this
  /// error when it fails. Thread-safe; reads one small file and /proc.
  [[nodiscard]] Result<void> bus_health() const;


 private:
  explicit Node(std::shared_ptr<const detail::NodeState> state) noexcept : state_(std::move(state)) {}
  std::shared_ptr<const detail::NodeState> state_;
};

}  // namespace statebus
