#include "home/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace home {

statebus::Result<Supervised> Supervised::start(std::vector<std::string> argv, const std::string& stderr_path) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return statebus::fail(statebus::Errc::system_error, std::string("pipe2: ") + std::strerror(errno));
  }
  const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return statebus::fail(statebus::Errc::system_error, "cannot open " + stderr_path + ": " + std::strerror(errno));
  }
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);
  const pid_t pid = ::fork();
  if (pid < 0) return statebus::fail(statebus::Errc::system_error, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the launcher blocks its stop signals; children must not
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err);
  Supervised child;
  child.pid_ = pid;
  child.stdout_ = out[0];
  child.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  return child;
}

Supervised::Supervised(Supervised&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      stdout_(std::exchange(other.stdout_, -1)),
      buffer_(std::move(other.buffer_)),
      status_(other.status_) {}

Supervised& Supervised::operator=(Supervised&& other) noexcept {
  if (this != &other) {
    this->~Supervised();
    new (this) Supervised(std::move(other));
  }
  return *this;
}

Supervised::~Supervised() {
  if (pid_ > 0 && !ended()) stop(std::chrono::seconds(3));
  if (pidfd_ >= 0) ::close(pidfd_);
  if (stdout_ >= 0) ::close(stdout_);
}

std::optional<std::string> Supervised::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || stdout_ < 0) return std::nullopt;
    pollfd p{stdout_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[512];
    const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
    if (n <= 0) {
      ::close(stdout_);
      stdout_ = -1;
      return std::nullopt;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::optional<int> Supervised::ended() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
  return status_;
}

std::optional<int> Supervised::wait_for(std::chrono::milliseconds timeout) {
  if (ended()) return status_;
  if (pidfd_ >= 0) {
    pollfd p{pidfd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(timeout.count()));  // readable once the process has ended
  }
  return ended();
}

int Supervised::stop(std::chrono::milliseconds grace) {
  if (ended()) return *status_;
  ::kill(pid_, SIGTERM);
  if (wait_for(grace)) return *status_;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = status;
  return status;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

}  // namespace home
