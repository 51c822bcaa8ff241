#pragma once
/// Child processes for tests: start, talk over pipes, wait, stop.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/error.hpp"

namespace statebus::detail {
class Subprocess;  // the child-process handle the test kit shares with the tools (not installed)
}  // namespace statebus::detail

namespace statebus::testkit {

/// A process started from an executable, with stdin, stdout and stderr piped.
///
/// Not thread-safe. Move-only. The child starts with no signal blocked,
/// whatever the spawning thread blocks. Every wait goes on when a signal
/// handler of the test interrupts it (EINTR), so a handler installed without
/// SA_RESTART never cuts a timeout short. The destructor stops a child that
/// still runs: closes its stdin (children that read it end by themselves),
/// then SIGTERM after 2 s, then SIGKILL after 2 s more, and reaps it; in a
/// GoogleTest test that has failed, it then prints describe() (unless the
/// test called it).
class ChildProcess {
 public:
  /// Starts argv[0] (a path) with arguments. Fails with invalid_argument
  /// (empty argv) or system_error (exec failed: the message names the path).
  static Result<ChildProcess> spawn(std::vector<std::string> argv);
  /// The same with the child's stderr appended to the file `stderr_path`
  /// instead of a pipe (for chatty children whose stderr nobody reads).
  static Result<ChildProcess> spawn(std::vector<std::string> argv, const std::string& stderr_path);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const noexcept;

  /// The next line the child writes to stdout (without '\n'), waiting up to
  /// `timeout`; nothing on timeout or end of output.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// Everything the child wrote to stderr so far and until it closes stderr
  /// or `timeout` passes.
  std::string read_stderr(std::chrono::milliseconds timeout);
  /// Writes to the child's stdin; false if it closed it (no SIGPIPE).
  bool write(std::string_view text);
  /// Closes the child's stdin (it reads end of file).
  void close_stdin() noexcept;
  /// Sends a signal; false if the child is already reaped.
  bool signal(int signal_number) noexcept;
  /// Waits up to `timeout` for the child to end and returns its wait status
  /// (use WIFEXITED/WEXITSTATUS/WTERMSIG); nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  /// For a failing test's message: the executable, how the child ended (or
  /// that it still runs) after waiting up to `timeout`, the stdout it wrote
  /// that nobody read, and its stderr (from the pipe or the file, last 4 KiB).
  std::string describe(std::chrono::milliseconds timeout = std::chrono::milliseconds(500));

 private:
  ChildProcess(std::unique_ptr<detail::Subprocess> process, std::string stderr_path) noexcept;
  void stop() noexcept;
  std::unique_ptr<detail::Subprocess> process_;  // null once moved from
  std::string stderr_path_;
  bool described_ = false;
};

}  // namespace statebus::testkit
