#include "statebus/internal/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "statebus/internal/unique_fd.hpp"

namespace statebus::detail {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// The end of a wait given as a timeout, in poll()'s terms.
class Deadline {
 public:
  explicit Deadline(milliseconds timeout)
      : forever_(timeout > std::chrono::hours(24 * 365)),
        end_(SteadyClock::now() + (forever_ ? milliseconds(0) : std::max(timeout, milliseconds(0)))) {}

  // What is left, rounded up (a wait never ends early by rounding); -1: forever.
  [[nodiscard]] int poll_ms() const {
    if (forever_) return -1;
    const auto left = std::chrono::ceil<milliseconds>(end_ - SteadyClock::now()).count();
    return left <= 0 ? 0 : left >= INT_MAX ? INT_MAX : static_cast<int>(left);
  }

 private:
  bool forever_;
  SteadyClock::time_point end_;
};

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Owns a descriptor until spawn() hands it over.
using Fd = UniqueFd;

struct Pipe {
  Fd read;
  Fd write;
};

Result<void> make_pipe(Pipe& pipe) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return fail(Errc::system_error, std::string("pipe2: ") + std::strerror(errno));
  pipe.read.reset(ends[0]);
  pipe.write.reset(ends[1]);
  return {};
}

enum class Read { data, timeout, closed };

// Appends what `fd` holds to `out`, waiting until `deadline` for the first
// bytes. At end of file (or a read error) closes `fd`.
Read read_some(int& fd, std::string& out, const Deadline& deadline) {
  for (;;) {
    if (fd < 0) return Read::closed;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, deadline.poll_ms());
    if (ready < 0 && errno == EINTR) continue;  // a signal handler ran: the wait goes on
    if (ready <= 0) return Read::timeout;
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;  // the pipe is still open
    if (n <= 0) {
      close_fd(fd);
      return Read::closed;
    }
    out.append(buffer.data(), static_cast<std::size_t>(n));
    return Read::data;
  }
}

}  // namespace

