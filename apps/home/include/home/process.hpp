#pragma once
// What every home process shares: connecting, stopping on SIGTERM/SIGINT
// (a clean exit, so coverage data is written), durations on the command line.

#include <atomic>
#include <chrono>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "statebus/bus/node.hpp"

namespace home {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// starts later; call first thing in main. wait_in_thread() then takes the
/// first of them in a thread of its own and calls `on_stop` there.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  void wait_in_thread(std::function<void(int signal)> on_stop);

 private:
  std::thread thread_;
  std::shared_ptr<std::atomic<bool>> closing_ = std::make_shared<std::atomic<bool>>(false);
};

/// Connects as `name` and logs to the bus (next to stderr) under that name;
/// prints why not and returns nothing on failure.
std::optional<statebus::Node> connect_and_log(const std::string& name);

/// A duration from the command line ("10s", "1h30m"); CLI11 check text on error.
std::string check_duration(const std::string& text);
std::chrono::nanoseconds duration_of(const std::string& text);

/// "06:05:00" for a virtual time of day.
std::string clock_text(std::chrono::nanoseconds time_of_day);

}  // namespace home
