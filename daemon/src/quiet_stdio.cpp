#include "quiet_stdio.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace statebus::detail {
namespace {

// The capture in progress, for the terminate handler.
std::atomic<QuietStdio*> g_active{nullptr};
std::atomic<int> g_capture_fd{-1};
std::atomic<int> g_saved_stderr{-1};
std::terminate_handler g_previous = nullptr;

bool is_chatter(const std::string& line) {
  for (const char* known :
       {"Reserving ", "[ Reserving shared memory successful ]", "RouDi is ready for clients", "Log level set to"}) {
    if (line.find(known) != std::string::npos) return true;
  }
  return line.empty();
}

// pread, never lseek + read: the capture shares its file offset with the
// redirected stdout and stderr, and moving it would make writes that other
// threads make meanwhile land over earlier ones.
std::string read_all(int fd) {
  std::string text;
  std::array<char, 4096> buffer{};
  ssize_t n = 0;
  while ((n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(text.size()))) > 0) {
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return text;
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// Async-signal-safe: writes what was captured to the real stderr.
void dump_captured() noexcept {
  const int capture = g_capture_fd.exchange(-1);
  const int saved = g_saved_stderr.load();
  if (capture < 0 || saved < 0) return;
  char buffer[4096];
  off_t offset = 0;
  ssize_t n = 0;
  while ((n = ::pread(capture, buffer, sizeof buffer, offset)) > 0) {
    if (::write(saved, buffer, static_cast<std::size_t>(n)) < 0) break;
    offset += n;
  }
}

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
struct sigaction g_previous_actions[5];

void on_fatal_signal(int signal_number) {
  dump_captured();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void on_exit() { dump_captured(); }

[[noreturn]] void on_terminate() {
  std::fflush(nullptr);
  dump_captured();
  if (g_previous != nullptr) g_previous();
  std::abort();
}

}  // namespace

QuietStdio::QuietStdio() noexcept {
  std::fflush(stdout);
  std::fflush(stderr);
  capture_ = ::memfd_create("statebus-stdio", MFD_CLOEXEC);
  if (capture_ < 0) return;  // no capture: the chatter shows, nothing is lost
  saved_stdout_ = ::dup(STDOUT_FILENO);
  saved_stderr_ = ::dup(STDERR_FILENO);
  g_capture_fd = capture_;
  g_saved_stderr = saved_stderr_;
  g_active = this;
  g_previous = std::set_terminate(on_terminate);
  // Should iceoryx end the process some other way while we capture (a fatal
  // signal, exit()), its last words still reach stderr.
  static const bool exit_hook = std::atexit(on_exit) == 0;
  (void)exit_hook;
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  sigemptyset(&action.sa_mask);
  for (std::size_t i = 0; i < 5; ++i) ::sigaction(kFatalSignals[i], &action, &g_previous_actions[i]);
  ::dup2(capture_, STDOUT_FILENO);
  ::dup2(capture_, STDERR_FILENO);
}

std::string QuietStdio::text() const { return capture_ < 0 ? std::string() : read_all(capture_); }

bool QuietStdio::captured_line(const char* text) const {
  if (capture_ < 0) return true;  // not capturing: nothing to wait for
  std::fflush(stdout);            // may split another thread's line: hence the '\n' below
  const std::string all = read_all(capture_);
  const auto at = all.find(text);
  return at != std::string::npos && all.find('\n', at) != std::string::npos;
}

QuietStdio::~QuietStdio() {
  if (capture_ < 0) return;
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_stdout_, STDOUT_FILENO);
  ::dup2(saved_stderr_, STDERR_FILENO);
  for (std::size_t i = 0; i < 5; ++i) ::sigaction(kFatalSignals[i], &g_previous_actions[i], nullptr);
  std::set_terminate(g_previous);
  g_active = nullptr;
  g_capture_fd = -1;
  g_saved_stderr = -1;
  const std::string captured = read_all(capture_);
  std::string kept;
  std::size_t start = 0;
  while (start < captured.size()) {
    std::size_t end = captured.find('\n', start);
    if (end == std::string::npos) end = captured.size();
    const std::string line = captured.substr(start, end - start);
    if (!is_chatter(line)) kept += line + "\n";
    start = end + 1;
  }
  write_all(STDERR_FILENO, kept);
  ::close(saved_stdout_);
  ::close(saved_stderr_);
  ::close(capture_);
}

}  // namespace statebus::detail
