#pragma once
// Child processes of the launcher: started with a pipe on stdout (for
// "ready" and similar lines) and stderr to a file, watched, stopped with
// SIGTERM then SIGKILL. A thin layer over statebus's one child-process
// handle (statebus/internal/subprocess.hpp), which the test kit's
// ChildProcess shares.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/internal/subprocess.hpp"

namespace home {

/// One child of the launcher. Not thread-safe. Move-only. Its waits go on
/// when a signal handler of the launcher interrupts them.
class Supervised {
 public:
  /// Starts argv[0] (a path) with stderr appended to `stderr_path`; stdin is
  /// the launcher's; no signal is blocked in the child, whatever the
  /// launcher blocks. Fails with system_error if it cannot start (the
  /// message names the path and why).
  static statebus::Result<Supervised> start(std::vector<std::string> argv, const std::string& stderr_path);
  Supervised(Supervised&& other) noexcept = default;
  /// Stops the child it had (as the destructor does), then takes `other`'s.
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
  /// SIGTERM, up to `grace` for it to end, then SIGKILL and a wait until it
  /// has; its wait status (at once if it had ended).
  int stop(std::chrono::milliseconds grace);
  [[nodiscard]] pid_t pid() const noexcept { return process_.pid(); }

 private:
  explicit Supervised(statebus::detail::Subprocess process) noexcept : process_(std::move(process)) {}
  statebus::detail::Subprocess process_;
};

/// "exit 0", "exit 3", "SIGKILL".
std::string describe_status(int status);

}  // namespace home
