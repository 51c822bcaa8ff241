#pragma once
/// A real MQTT broker for a test or benchmark: Debian's mosquitto on
/// 127.0.0.1 and a free port, with a config and log of its own.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "statebus/base/error.hpp"
#include "statebus/testing/child_process.hpp"

namespace statebus::testkit {

/// Not thread-safe. Move-only; the destructor stops the broker (SIGTERM,
/// then SIGKILL) and removes its folder.
class MqttBroker {
 public:
  static constexpr const char* kExecutable = "/usr/sbin/mosquitto";

  /// Starts it and waits up to `timeout` until it listens: its log file is
  /// watched (inotify) for its "running" line, nothing is polled. Nagle is
  /// off (`set_tcp_nodelay true`: with it on, QoS 1 waits for delayed ACKs),
  /// nothing persists, anonymous clients are let in, and as root it stays
  /// root (it could not read the test's files as user mosquitto).
  /// `extra_config` is appended to mosquitto.conf (a password_file, a
  /// certfile and keyfile, `allow_anonymous false` …). Fails with
  /// invalid_argument if mosquitto is missing (naming the package), or
  /// system_error if it did not start, with its log.
  static Result<MqttBroker> start(const std::string& extra_config = "",
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  MqttBroker(MqttBroker&&) noexcept = default;
  MqttBroker& operator=(MqttBroker&&) noexcept = default;
  ~MqttBroker();

  /// SIGKILL: no goodbye to any client.
  void kill();
  /// Starts it again after kill(), on the same port and config.
  Result<void> restart(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  /// Its folder (config, log); a test may put files for extra_config here.
  [[nodiscard]] const std::string& folder() const noexcept { return folder_; }
  /// What it logged so far.
  [[nodiscard]] std::string log() const;

 private:
  MqttBroker() = default;
  std::string folder_;
  int port_ = 0;
  std::optional<ChildProcess> process_;
};

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice);
/// 0 when the kernel gives none (no socket, loopback down).
int free_tcp_port();

}  // namespace statebus::testkit
