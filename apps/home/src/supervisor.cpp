#include "home/supervisor.hpp"

#include <utility>

namespace home {

using namespace std::chrono_literals;

statebus::Result<Supervised> Supervised::start(std::vector<std::string> argv, const std::string& stderr_path) {
  statebus::detail::SpawnOptions options;
  options.pipe_stdin = false;
  options.stderr_path = stderr_path;
  auto process = statebus::detail::Subprocess::spawn(std::move(argv), std::move(options));
  if (!process) return tl::make_unexpected(process.error());
  return Supervised(std::move(*process));
}

Supervised& Supervised::operator=(Supervised&& other) noexcept {
  if (this != &other) {
    if (process_.pid() > 0 && !ended()) stop(3s);
    process_ = std::move(other.process_);
  }
  return *this;
}

Supervised::~Supervised() {
  if (process_.pid() > 0 && !ended()) stop(3s);
}

std::optional<std::string> Supervised::read_line(std::chrono::milliseconds timeout) {
  return process_.read_line(timeout);
}

std::optional<int> Supervised::ended() { return process_.wait(0ms); }

int Supervised::stop(std::chrono::milliseconds grace) {
  // With no time limit after SIGKILL the wait ends only with the child; a
  // status is missing only if someone else reaped it, which the launcher
  // never does (it leaves SIGCHLD alone).
  return process_.terminate(grace, statebus::detail::kForever).value_or(0);
}

std::string describe_status(int status) { return statebus::detail::describe_wait_status(status); }

}  // namespace home
