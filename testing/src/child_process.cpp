#include "statebus/testing/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace statebus::testkit {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Result<ChildProcess> ChildProcess::spawn(std::vector<std::string> argv) { return spawn(std::move(argv), {}); }

Result<ChildProcess> ChildProcess::spawn(std::vector<std::string> argv, const std::string& stderr_path) {
  if (argv.empty()) return fail(Errc::invalid_argument, "ChildProcess::spawn needs at least the executable");
  std::array<int, 2> in{-1, -1}, out{-1, -1}, err{-1, -1}, exec_error{-1, -1};
  for (auto* p : {&in, &out, &err, &exec_error}) {
    if (::pipe2(p->data(), O_CLOEXEC) != 0) return fail(Errc::system_error, "pipe2: " + std::string(std::strerror(errno)));
  }
  int err_file = -1;
  if (!stderr_path.empty()) {
    err_file = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (err_file < 0) return fail(Errc::system_error, "cannot open " + stderr_path + ": " + std::strerror(errno));
  }
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return fail(Errc::system_error, "fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err_file >= 0 ? err_file : err[1], STDERR_FILENO);
    ::execv(args[0], args.data());
    const int error = errno;
    [[maybe_unused]] auto n = ::write(exec_error[1], &error, sizeof error);
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (err_file >= 0) ::close(err_file);
  ::close(exec_error[1]);
  ChildProcess child;
  child.executable_ = argv[0];
  child.stderr_path_ = stderr_path;
  child.pid_ = pid;
  child.stdin_ = in[1];
  child.stdout_ = out[0];
  child.stderr_ = err[0];
  int error = 0;
  const bool exec_failed = ::read(exec_error[0], &error, sizeof error) == sizeof error;
  ::close(exec_error[0]);
  child.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (exec_failed) {
    child.wait(milliseconds(1000));
    return fail(Errc::system_error, "cannot start " + argv[0] + ": " + std::strerror(error));
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : executable_(std::move(other.executable_)),
      stderr_path_(std::move(other.stderr_path_)),
      pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      stdin_(std::exchange(other.stdin_, -1)),
      stdout_(std::exchange(other.stdout_, -1)),
      stderr_(std::exchange(other.stderr_, -1)),
      stdout_buffer_(std::move(other.stdout_buffer_)),
      status_(other.status_),
      described_(other.described_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    executable_ = std::move(other.executable_);
    stderr_path_ = std::move(other.stderr_path_);
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    stdin_ = std::exchange(other.stdin_, -1);
    stdout_ = std::exchange(other.stdout_, -1);
    stderr_ = std::exchange(other.stderr_, -1);
    stdout_buffer_ = std::move(other.stdout_buffer_);
    status_ = other.status_;
    described_ = other.described_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(); }

void ChildProcess::stop() noexcept {
  if (pid_ > 0 && !status_) {
    // Gentlest first: a child that reads its stdin ends at end of input,
    // between two operations. A signal can land inside publish(), and
    // iceoryx 2.0's daemon may then wedge on the lock the child held.
    close_stdin();
    if (!wait(milliseconds(2000))) {
      ::kill(pid_, SIGTERM);
      if (!wait(milliseconds(2000))) {
        ::kill(pid_, SIGKILL);
        wait(milliseconds(5000));
      }
    }
  }
  // A failing test says what each of its children printed and how it ended,
  // unless the test already did (describe()).
  if (pid_ > 0 && !described_ && ::testing::Test::HasFailure()) {
    try {
      std::printf("child process of the failed test: %s\n", describe(milliseconds(0)).c_str());
    } catch (...) {  // out of memory: the story is lost, the test still fails
    }
  }
  close_fd(pidfd_);
  close_fd(stdin_);
  close_fd(stdout_);
  close_fd(stderr_);
  pid_ = -1;
}

std::optional<std::string> ChildProcess::read_line(milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (const auto newline = stdout_buffer_.find('\n'); newline != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return line;
    }
    if (stdout_ < 0) return std::nullopt;
    pollfd fd{stdout_, POLLIN, 0};
    const int ready = ::poll(&fd, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(stdout_, buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;  // interrupted: the pipe is still open
    if (n <= 0) {
      close_fd(stdout_);
      continue;
    }
    stdout_buffer_.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

std::string ChildProcess::read_stderr(milliseconds timeout) {
  std::string text;
  const auto deadline = SteadyClock::now() + timeout;
  while (stderr_ >= 0) {
    pollfd fd{stderr_, POLLIN, 0};
    const int ready = ::poll(&fd, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(stderr_, buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      close_fd(stderr_);
      break;
    }
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return text;
}

bool ChildProcess::write(std::string_view text) {
  if (stdin_ < 0) return false;
  while (!text.empty()) {
    const ssize_t n = ::write(stdin_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void ChildProcess::close_stdin() noexcept { close_fd(stdin_); }

bool ChildProcess::signal(int signal_number) noexcept {
  if (pid_ <= 0 || status_) return false;
  return ::kill(pid_, signal_number) == 0;
}

std::optional<int> ChildProcess::wait(milliseconds timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  if (pidfd_ >= 0) {
    // A pidfd becomes readable when the child exits: no polling of waitpid.
    pollfd fd{pidfd_, POLLIN, 0};
    int ready = 0;
    const auto deadline = SteadyClock::now() + timeout;
    do {
      ready = ::poll(&fd, 1, remaining_ms(deadline));
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) return std::nullopt;
  }
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, pidfd_ >= 0 ? 0 : WNOHANG);
  if (reaped != pid_) return std::nullopt;
  status_ = status;
  return status_;
}

std::string ChildProcess::describe(milliseconds timeout) {
  described_ = true;
  constexpr std::size_t kTail = 4096;
  const auto tail = [](std::string text) {
    return text.size() > kTail ? "…" + text.substr(text.size() - kTail) : text;
  };
  std::string text = executable_ + " (pid " + std::to_string(pid_) + ") ";
  if (const auto status = wait(timeout)) {
    if (WIFEXITED(*status)) {
      text += "exited with status " + std::to_string(WEXITSTATUS(*status));
    } else if (WIFSIGNALED(*status)) {
      text += std::string("was killed by ") + ::strsignal(WTERMSIG(*status));
    }
  } else {
    text += "is still running";
  }
  // What it wrote to stdout and no one read yet.
  std::string unread = stdout_buffer_;
  stdout_buffer_.clear();
  while (stdout_ >= 0) {
    pollfd fd{stdout_, POLLIN, 0};
    if (::poll(&fd, 1, 0) <= 0) break;
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(stdout_, buffer.data(), buffer.size());
    if (n <= 0) break;
    unread.append(buffer.data(), static_cast<std::size_t>(n));
  }
  text += "\n  unread stdout: " + (unread.empty() ? std::string("(none)") : tail(unread));
  std::string errors;
  if (!stderr_path_.empty()) {
    std::ifstream in(stderr_path_);
    errors.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    text += "\n  stderr (" + stderr_path_ + "): ";
  } else {
    errors = read_stderr(milliseconds(status_ ? 200 : 0));
    text += "\n  stderr: ";
  }
  text += errors.empty() ? std::string("(none)") : tail(errors);
  return text;
}

}  // namespace statebus::testkit
