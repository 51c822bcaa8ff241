#pragma once
/// Log records of every process on the bus, for a test to wait for and to
/// fail on unexpected errors.

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/base/waited.hpp"
#include "statebus/bus/log_record.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/clock/virtual_timeout.hpp"
#include "statebus/recorder/recorder.hpp"

namespace statebus::testkit {

/// Captures the log channel from creation on (a Recorder of `statebus/log`).
///
///   auto logs = LogCapture::start(node);
///   logs->expect_error("sensor .* timed out");          // this one is part of the test
///   ASSERT_TRUE(logs->wait_for(LogLevel::info, "heater on", virtual_timeout(30s), "heating"));
///   // at the end of the test any other error or critical record fails it
///
/// Thread safety: any thread; the checks run in the owner's thread at stop()
/// or destruction, which must happen inside the test (its failures belong to it).
class LogCapture {
 public:
  /// Fails as Recorder::start.
  static Result<LogCapture> start(const Node& node);
  LogCapture(LogCapture&&) noexcept;
  LogCapture& operator=(LogCapture&&) noexcept;
  /// Calls check().
  ~LogCapture();

  /// The first record (captured before or during the call) of at least
  /// `level`, whose text matches `pattern` (ECMAScript, anywhere in the
  /// text), from the process named `process` if not empty; timed_out once
  /// virtual time passes now + `timeout` (`virtual_timeout(30s)`), failed
  /// as Recorder::wait_for_log (the bus gone).
  WaitedFor<LogEntry> wait_for(LogLevel level, const std::string& pattern, VirtualTimeout timeout,
                               std::string_view process = {}) const;
  /// Error and critical records whose text matches `pattern` are expected:
  /// check() lets them pass.
  void expect_error(const std::string& pattern);
  /// Every record so far.
  [[nodiscard]] std::vector<LogEntry> entries() const;
  /// Error and critical records so far that no expect_error pattern matches.
  [[nodiscard]] std::vector<LogEntry> unexpected_errors() const;
  /// Adds a GoogleTest failure for each unexpected error record (once per
  /// record) and for records the sinks or the capture lost. Returns true if none.
  bool check();

 private:
  struct Impl;
  explicit LogCapture(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus::testkit
