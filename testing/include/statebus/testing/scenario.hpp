#pragma once
/// A multi-process test as a short story: set up the processes, script the
/// inputs, move time on, assert on what was recorded.
///
///   ScenarioOptions options;
///   options.clock = ClockMode::lockstep;
///   auto story = Scenario::start(*node, options);
///   ASSERT_TRUE(story) << story.error().message();
///   story->spawn("heating", {HEATING_EXE});                                   // waits for its "ready"
///   story->spawn("sensor", {SENSOR_EXE});
///   story->script<OutsideTemperature>("home/weather/outside", 1min,
///       [](VirtualClock::duration t) { return OutsideTemperature{t < 6h ? -5.0 : 8.0}; });
///   ASSERT_TRUE(story->run_for(12h));                                         // lockstep: as fast as they go
///   auto heater = story->recorder().samples<HeaterCommand>("home/actuator/heater");
///   ASSERT_TRUE(heater) << heater.error().message();
///   EXPECT_THAT(*heater, Contains(...));
///   // the end: children get SIGTERM; a crash, a SIGKILL needed or an error log fails the test

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/bus/event_loop.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/publisher.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/service/server.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/log_capture.hpp"

namespace statebus::testkit {

struct ScenarioOptions {
  /// How time moves: stepped (still until run_for), lockstep (run_for goes as
  /// fast as the processes do, the same way every run), scaled at `rate`, real.
  ClockMode clock = ClockMode::lockstep;
  double rate = 1.0;
  /// Channels the scenario's recorder captures (empty: no recorder).
  std::vector<std::string> record = {"**"};
  /// Also write the recording here.
  std::string mcap_path;
  /// Capture log records and fail the test on unexpected errors.
  bool capture_logs = true;
  /// How long a child may take to print its ready line.
  std::chrono::milliseconds ready_timeout{10000};
  /// Where children's stderr goes (a file per child); empty: the test's temporary directory.
  std::string stderr_dir;
};

/// How a child ended.
struct ChildReport {
  std::string name;
  pid_t pid = 0;
  int status = 0;            ///< wait status
  bool crashed = false;      ///< ended before shutdown, or with a failure status after SIGTERM
  bool killed = false;       ///< did not end on SIGTERM within the grace time: SIGKILLed
  std::string stderr_path;   ///< what it wrote to stderr
};

/// "exit 0", "exit 3", "SIGSEGV".
std::string describe_wait_status(int status);

/// Thread safety: the test's thread. Children, scripts and the recorder run
/// in other processes and threads.
class Scenario {
 public:
  /// Sets the clock (stepped while children start, then the chosen mode
  /// once run_for() is first called), starts the recorder and log capture.
  static Result<Scenario> start(const Node& node, ScenarioOptions options = {});
  Scenario(Scenario&&) noexcept;
  Scenario& operator=(Scenario&&) noexcept;
  /// shutdown(), and a test failure for every child that crashed or had to
  /// be killed (unless expect_exit named it) and for unexpected error logs.
  ~Scenario();

  /// Starts an executable and waits for it to print `ready_line` on stdout
  /// (empty: does not wait). Fails if it ends or stays silent.
  Result<ChildProcess*> spawn(const std::string& name, std::vector<std::string> argv,
                              std::string_view ready_line = "ready");
  /// Starts this test program again running the function registered with
  /// STATEBUS_TEST_FUNCTION(function) (statebus/testing/main.hpp), with `args`.
  Result<ChildProcess*> spawn_function(const std::string& name, const std::string& function,
                                       std::vector<std::string> args = {}, std::string_view ready_line = "ready");
  /// The child started under `name` (it must exist).
  ChildProcess& child(const std::string& name);
  /// The test ends (or kills) this child itself: its end is no failure.
  void expect_exit(const std::string& name);

  /// Publishes on `channel`, every `period` of virtual time from now on, the
  /// value `values(t)` returns for the virtual time `t` since start()
  /// (nothing: skip this period): the post's time-dependent iterator. A lockstep participant, so
  /// a lockstep clock never jumps over one of its periods. Up to 60 scripts.
  template <class T>
  Result<void> script(const std::string& channel, VirtualClock::duration period,
                      std::function<std::optional<T>(VirtualClock::duration)> values);

