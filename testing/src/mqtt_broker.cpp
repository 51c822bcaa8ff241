#include "statebus/testing/mqtt_broker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace statebus::testkit {
namespace {

// Waits until `log` holds `text`, `child` ends or `timeout` passes: woken by
// each write to the file (inotify), never by a timer.
bool wait_for_text(const std::string& log, const std::string& text, ChildProcess& child,
                   std::chrono::milliseconds timeout) {
  const int watch = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (watch < 0) return false;
  ::inotify_add_watch(watch, log.c_str(), IN_MODIFY);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool found = false;
  for (;;) {
    std::ifstream in(log);
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    found = content.find(text) != std::string::npos;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (found || left.count() <= 0 || child.wait(std::chrono::milliseconds(0))) break;
    pollfd event{watch, POLLIN, 0};
    // At most 100 ms at a time: a broker that ends instead of writing is noticed.
    if (::poll(&event, 1, static_cast<int>(std::min<long long>(left.count(), 100))) > 0) {
      char buffer[4096];
      while (::read(watch, buffer, sizeof buffer) > 0) {
      }
    }
  }
  ::close(watch);
  return found;
}

}  // namespace

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 0;
}

Result<MqttBroker> MqttBroker::start(const std::string& extra_config, std::chrono::milliseconds timeout) {
  if (::access(kExecutable, X_OK) != 0) {
    return tl::make_unexpected(Error(Errc::invalid_argument, std::string(kExecutable) +
                                                                 " is missing: install Debian's package mosquitto "
                                                                 "(scripts/setup-debian.sh does)"));
  }
  MqttBroker broker;
  char pattern[] = "/tmp/statebus-broker-XXXXXX";
  if (::mkdtemp(pattern) == nullptr)
    return tl::make_unexpected(Error(Errc::system_error, "cannot make a folder in /tmp"));
  broker.folder_ = pattern;
  broker.port_ = free_tcp_port();
  if (broker.port_ == 0) {
    return tl::make_unexpected(Error(Errc::system_error, "no free TCP port on 127.0.0.1 for mosquitto (socket or bind "
                                                         "failed): is the loopback interface up?"));
  }
  std::ofstream(broker.folder_ + "/mosquitto.conf")
      << "listener " << broker.port_ << " 127.0.0.1\n"
      << (extra_config.find("allow_anonymous") == std::string::npos ? "allow_anonymous true\n" : "")
      << "user root\nset_tcp_nodelay true\npersistence false\n"
      << "log_dest stderr\nlog_type error\nlog_type warning\nlog_type information\n"
      << extra_config << "\n";
  if (auto started = broker.restart(timeout); !started) return tl::make_unexpected(started.error());
  return broker;
}

Result<void> MqttBroker::restart(std::chrono::milliseconds timeout) {
  kill();
  const std::string log = folder_ + "/mosquitto.log";
  std::ofstream(log, std::ios::trunc).flush();
  auto child = ChildProcess::spawn({kExecutable, "-c", folder_ + "/mosquitto.conf"}, log);
  if (!child) return tl::make_unexpected(child.error());
  process_ = std::move(*child);
  if (!wait_for_text(log, " running", *process_, timeout)) {
    const std::string why = "mosquitto did not start on port " + std::to_string(port_) + ": " + this->log();
    kill();
    return tl::make_unexpected(Error(Errc::system_error, why));
  }
  return {};
}

void MqttBroker::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(5));
  process_.reset();
}

std::string MqttBroker::log() const {
  std::ifstream in(folder_ + "/mosquitto.log");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

MqttBroker::~MqttBroker() {
  if (folder_.empty()) return;  // moved from
  if (process_) {
    process_->signal(SIGTERM);
    if (!process_->wait(std::chrono::seconds(5))) kill();
    process_.reset();
  }
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

}  // namespace statebus::testkit
