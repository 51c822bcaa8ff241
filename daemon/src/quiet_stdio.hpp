#pragma once
// Keeps iceoryx's start-up chatter ("Reserving N bytes in the shared memory",
// "RouDi is ready for clients"), which it writes straight to stdout/stderr
// whatever the log level, out of statebus's output, while passing on
// anything else it prints (warnings, errors).

#include <string>

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

  /// True once the captured output holds a whole line (ended by '\n')
  /// containing `text`. A line another thread is still writing does not
  /// count: were the capture to end between its text and its '\n', the
  /// '\n' would reach the real stdout as an empty line.
  [[nodiscard]] bool captured_line(const char* text) const;
  /// Everything captured so far.
  [[nodiscard]] std::string text() const;

 private:
  int capture_ = -1;
  int saved_stdout_ = -1;
  int saved_stderr_ = -1;
};

}  // namespace statebus::detail
