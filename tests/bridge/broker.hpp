#pragma once
// A real mosquitto broker for one test: 127.0.0.1 on a free port, its own
// config and log in a fresh folder, killed and started again on demand.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "statebus/testing/child_process.hpp"

namespace bridge_test {

inline constexpr const char* kMosquitto = "/usr/sbin/mosquitto";

/// A port nobody listens on now (the kernel's choice).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

class Broker {
 public:
  /// Extra lines for mosquitto.conf (password_file, certificates …).
  explicit Broker(std::string extra_config = "") : port_(free_port()), extra_(std::move(extra_config)) {
    char pattern[] = "/tmp/statebus-broker-XXXXXX";
    folder_ = ::mkdtemp(pattern);
    // As root the broker would switch to user mosquitto, who cannot read the test's files.
    std::ofstream(folder_ + "/mosquitto.conf") << "listener " << port_ << " 127.0.0.1\n"
                                               << (extra_.find("allow_anonymous") == std::string::npos
                                                       ? "allow_anonymous true\n"
                                                       : "")
                                               << "user root\nset_tcp_nodelay true\n"
                                               << "log_dest stdout\nlog_type error\nlog_type warning\n"
                                               << "log_type information\npersistence false\n"
                                               << extra_ << "\n";
  }

  /// Starts it and waits (bounded) for its "running" line; false if it did not come.
  bool start() {
    // Line-buffered, so its "running" line arrives when it is written.
    auto child = statebus::testing::ChildProcess::spawn(
        {"/usr/bin/stdbuf", "-oL", kMosquitto, "-c", folder_ + "/mosquitto.conf"});
    if (!child) return false;
    process_ = std::move(*child);
    for (int lines = 0; lines < 50; ++lines) {
      auto line = process_->read_line(std::chrono::seconds(5));
      if (!line) return false;
      if (line->find(" running") != std::string::npos) return true;
    }
    return false;
  }
  /// SIGKILL: no clean goodbye to anyone.
  void kill() {
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(5));
    process_.reset();
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] const std::string& folder() const { return folder_; }
  std::string describe() { return process_ ? process_->describe() : "(broker not running)"; }

 private:
  int port_;
  std::string extra_;
  std::string folder_;
  std::optional<statebus::testing::ChildProcess> process_;
};

}  // namespace bridge_test