  /// Serves `service` from this test process, on a thread of its own, with
  /// `handler` as serve() takes it: `(const Req&) -> Reply<Res>` (a Res, or
  /// refuse("why")), or `(const Req&, Res&) -> Reply<void>`. A fake server
  /// for the processes under test, its calls recorded as any server's
  /// (testkit::calls). Returns once the server is up and announced. Fails as
  /// Server::create does (already_running: another process serves it;
  /// type_mismatch), or with the event loop's errors. The handler runs on
  /// that thread, one call at a time; it stops at shutdown().
  ///
  ///   story->serve<Boost, BoostAnswer>("home/heating/boost", [](const Boost& b) -> Reply<BoostAnswer> {
  ///     if (b.minutes > 120) return refuse("at most 120 minutes");
  ///     return BoostAnswer{true};
  ///   });
  template <class Req, class Res, class Handler>
  Result<void> serve(const std::string& service, Handler handler);

  /// Virtual time at start() and since.
  [[nodiscard]] VirtualClock::time_point t0() const noexcept;
  [[nodiscard]] VirtualClock::duration elapsed() const noexcept { return VirtualClock::now() - t0(); }
  /// Moves virtual time on by `span` and returns once it got there: lockstep
  /// (as fast as the processes go, stopping exactly there), stepped (one
  /// advance), scaled or real (sleeps on the virtual clock).
  /// Fails with the clock's errors, or with the first sample a script could
  /// not publish (that failure also fails the test at the destructor).
  Result<void> run_for(VirtualClock::duration span);
  Result<void> run_until(VirtualClock::time_point target);

  /// The recorder (needs `record`) and the log capture (needs `capture_logs`).
  Recorder& recorder();
  LogCapture& logs();

  /// SIGTERM to every child still running, up to `grace` each to end, then
  /// SIGKILL; stops the scripts and the recorder. Idempotent.
  std::vector<ChildReport> shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  struct Impl;
  explicit Scenario(std::unique_ptr<Impl> impl) noexcept;
  /// Runs `make(loop)` on a new thread that owns an EventLoop; returns once it is set up.
  Result<void> add_script(std::function<Result<void>(EventLoop&)> make);
  /// A script could not publish: kept (the first) for run_for() and the
  /// destructor, which fail with it.
  static void script_failed(Impl* impl, Error error);
  Result<void> move_clock_to(VirtualClock::time_point target);
  std::unique_ptr<Impl> impl_;
  const Node* node_ = nullptr;
};

template <class T>
Result<void> Scenario::script(const std::string& channel, VirtualClock::duration period,
                              std::function<std::optional<T>(VirtualClock::duration)> values) {
  if (period.count() <= 0) return fail(Errc::invalid_argument, "a script's period must be positive");
  auto publisher = Publisher<T>::create(*node_, channel);
  if (!publisher) return tl::make_unexpected(publisher.error());
  auto shared = std::make_shared<Publisher<T>>(std::move(*publisher));
  const VirtualClock::time_point start = t0();
  Impl* impl = impl_.get();
  return add_script([shared, period, values = std::move(values), start, impl](EventLoop& loop) -> Result<void> {
    loop.every(period, [shared, values, start, impl, &loop] {
      const auto at = loop.tick_time() - start;
      auto value = values(at);
      if (!value) return;
      if (auto sent = shared->publish(*value); !sent) {
        script_failed(impl,
                      Error(Errc::out_of_resources,
                            "the script on channel '" + shared->channel() + "' could not publish its sample at +" +
                                std::to_string(std::chrono::duration<double>(at).count()) +
                                " s of virtual time: " + std::string(to_string(sent.error())) +
                                " (subscribers hold every chunk of that size, or the pools are too small)"));
      }
    });
    return {};
  });
}

template <class Req, class Res, class Handler>
Result<void> Scenario::serve(const std::string& service, Handler handler) {
  auto server = Server<Req, Res>::create(*node_, service);
  if (!server) return tl::make_unexpected(server.error());
  // Held by the script's closure, which outlives its loop (the loop watches the server's calls).
  auto shared = std::make_shared<Server<Req, Res>>(std::move(*server));
  return add_script([shared, handler = std::move(handler)](EventLoop& loop) mutable -> Result<void> {
    return statebus::serve(loop, *shared, std::move(handler));
  });
}

}  // namespace statebus::testkit