Result<Subprocess> Subprocess::spawn(std::vector<std::string> argv, SpawnOptions options) {
  if (argv.empty()) return fail(Errc::invalid_argument, "starting a process needs at least the executable's path");
  Pipe in, out, err, exec_error;
  if (options.pipe_stdin) {
    if (auto made = make_pipe(in); !made) return tl::make_unexpected(made.error());
  }
  for (Pipe* p : {&out, &exec_error}) {
    if (auto made = make_pipe(*p); !made) return tl::make_unexpected(made.error());
  }
  Fd err_file;
  if (options.stderr_path.empty()) {
    if (auto made = make_pipe(err); !made) return tl::make_unexpected(made.error());
  } else {
    err_file.reset(::open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (err_file.get() < 0) {
      return fail(Errc::system_error, "cannot open " + options.stderr_path + ": " + std::strerror(errno));
    }
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);

  const pid_t pid = ::fork();
  if (pid < 0) return fail(Errc::system_error, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. The signal mask
    // survives exec: one the parent's thread blocks (a launcher waiting in
    // sigwait) would keep SIGTERM from ending the child.
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (in.read.get() >= 0) ::dup2(in.read.get(), STDIN_FILENO);
    ::dup2(out.write.get(), STDOUT_FILENO);
    ::dup2(err_file.get() >= 0 ? err_file.get() : err.write.get(), STDERR_FILENO);
    ::execv(args[0], args.data());
    const int error = errno;
    [[maybe_unused]] const ssize_t n = ::write(exec_error.write.get(), &error, sizeof error);
    ::_exit(127);
  }
  Subprocess child;
  child.executable_ = argv[0];
  child.pid_ = pid;
  child.stdin_ = in.write.release();
  child.stdout_ = out.read.release();
  child.stderr_ = err.read.release();
  child.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // -1 before Linux 5.3: wait() looks every ms
  exec_error.write.reset(-1);  // the pipe ends when the child execs (close-on-exec) or exits
  int error = 0;
  ssize_t n = 0;
  do {
    n = ::read(exec_error.read.get(), &error, sizeof error);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof error)) {
    child.wait(kForever);  // it _exits at once
    return fail(Errc::system_error, "cannot start " + argv[0] + ": " + std::strerror(error));
  }
  return child;
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : executable_(std::move(other.executable_)),
      pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      stdin_(std::exchange(other.stdin_, -1)),
      stdout_(std::exchange(other.stdout_, -1)),
      stderr_(std::exchange(other.stderr_, -1)),
      stdout_buffer_(std::move(other.stdout_buffer_)),
      status_(std::exchange(other.status_, std::nullopt)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    release();
    executable_ = std::move(other.executable_);
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    stdin_ = std::exchange(other.stdin_, -1);
    stdout_ = std::exchange(other.stdout_, -1);
    stderr_ = std::exchange(other.stderr_, -1);
    stdout_buffer_ = std::move(other.stdout_buffer_);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

Subprocess::~Subprocess() { release(); }

void Subprocess::release() noexcept {
  if (pid_ > 0 && !status_) terminate(std::chrono::seconds(2), std::chrono::seconds(5));
  close_fd(pidfd_);
  close_fd(stdin_);
  close_fd(stdout_);
  close_fd(stderr_);
  pid_ = -1;
  status_.reset();
}

std::optional<std::string> Subprocess::read_line(milliseconds timeout) {
  const Deadline deadline(timeout);
  for (;;) {
    if (const auto newline = stdout_buffer_.find('\n'); newline != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return line;
    }
    if (read_some(stdout_, stdout_buffer_, deadline) != Read::data) return std::nullopt;
  }
}

std::string Subprocess::unread_stdout() {
  std::string text = std::exchange(stdout_buffer_, std::string());
  const Deadline now(milliseconds(0));
  while (read_some(stdout_, text, now) == Read::data) {
  }
  return text;
}

std::string Subprocess::read_stderr(milliseconds timeout) {
  std::string text;
  const Deadline deadline(timeout);
  while (read_some(stderr_, text, deadline) == Read::data) {
  }
  return text;
}

bool Subprocess::write(std::string_view text) {
  if (stdin_ < 0) return false;
  // Writing to a pipe whose reader is gone raises SIGPIPE, which by default
  // ends this process: block it for the call, and take back one this call
  // raised (it is sent to the calling thread) unless one was pending before.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  sigset_t before;
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, &before);
  sigset_t pending;
  ::sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  bool written = true;
  while (!text.empty()) {
    const ssize_t n = ::write(stdin_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0 && errno == EPIPE && !was_pending) {
        const timespec no_wait{0, 0};
        while (::sigtimedwait(&pipe_signal, nullptr, &no_wait) < 0 && errno == EINTR) {
        }
      }
      written = false;
      break;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return written;
}

void Subprocess::close_stdin() noexcept { close_fd(stdin_); }

bool Subprocess::signal(int signal_number) noexcept {
  if (pid_ <= 0 || status_) return false;
  return ::kill(pid_, signal_number) == 0;
}

std::optional<int> Subprocess::wait(milliseconds timeout) {
  if (status_ || pid_ <= 0) return status_;
  const Deadline deadline(timeout);
  int status = 0;
  pid_t reaped = 0;
  if (pidfd_ >= 0) {
    // A pidfd becomes readable when the child has ended: no polling of waitpid.
    pollfd p{pidfd_, POLLIN, 0};
    int ready = 0;
    do {
      ready = ::poll(&p, 1, deadline.poll_ms());
    } while (ready < 0 && errno == EINTR);  // a signal handler ran: the wait goes on
    if (ready <= 0) return std::nullopt;
    do {
      reaped = ::waitpid(pid_, &status, 0);  // it has ended: this does not block
    } while (reaped < 0 && errno == EINTR);
  } else {
    for (;;) {
      do {
        reaped = ::waitpid(pid_, &status, WNOHANG);
      } while (reaped < 0 && errno == EINTR);
      if (reaped != 0 || deadline.poll_ms() == 0) break;
      const timespec a_millisecond{0, 1000000};
      ::nanosleep(&a_millisecond, nullptr);  // woken early by a signal: the loop looks again
    }
  }
  if (reaped != pid_) return std::nullopt;
  status_ = status;
  return status_;
}

std::optional<int> Subprocess::terminate(milliseconds grace, milliseconds kill_timeout) {
  if (auto ended = wait(milliseconds(0))) return ended;
  if (!signal(SIGTERM)) return std::nullopt;
  if (auto ended = wait(grace)) return ended;
  signal(SIGKILL);
  return wait(kill_timeout);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(WTERMSIG(status));
  }
  return "wait status " + std::to_string(status);
}

}  // namespace statebus::detail
