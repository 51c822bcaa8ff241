#include "statebus/testing/child_process.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "statebus/internal/subprocess.hpp"

namespace statebus::testkit {

using std::chrono::milliseconds;

Result<ChildProcess> ChildProcess::spawn(std::vector<std::string> argv) { return spawn(std::move(argv), {}); }

Result<ChildProcess> ChildProcess::spawn(std::vector<std::string> argv, const std::string& stderr_path) {
  detail::SpawnOptions options;
  options.pipe_stdin = true;
  options.stderr_path = stderr_path;
  auto process = detail::Subprocess::spawn(std::move(argv), std::move(options));
  if (!process) return tl::make_unexpected(process.error());
  return ChildProcess(std::make_unique<detail::Subprocess>(std::move(*process)), stderr_path);
}

ChildProcess::ChildProcess(std::unique_ptr<detail::Subprocess> process, std::string stderr_path) noexcept
    : process_(std::move(process)), stderr_path_(std::move(stderr_path)) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept = default;

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    process_ = std::move(other.process_);
    stderr_path_ = std::move(other.stderr_path_);
    described_ = other.described_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(); }

void ChildProcess::stop() noexcept {
  if (!process_) return;
  if (!process_->wait(milliseconds(0))) {
    // Gentlest first: a child that reads its stdin ends at end of input,
    // between two operations. A signal can land inside publish(), and
    // iceoryx 2.0's daemon may then wedge on the lock the child held.
    process_->close_stdin();
    if (!process_->wait(milliseconds(2000))) process_->terminate(milliseconds(2000), milliseconds(5000));
  }
  // A failing test says what each of its children printed and how it ended,
  // unless the test already did (describe()).
  if (!described_ && ::testing::Test::HasFailure()) {
    try {
      std::printf("child process of the failed test: %s\n", describe(milliseconds(0)).c_str());
    } catch (...) {  // out of memory: the story is lost, the test still fails
    }
  }
  process_.reset();
}

pid_t ChildProcess::pid() const noexcept { return process_ ? process_->pid() : -1; }

std::optional<std::string> ChildProcess::read_line(milliseconds timeout) {
  return process_ ? process_->read_line(timeout) : std::nullopt;
}

std::string ChildProcess::read_stderr(milliseconds timeout) {
  return process_ ? process_->read_stderr(timeout) : std::string();
}

bool ChildProcess::write(std::string_view text) { return process_ && process_->write(text); }

void ChildProcess::close_stdin() noexcept {
  if (process_) process_->close_stdin();
}

bool ChildProcess::signal(int signal_number) noexcept { return process_ && process_->signal(signal_number); }

std::optional<int> ChildProcess::wait(milliseconds timeout) {
  return process_ ? process_->wait(timeout) : std::nullopt;
}

std::string ChildProcess::describe(milliseconds timeout) {
  described_ = true;
  if (!process_) return "(no process: moved from)";
  constexpr std::size_t kTail = 4096;
  const auto tail = [](std::string text) {
    return text.size() > kTail ? "…" + text.substr(text.size() - kTail) : text;
  };
  std::string text = process_->executable() + " (pid " + std::to_string(process_->pid()) + ") ";
  const auto status = process_->wait(timeout);
  text += status ? "ended with " + detail::describe_wait_status(*status) : std::string("is still running");
  const std::string unread = process_->unread_stdout();
  text += "\n  unread stdout: " + (unread.empty() ? std::string("(none)") : tail(unread));
  std::string errors;
  if (!stderr_path_.empty()) {
    std::ifstream in(stderr_path_);
    errors.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    text += "\n  stderr (" + stderr_path_ + "): ";
  } else {
    errors = process_->read_stderr(milliseconds(status ? 200 : 0));
    text += "\n  stderr: ";
  }
  text += errors.empty() ? std::string("(none)") : tail(errors);
  return text;
}

}  // namespace statebus::testkit
