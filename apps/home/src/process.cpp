#include "home/process.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "statebus/bus/log_sink.hpp"
#include "statebus/clock/duration.hpp"

namespace home {
namespace {
sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

StopSignals::StopSignals() {
  const sigset_t set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

StopSignals::~StopSignals() {
  if (thread_.joinable()) {
    // Still waiting: end it with the signal it waits for, without a callback.
    closing_->store(true);
    // The thread waits for SIGTERM in sigwait(): the signal wakes it, it does not kill it.
    pthread_kill(thread_.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
    thread_.join();
  }
}

void StopSignals::wait_in_thread(std::function<void(int)> on_stop) {
  thread_ = std::thread([on_stop = std::move(on_stop), closing = closing_] {
    const sigset_t set = stop_set();
    int received = 0;
    if (sigwait(&set, &received) == 0 && !closing->load()) on_stop(received);
  });
}

std::optional<statebus::Node> connect_and_log(const std::string& name) {
  auto node = statebus::Node::connect(name);
  if (!node) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), node.error().message().c_str());
    return std::nullopt;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt(name));
  if (auto sink = statebus::log_to_bus(*node, name); !sink) {
    std::fprintf(stderr, "%s: logging to the bus: %s\n", name.c_str(), sink.error().message().c_str());
  }
  return std::move(*node);
}

std::string check_duration(const std::string& text) {
  auto parsed = statebus::parse_duration(text);
  return parsed ? std::string() : parsed.error().message();
}

std::chrono::nanoseconds duration_of(const std::string& text) { return statebus::parse_duration(text).value(); }

std::string clock_text(std::chrono::nanoseconds time_of_day) {
  const long long s = std::chrono::duration_cast<std::chrono::seconds>(time_of_day).count();
  char text[32];
  std::snprintf(text, sizeof text, "%02lld:%02lld:%02lld", s / 3600 % 100, s / 60 % 60, s % 60);
  return text;
}

}  // namespace home
