#include "statebus/testing/scenario.hpp"

#include <spdlog/spdlog.h>

#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "statebus/internal/subprocess.hpp"

namespace statebus::testkit {

std::string describe_wait_status(int status) { return detail::describe_wait_status(status); }

struct Scenario::Impl {
  Impl(Node n, ScenarioOptions o) : node(std::move(n)), options(std::move(o)) {}
  Node node;
  ScenarioOptions options;
  VirtualClock::time_point t0;
  bool clock_started = false;
  std::optional<Recorder> recorder;
  std::optional<LogCapture> logs;
  struct Child {
    std::string name;
    ChildProcess process;
    std::string stderr_path;
    bool expected_exit = false;
  };
  std::vector<std::unique_ptr<Child>> children;
  struct Script {
    std::thread thread;
    EventLoop* loop = nullptr;
  };
  std::vector<std::unique_ptr<Script>> scripts;
  std::optional<std::vector<ChildReport>> reports;
  std::mutex script_mutex;
  std::optional<Error> script_failure;  // the first sample a script could not publish

  std::optional<Error> script_error() {
    std::lock_guard<std::mutex> lock(script_mutex);
    return script_failure;
  }

  Child* find(const std::string& name) {
    for (auto& c : children) {
      if (c->name == name) return c.get();
    }
    return nullptr;
  }
};

Result<Scenario> Scenario::start(const Node& node, ScenarioOptions options) {
  if (options.clock == ClockMode::scaled && !(options.rate >= 0.0)) {
    return fail(Errc::invalid_argument, "a scaled scenario needs a rate ≥ 0");
  }
  auto impl = std::make_unique<Impl>(node, std::move(options));
  // Time stands while the children start, so the story begins with all of them.
  if (impl->options.clock != ClockMode::real) {
    if (auto stood = VirtualClock::set_stepped(); !stood) return tl::make_unexpected(stood.error());
  }
  impl->t0 = VirtualClock::now();
  if (!impl->options.record.empty()) {
    RecorderOptions recording;
    recording.patterns = impl->options.record;
    recording.mcap_path = impl->options.mcap_path;
    auto recorder = Recorder::start(impl->node, recording);
    if (!recorder) return tl::make_unexpected(recorder.error());
    impl->recorder.emplace(std::move(*recorder));
  }
  if (impl->options.capture_logs) {
    auto logs = LogCapture::start(impl->node);
    if (!logs) return tl::make_unexpected(logs.error());
    impl->logs.emplace(std::move(*logs));
  }
  if (impl->options.stderr_dir.empty()) impl->options.stderr_dir = ::testing::TempDir();
  return Scenario(std::move(impl));
}

Scenario::Scenario(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)), node_(&impl_->node) {}
Scenario::Scenario(Scenario&& other) noexcept : impl_(std::move(other.impl_)), node_(other.node_) {}
Scenario& Scenario::operator=(Scenario&& other) noexcept {
  if (this != &other) {
    impl_ = std::move(other.impl_);
    node_ = other.node_;
  }
  return *this;
}

Scenario::~Scenario() {
  if (!impl_) return;
  std::vector<std::string> described;
  for (const ChildReport& report : shutdown()) {
    Impl::Child* child = impl_->find(report.name);
    if (child != nullptr && child->expected_exit) continue;
    const std::string story = child != nullptr ? "\n" + child->process.describe(std::chrono::milliseconds(0)) : "";
    if (report.crashed) {
      ADD_FAILURE() << "child '" << report.name << "' (pid " << report.pid << ") ended before the scenario's end ("
                    << describe_wait_status(report.status) << ") (expect_exit(\"" << report.name
                    << "\") if the test ends it)" << story;
      described.push_back(report.name);
    } else if (report.killed) {
      ADD_FAILURE() << "child '" << report.name << "' (pid " << report.pid
                    << ") did not end on SIGTERM and had to be killed" << story;
      described.push_back(report.name);
    }
  }
  if (auto failed = impl_->script_error()) ADD_FAILURE() << failed->message();
  if (impl_->logs) impl_->logs->check();
  // A failing test says what each of its children printed and how it ended;
  // then their stderr files go (a private /tmp would lose them anyway).
  for (auto& child : impl_->children) {
    const bool told = std::find(described.begin(), described.end(), child->name) != described.end();
    if (::testing::Test::HasFailure() && !told) {
      std::printf("child '%s': %s\n", child->name.c_str(),
                  child->process.describe(std::chrono::milliseconds(0)).c_str());
    }
    std::remove(child->stderr_path.c_str());
  }
}

Result<ChildProcess*> Scenario::spawn(const std::string& name, std::vector<std::string> argv,
                                      std::string_view ready_line) {
  if (impl_->find(name) != nullptr) {
    return fail(Errc::invalid_argument, "a child named '" + name + "' already runs in this scenario");
  }
  const std::string stderr_path = impl_->options.stderr_dir + "/" + name + "." + std::to_string(::getpid()) + ".stderr";
  auto process = ChildProcess::spawn(std::move(argv), stderr_path);
  if (!process) return tl::make_unexpected(process.error());
  impl_->children.push_back(std::make_unique<Impl::Child>(Impl::Child{name, std::move(*process), stderr_path, false}));
  ChildProcess& child = impl_->children.back()->process;
  if (!ready_line.empty()) {
    for (;;) {
      auto line = child.read_line(impl_->options.ready_timeout);
      if (!line) {
        return fail(Errc::timeout, "child '" + name + "' did not print \"" + std::string(ready_line) + "\" within " +
                                       std::to_string(impl_->options.ready_timeout.count()) + " ms (stderr: " +
                                       stderr_path + ")");
      }
      if (*line == ready_line) break;
    }
  }
  return &child;
}

