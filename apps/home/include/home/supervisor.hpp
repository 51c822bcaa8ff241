#pragma once
// Child processes of the launcher: started with a pipe on stdout (for
// "ready" and similar lines) and stderr to a file, watched, stopped with
// SIGTERM then SIGKILL.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "statebus/base/error.hpp"

namespace home {

class Supervised {
 public:
  /// Starts argv[0] (a path) with stderr appended to `stderr_path`.
  static statebus::Result<Supervised> start(std::vector<std::string> argv, const std::string& stderr_path);
  Supervised(Supervised&& other) noexcept;
  Supervised& operator=(Supervised&& other) noexcept;
  Supervised(const Supervised&) = delete;
  Supervised& operator=(const Supervised&) = delete;
  /// Stops it (SIGTERM, then SIGKILL after 3 s) if it still runs.
  ~Supervised();

  /// The next line on its stdout, waiting up to `timeout`; nothing on
  /// timeout or end of output.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// Its wait status once it has ended (does not block).
  std::optional<int> ended();
  /// SIGTERM, up to `grace` for it to end, then SIGKILL; its wait status.
  int stop(std::chrono::milliseconds grace);
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  Supervised() = default;
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdout_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

/// "exit 0", "exit 3", "SIGKILL".
std::string describe_status(int status);

}  // namespace home
