#pragma once
/// A child process started from an executable: its stdout on a pipe, read a
/// line at a time with a timeout; its stderr on a pipe or appended to a file;
/// its stdin on a pipe or shared with this process; its end waited for
/// through a pidfd; stopped with SIGTERM, then SIGKILL after a grace. The one
/// mechanism under the test kit's `testkit::ChildProcess` and the home
/// launcher's `home::Supervised`. Internal to statebus.
///
/// Signals: every blocking call goes on when a signal handler of this
/// process interrupts it (EINTR), so a handler installed without SA_RESTART
/// never cuts a wait or a grace short. The child starts with no signal
/// blocked, whatever the spawning thread blocks (a launcher that waits for
/// SIGTERM in sigwait blocks it; its children must still end on it).

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/error.hpp"

namespace statebus::detail {

/// A timeout that never ends (any timeout beyond a year is taken as this).
inline constexpr std::chrono::milliseconds kForever = std::chrono::milliseconds::max();

/// Where a child's stdin and stderr go; its stdout is always a pipe to this process.
struct SpawnOptions {
  /// true: a pipe from this process (Subprocess::write, close_stdin); false:
  /// the child shares this process's stdin.
  bool pipe_stdin = true;
  /// Appends the child's stderr to this file (created 0644 if missing);
  /// empty: a pipe (Subprocess::read_stderr).
  std::string stderr_path;
};

/// A started child process and this process's ends of its pipes.
///
/// Not thread-safe. Move-only; a moved-from or default-constructed one has
/// no process (pid() is -1, reads and waits return nothing). The destructor
/// of one whose child still runs stops it as terminate(2 s, 5 s) does;
/// owners with a gentler way (closing its stdin) stop it before.
class Subprocess {
 public:
  /// Starts argv[0] (a path; PATH is not searched) with the arguments.
  /// Blocks until the child has called exec. Fails with invalid_argument
  /// (empty argv) or system_error (a pipe, the stderr file, fork, or the
  /// exec itself: the message names the path and why).
  static Result<Subprocess> spawn(std::vector<std::string> argv, SpawnOptions options = {});

  Subprocess() = default;
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// argv[0] as given to spawn().
  [[nodiscard]] const std::string& executable() const noexcept { return executable_; }

  /// The next line the child writes to stdout (without '\n'), waiting up to
  /// `timeout` (real time); nothing on timeout or at the end of its output
  /// (a last line without '\n' stays unread).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// What the child wrote to stdout that no read_line() returned: the rest
  /// of the buffer and whatever the pipe holds now. Does not wait.
  std::string unread_stdout();
  /// Everything on the stderr pipe until the child closes it or `timeout`
  /// passes; empty if its stderr goes to a file.
  std::string read_stderr(std::chrono::milliseconds timeout);
  /// Writes all of `text` to the child's stdin; false if it is not a pipe,
  /// was closed, or the child closed its end (no SIGPIPE reaches this
  /// process for it). Blocks while the pipe is full.
  bool write(std::string_view text);
  /// Closes the child's stdin pipe: it reads end of file.
  void close_stdin() noexcept;
  /// Sends a signal; false once the child is reaped (its pid may be reused).
  bool signal(int signal_number) noexcept;
  /// Waits up to `timeout` (real time; 0: a look, kForever: until it ends)
  /// for the child to end, reaps it and returns its wait status (see
  /// describe_wait_status); the same status on every later call. Nothing on
  /// timeout, or if no process or another waiter reaped it.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /// Ends the child: SIGTERM, up to `grace` for it to end, then SIGKILL and
  /// up to `kill_timeout`; its wait status (at once if it had ended).
  /// Nothing as wait() says.
  std::optional<int> terminate(std::chrono::milliseconds grace, std::chrono::milliseconds kill_timeout);

 private:
  void release() noexcept;
  std::string executable_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  std::string stdout_buffer_;
  std::optional<int> status_;
};

/// A wait status in words: "exit 0", "exit 3", "SIGKILL", "SIGSEGV";
/// "wait status N" for anything else. Allocates.
std::string describe_wait_status(int status);

}  // namespace statebus::detail