Result<ChildProcess*> Scenario::spawn_function(const std::string& name, const std::string& function,
                                               std::vector<std::string> args, std::string_view ready_line) {
  std::vector<std::string> argv = {"/proc/self/exe", "--statebus-test-function", function};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawn(name, std::move(argv), ready_line);
}

ChildProcess& Scenario::child(const std::string& name) {
  Impl::Child* found = impl_->find(name);
  if (found == nullptr) throw std::out_of_range("no child named '" + name + "' in this scenario");
  return found->process;
}

void Scenario::expect_exit(const std::string& name) {
  if (Impl::Child* found = impl_->find(name)) found->expected_exit = true;
}

Result<void> Scenario::add_script(std::function<Result<void>(EventLoop&)> make) {
  auto script = std::make_unique<Impl::Script>();
  std::promise<Result<void>> ready;
  auto done = ready.get_future();
  Impl::Script* raw = script.get();
  script->thread = std::thread([raw, make = std::move(make), &ready, &node = impl_->node] {
    auto loop = EventLoop::create(node);
    if (!loop) {
      ready.set_value(tl::make_unexpected(loop.error()));
      return;
    }
    if (auto made = make(*loop); !made) {
      ready.set_value(made);
      return;
    }
    raw->loop = &*loop;
    ready.set_value({});
    if (auto ran = loop->run(); !ran) spdlog::error("scenario script: {}", ran.error().message());
  });
  auto result = done.get();
  if (!result) {
    script->thread.join();
    return result;
  }
  impl_->scripts.push_back(std::move(script));
  return {};
}

void Scenario::script_failed(Impl* impl, Error error) {
  std::lock_guard<std::mutex> lock(impl->script_mutex);
  if (!impl->script_failure) impl->script_failure = std::move(error);
}

VirtualClock::time_point Scenario::t0() const noexcept { return impl_->t0; }

Result<void> Scenario::run_for(VirtualClock::duration span) { return run_until(VirtualClock::now() + span); }

Result<void> Scenario::run_until(VirtualClock::time_point target) {
  auto ran = move_clock_to(target);
  if (auto failed = impl_->script_error()) return tl::make_unexpected(*failed);
  return ran;
}

Result<void> Scenario::move_clock_to(VirtualClock::time_point target) {
  switch (impl_->options.clock) {
    case ClockMode::lockstep:
      if (auto set = VirtualClock::set_lockstep(target); !set) return set;
      break;
    case ClockMode::stepped:
      if (VirtualClock::now() < target) {
        if (auto moved = VirtualClock::advance_to(target); !moved) return moved;
      }
      return {};
    case ClockMode::scaled:
      if (!impl_->clock_started) {
        if (auto set = VirtualClock::set_rate(impl_->options.rate); !set) return set;
      }
      break;
    case ClockMode::real:
      break;
  }
  impl_->clock_started = true;
  VirtualClock::sleep_until(target);
  return {};
}

Recorder& Scenario::recorder() {
  if (!impl_->recorder) throw std::logic_error("this scenario records nothing (ScenarioOptions::record is empty)");
  return *impl_->recorder;
}

LogCapture& Scenario::logs() {
  if (!impl_->logs) throw std::logic_error("this scenario captures no logs (ScenarioOptions::capture_logs is false)");
  return *impl_->logs;
}

std::vector<ChildReport> Scenario::shutdown(std::chrono::milliseconds grace) {
  if (impl_->reports) return *impl_->reports;
  std::vector<ChildReport> reports;
  // Children first, in reverse order of start, while the clock still moves
  // (a lockstep clock stands still once no loop is left).
  for (auto it = impl_->children.rbegin(); it != impl_->children.rend(); ++it) {
    Impl::Child& c = **it;
    ChildReport report{c.name, c.process.pid(), 0, false, false, c.stderr_path};
    if (auto early = c.process.wait(std::chrono::milliseconds(0))) {
      report.status = *early;
      report.crashed = true;  // nobody asked it to end
      reports.push_back(report);
      continue;
    }
    c.process.signal(SIGTERM);
    if (auto ended = c.process.wait(grace)) {
      report.status = *ended;
      report.crashed = !(WIFEXITED(*ended) && WEXITSTATUS(*ended) == 0) &&
                       !(WIFSIGNALED(*ended) && WTERMSIG(*ended) == SIGTERM);
    } else {
      c.process.signal(SIGKILL);
      report.status = c.process.wait(std::chrono::seconds(10)).value_or(0);
      report.killed = true;
    }
    reports.push_back(report);
  }
  for (auto& script : impl_->scripts) {
    if (script->loop != nullptr) script->loop->stop();
    if (script->thread.joinable()) script->thread.join();
  }
  impl_->scripts.clear();
  if (impl_->recorder) (void)impl_->recorder->stop();
  impl_->reports = reports;
  return reports;
}

}  // namespace statebus::testkit
