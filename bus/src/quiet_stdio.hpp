#pragma once
// Keeps iceoryx's start-up chatter ("Reserving N bytes in the shared memory",
// "RouDi is ready for clients"), which it writes straight to stdout/stderr
// whatever the log level, out of statebus's output, while passing on
// anything else it prints (warnings, errors).

namespace statebus::detail {

/// While alive, file descriptors 1 and 2 of the process go to a buffer. On
/// destruction they are restored and every captured line that is not known
/// chatter is written to stderr. Should the process terminate meanwhile
/// (iceoryx aborts on fatal errors), all captured output is written out
/// first. Output of other threads during that window is captured too and
/// replayed on stderr; the daemon starts before an application's threads.
class QuietStdio {
 public:
  QuietStdio() noexcept;
  QuietStdio(const QuietStdio&) = delete;
  QuietStdio& operator=(const QuietStdio&) = delete;
  ~QuietStdio();

  /// True if the captured output so far contains `text`.
  [[nodiscard]] bool captured(const char* text) const;

 private:
  int capture_ = -1;
  int saved_stdout_ = -1;
  int saved_stderr_ = -1;
};

}  // namespace statebus::detail
