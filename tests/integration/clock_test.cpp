// The shared virtual clock across processes.
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "change_hook.hpp"   // clock/src: whether a change is pending
#include "publish_hook.hpp"  // bus/src: a hook between delivery and lockstep's count
#include "run_cli.hpp"
#include "sleep_probe.hpp"
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/lockstep.hpp"
#include "statebus/internal/port_lock.hpp"  // bus/internal: a hook inside a publish's first port lock
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

class ClockTest : public testkit::BusTest {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(VirtualClock::attach());
  }
};

std::int64_t ns(VirtualClock::time_point t) { return t.time_since_epoch().count(); }

TEST_F(ClockTest, StartsInRealModeFollowingMonotonicTime) {
  const ClockStatus sut = VirtualClock::status();
  EXPECT_TRUE(sut.shared);
  EXPECT_EQ(sut.mode, ClockMode::real);
  const auto steady = std::chrono::steady_clock::now().time_since_epoch();
  const auto virtual_now = VirtualClock::now().time_since_epoch();
  EXPECT_LT(std::chrono::abs(virtual_now - steady), 100ms);
}

TEST_F(ClockTest, SteppedTimeMovesOnlyWhenAdvancedAndEveryProcessReadsIt) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  EXPECT_EQ(VirtualClock::now(), t0) << "stepped time stands still";

  ASSERT_TRUE(VirtualClock::advance(90s));

  EXPECT_EQ(VirtualClock::now(), t0 + 90s);
  auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-now", "reader"});
  ASSERT_TRUE(child);
  EXPECT_EQ(child->read_line(10s), std::to_string(ns(t0 + 90s)));
}

TEST_F(ClockTest, SleeperInAnotherProcessWakesWhenAStepCrossesItsDeadline) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto deadline = VirtualClock::now() + 10min;
  auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "sleep-until", "sleeper", std::to_string(ns(deadline))});
  ASSERT_TRUE(child);
  ASSERT_EQ(child->read_line(10s), "sleeping");
  ASSERT_TRUE(test::sleeps_in_futex(child->pid(), 10s)) << "the sleeper never went to sleep";

  ASSERT_TRUE(VirtualClock::advance(4min));   // not yet
  ASSERT_TRUE(VirtualClock::advance(7min));   // crosses the deadline

  // Woken by the step, not by its 1 s re-check: no slice slept out.
  const auto woke = child->read_line(10s);
  ASSERT_TRUE(woke);
  EXPECT_EQ(*woke, "woke " + std::to_string(ns(deadline + 1min)) + " after 0 slices slept out");
}

TEST_F(ClockTest, ScaledSleepFollowsTheRate) {
  ASSERT_TRUE(VirtualClock::set_rate(3600.0));  // an hour per second
  const auto start_real = std::chrono::steady_clock::now();
  const auto deadline = VirtualClock::now() + 30min;

  VirtualClock::sleep_until(deadline);

  EXPECT_GE(VirtualClock::now(), deadline);
  EXPECT_LT(std::chrono::steady_clock::now() - start_real, 5s) << "30 virtual minutes at 3600x take about 0.5 s";
}

TEST_F(ClockTest, PauseHoldsTimeAndResumeContinuesFromThere) {
  ASSERT_TRUE(VirtualClock::set_rate(1000.0));
  ASSERT_TRUE(VirtualClock::pause());
  const auto paused = VirtualClock::now();
  EXPECT_EQ(VirtualClock::status().rate, 0.0);
  EXPECT_EQ(VirtualClock::now(), paused);

  ASSERT_TRUE(VirtualClock::resume());

  EXPECT_EQ(VirtualClock::status().rate, 1000.0);
  EXPECT_GE(VirtualClock::now(), paused);
}

TEST_F(ClockTest, RateChangesNeverMakeTimeGoBackwards) {
  // Readers: threads here and a process; a writer changes the rate all the time.
  std::atomic<bool> stop{false};
  std::atomic<long> backwards{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      auto last = VirtualClock::now();
      while (!stop.load(std::memory_order_relaxed)) {
        const auto now = VirtualClock::now();
        if (now < last) backwards.fetch_add(1);
        last = now;
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "monotonic", "monotonic", "2000000"});
  ASSERT_TRUE(child);
  ASSERT_EQ(child->read_line(10s), "reading");

  std::mt19937 random(42);
  const double rates[] = {0.0, 0.5, 1.0, 10.0, 86400.0, 1e6};
  int changes = 0;
  std::optional<std::string> verdict;
  while (!(verdict = child->read_line(0ms))) {
    ASSERT_TRUE(VirtualClock::set_rate(rates[random() % 6]));
    ++changes;
    if (changes % 64 == 0) {
      ASSERT_TRUE(VirtualClock::pause() && VirtualClock::resume());
    }
  }
  stop = true;
  for (auto& reader : readers) reader.join();

  EXPECT_EQ(*verdict, "ok 2000000");
  EXPECT_EQ(backwards.load(), 0) << "over " << reads.load() << " reads and " << changes << " rate changes";
  EXPECT_GT(changes, 100);
}

// Reaches: VirtualClock::set_rate Errc::invalid_argument
TEST_F(ClockTest, BadChangesAreRefusedWithAReason) {
  const auto negative = VirtualClock::set_rate(-1.0);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().code(), Errc::invalid_argument);
  EXPECT_FALSE(VirtualClock::set_rate(std::nan("")));

  ASSERT_TRUE(VirtualClock::set_rate(2.0));
  const auto not_stepped = VirtualClock::advance(1s);
  ASSERT_FALSE(not_stepped);
  EXPECT_NE(not_stepped.error().message().find("stepped"), std::string::npos);

  ASSERT_TRUE(VirtualClock::set_stepped());
  EXPECT_FALSE(VirtualClock::advance(-1s));
  const auto past = VirtualClock::advance_to(VirtualClock::now() - 1s);
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().message().find("past"), std::string::npos);
}

// The supported ranges, at their edges: rates 0 or 0.001 to 1e6, virtual
// time up to VirtualClock::end_of_time (100 years). Outside them a change
// is refused naming the range; a running clock stands at the end of time
// instead of jumping to -292 years.
// Reaches: VirtualClock::set_rate Errc::invalid_argument
// Reaches: VirtualClock::advance Errc::invalid_argument
// Reaches: VirtualClock::advance_to Errc::invalid_argument
// Reaches: VirtualClock::set_lockstep Errc::invalid_argument
TEST_F(ClockTest, SupportedRangesHoldAtTheirEdges) {
  auto refused_naming = [](const Result<void>& result, const std::string& part) {
    EXPECT_FALSE(result);
    if (!result) {
      EXPECT_EQ(result.error().code(), Errc::invalid_argument);
      EXPECT_NE(result.error().message().find(part), std::string::npos) << result.error().message();
    }
  };
  refused_naming(VirtualClock::set_rate(1e10), "0.001 to 1000000");
  refused_naming(VirtualClock::set_rate(1e-9), "0.001 to 1000000");
  EXPECT_TRUE(VirtualClock::set_rate(VirtualClock::max_rate));
  EXPECT_TRUE(VirtualClock::set_rate(VirtualClock::min_rate));
  // A deadline an hour of virtual time away, at the slowest rate: 1000 hours
  // of real time, not a wait that overflowed into the past.
  const auto wait = detail::real_time_until(VirtualClock::now() + 1h);
  ASSERT_TRUE(wait);
  EXPECT_GT(*wait, std::chrono::hours(999));
  EXPECT_TRUE(VirtualClock::set_rate(0.0));

  ASSERT_TRUE(VirtualClock::set_stepped());
  refused_naming(VirtualClock::advance(std::chrono::hours(24 * 106751)), "end of virtual time");
  refused_naming(VirtualClock::advance_to(VirtualClock::end_of_time + 1ns), "end of virtual time");
  refused_naming(VirtualClock::set_lockstep(VirtualClock::end_of_time + 1ns), "end of virtual time");
  ASSERT_TRUE(VirtualClock::set_stepped());
  ASSERT_TRUE(VirtualClock::advance_to(VirtualClock::end_of_time - 1s));
  ASSERT_TRUE(VirtualClock::set_rate(VirtualClock::max_rate));  // a second of virtual time passes in 1 µs
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (VirtualClock::now() < VirtualClock::end_of_time && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_EQ(VirtualClock::now(), VirtualClock::end_of_time) << "the clock stands at the end of time";
  ASSERT_TRUE(VirtualClock::set_stepped());
  EXPECT_EQ(VirtualClock::now(), VirtualClock::end_of_time);
  refused_naming(VirtualClock::advance(1ns), "end of virtual time");
  std::string errors;
  const auto [out, code] = test::run_cli({"clock", "--step", "106751d"}, &errors);
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(errors.find("end of virtual time"), std::string::npos) << errors;
}

TEST_F(ClockTest, SamplesCarryVirtualTime) {
  auto node = Node::connect("clock-publisher");
  ASSERT_TRUE(node);
  auto pub = Publisher<test::Reading>::create(*node, "test/clocked");
  auto sub = Subscriber<test::Reading>::create(*node, "test/clocked");
  ASSERT_TRUE(pub && sub && pub->wait_for_subscribers(10s));
  ASSERT_TRUE(VirtualClock::set_stepped());
  ASSERT_TRUE(VirtualClock::advance(24h));
  const auto stepped_now = VirtualClock::now();

  ASSERT_TRUE(pub->publish(test::Reading{}));

  auto sample = sub->take_for(5s);
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->header().virtual_time_ns, ns(stepped_now));
  EXPECT_NE(sample->header().real_time_ns, sample->header().virtual_time_ns);
}

TEST_F(ClockTest, SubscriberWaitOnVirtualTimeEndsWhenAStepCrossesTheDeadline) {
  auto node = Node::connect("virtual-waiter");
  ASSERT_TRUE(node);
  auto sut = Subscriber<test::Reading>::create(*node, "test/quiet-virtual");
  ASSERT_TRUE(sut);
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto deadline = VirtualClock::now() + 10min;
  std::atomic<pid_t> waiting{0};
  std::atomic<bool> returned{false};
  bool result = true;
  const auto slept_out = detail::slices_slept_out();
  std::thread waiter([&] {
    waiting = static_cast<pid_t>(::gettid());
    result = sut->wait_until(deadline).is_ready();
    returned = true;
  });
  while (waiting == 0) std::this_thread::yield();
  ASSERT_TRUE(test::sleeps_in_futex(::getpid(), 10s, waiting)) << "the waiter never went to sleep";

  ASSERT_TRUE(VirtualClock::advance(5min));
  EXPECT_FALSE(returned.load()) << "5 of 10 virtual minutes: still waiting";
  ASSERT_TRUE(VirtualClock::advance(6min));
  waiter.join();

  EXPECT_FALSE(result) << "no data came: the deadline ended the wait";
  EXPECT_GE(VirtualClock::now(), deadline);
  EXPECT_EQ(detail::slices_slept_out(), slept_out) << "woken by its 1 s re-check, not by the step";
}

TEST_F(ClockTest, SubscriberWaitOnVirtualTimeReturnsWhenDataArrives) {
  auto node = Node::connect("virtual-data");
  ASSERT_TRUE(node);
  auto pub = Publisher<test::Reading>::create(*node, "test/virtual-data");
  auto sut = Subscriber<test::Reading>::create(*node, "test/virtual-data");
  ASSERT_TRUE(pub && sut && pub->wait_for_subscribers(10s));
  ASSERT_TRUE(VirtualClock::set_stepped());  // time stands: only data can end the wait
  bool result = false;
  std::atomic<pid_t> waiting{0};
  const auto slept_out = detail::slices_slept_out();
  std::thread waiter([&] {
    waiting = static_cast<pid_t>(::gettid());
    result = sut->wait_until(VirtualClock::now() + 1h).is_ready();
  });
  while (waiting == 0) std::this_thread::yield();
  ASSERT_TRUE(test::sleeps_in_futex(::getpid(), 10s, waiting)) << "the waiter never went to sleep";

  ASSERT_TRUE(pub->publish(test::Reading{}));
  waiter.join();

  EXPECT_TRUE(result);
  EXPECT_TRUE(sut->take());
  EXPECT_EQ(detail::slices_slept_out(), slept_out) << "woken by its 1 s re-check, not by the data";
}

TEST_F(ClockTest, WaitSetOnVirtualTimeEndsAtTheStepOrWithData) {
  auto node = Node::connect("waitset-virtual");
  ASSERT_TRUE(node);
  auto pub = Publisher<test::Reading>::create(*node, "test/waitset-virtual");
  auto quiet = Subscriber<test::Reading>::create(*node, "test/waitset-quiet");
  auto busy = Subscriber<test::Reading>::create(*node, "test/waitset-virtual");
  auto waitset = WaitSet::create(*node);
  ASSERT_TRUE(pub && quiet && busy && waitset && pub->wait_for_subscribers(10s));
  ASSERT_TRUE(waitset->add(*quiet));
  const auto busy_index = waitset->add(*busy);
  ASSERT_TRUE(busy_index);
  ASSERT_TRUE(VirtualClock::set_stepped());

  const auto deadline = VirtualClock::now() + 1h;
  std::optional<WaitSet::Ready> timed_out;
  const auto slept_out = detail::slices_slept_out();
  std::thread stepper([&] {  // two steps, once this thread sleeps: the second crosses the deadline
    ASSERT_TRUE(test::sleeps_in_futex(::getpid(), 10s)) << "the waiter never went to sleep";
    ASSERT_TRUE(VirtualClock::advance(30min));
    ASSERT_TRUE(VirtualClock::advance(31min));
  });
  timed_out = waitset->wait_until(deadline);
  stepper.join();
  ASSERT_TRUE(timed_out);
  EXPECT_EQ(timed_out->status(), Waited::Status::timed_out);
  EXPECT_TRUE(timed_out->empty());
  EXPECT_GE(VirtualClock::now(), deadline);
  EXPECT_EQ(detail::slices_slept_out(), slept_out) << "woken by its 1 s re-check, not by the step";

  ASSERT_TRUE(pub->publish(test::Reading{}));
  const auto ready = waitset->wait_until(VirtualClock::now() + 1h);  // time stands: data ends it
  ASSERT_EQ(ready.size(), 1U);
  EXPECT_EQ(ready[0], *busy_index);
}

TEST_F(ClockTest, SubscriberWaitOnVirtualTimeFollowsTheRate) {
  auto node = Node::connect("virtual-rate");
  ASSERT_TRUE(node);
  auto sut = Subscriber<test::Reading>::create(*node, "test/virtual-rate");
  ASSERT_TRUE(sut);
  ASSERT_TRUE(VirtualClock::set_rate(3600.0));
  const auto deadline = VirtualClock::now() + 30min;

  EXPECT_FALSE(sut->wait_until(deadline));

  EXPECT_GE(VirtualClock::now(), deadline);
}

// std::condition_variable::wait_until on VirtualClock converts the deadline
// to real time once; VirtualClock::wait follows rate and steps.
TEST_F(ClockTest, AConditionVariableWaitOnVirtualTimeFollowsTheRateAndTheSteps) {
  std::mutex mutex;
  std::condition_variable cv;
  bool flag = false;
  std::unique_lock<std::mutex> lock(mutex);

  ASSERT_TRUE(VirtualClock::set_rate(1000.0));
  const auto real_start = std::chrono::steady_clock::now();
  const auto deadline = VirtualClock::now() + 10s;  // 10 ms of real time at rate 1000
  EXPECT_FALSE(VirtualClock::wait(cv, lock, deadline, [&] { return flag; }));
  EXPECT_GE(VirtualClock::now(), deadline);
  EXPECT_LT(std::chrono::steady_clock::now() - real_start, 5s) << "slept as if at rate 1";

  // Stepped: only a step (or the predicate) ends the wait.
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto step_deadline = VirtualClock::now() + 1h;
  lock.unlock();
  std::promise<bool> stepped_out;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> inner(mutex);
    stepped_out.set_value(VirtualClock::wait(cv, inner, step_deadline, [&] { return flag; }));
  });
  ASSERT_TRUE(VirtualClock::advance(1h));
  auto outcome = stepped_out.get_future();
  ASSERT_EQ(outcome.wait_for(30s), std::future_status::ready) << "a step past the deadline did not end the wait";
  EXPECT_FALSE(outcome.get());
  waiter.join();
  EXPECT_GE(VirtualClock::now(), step_deadline);

  std::promise<bool> notified;
  std::thread second([&] {
    std::unique_lock<std::mutex> inner(mutex);
    notified.set_value(VirtualClock::wait(cv, inner, VirtualClock::now() + 1h, [&] { return flag; }));
  });
  {
    std::lock_guard<std::mutex> hold(mutex);
    flag = true;
  }
  cv.notify_all();
  auto woken = notified.get_future();
  ASSERT_EQ(woken.wait_for(30s), std::future_status::ready) << "a notify with the predicate true did not end the wait";
  EXPECT_TRUE(woken.get());
  second.join();
  lock.lock();
}

TEST_F(ClockTest, LoopInAChildProcessSeesExactlyTheTicksVirtualTimeImplies) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  auto node = Node::connect("loop-driver");
  ASSERT_TRUE(node);
  auto report = Publisher<test::Reading>::create(*node, "test/report");
  ASSERT_TRUE(report);
  auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "loop-ticks", "controller"});
  ASSERT_TRUE(child);
  ASSERT_EQ(child->read_line(10s), "ready");
  ASSERT_TRUE(report->wait_for_subscribers(10s));

  // 60 virtual seconds in uneven steps: 60 × 0.5 s, then 10 × 3 s.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(VirtualClock::advance(500ms));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(VirtualClock::advance(3s));
  ASSERT_TRUE(report->publish(test::Reading{}));

  EXPECT_EQ(child->read_line(10s), "ticks 60 in order");
}

// Two processes, a ping every 60 s and ticks every 10 s and 45 s, over a
// simulated day in lockstep: returns the two summary lines.
std::pair<std::string, std::string> lockstep_day(const std::string& run) {
  using namespace std::chrono;
  EXPECT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  const std::string t0_ns = std::to_string(ns(t0));
  const std::string span = std::to_string(duration_cast<nanoseconds>(24h).count());
  auto pong = ChildProcess::spawn({STATEBUS_TEST_CHILD, "lockstep-pong", "pong-" + run, t0_ns, span});
  auto ping = ChildProcess::spawn({STATEBUS_TEST_CHILD, "lockstep-ping", "ping-" + run, t0_ns, span});
  if (!pong || !ping) return {};
  EXPECT_EQ(pong->read_line(10s), "ready");
  EXPECT_EQ(ping->read_line(10s), "ready");
  EXPECT_TRUE(VirtualClock::set_lockstep(t0 + 24h));
  const std::string ping_summary = ping->read_line(120s).value_or("no summary from ping");
  const std::string pong_summary = pong->read_line(120s).value_or("no summary from pong");
  EXPECT_EQ(VirtualClock::now(), t0 + 24h);  // and not a nanosecond further
  return {ping_summary, pong_summary};
}

TEST_F(ClockTest, LockstepRunsADayOfTwoProcessesTheSameWayTwice) {
  const auto start = std::chrono::steady_clock::now();
  const auto first = lockstep_day("a");
  const auto second = lockstep_day("b");
  // 1440 pings and pongs and 8640 ticks in ping; 1440 pings and 1920 ticks in pong; plus nothing else.
  // At 24 h each loop's own timers due then run before the sample of ping
  // 1440 (timers first), and the stop timer ends both loops: so ping sees
  // 1440 pings, 8640 ticks and 1439 pongs; pong sees 1920 ticks and 1439 pings.
  EXPECT_EQ(first.first.rfind("ping: events 11519 hash ", 0), 0U) << first.first;
  EXPECT_NE(first.first.find(" late 0"), std::string::npos) << "a pong came at another virtual time: " << first.first;
  EXPECT_EQ(first.second.rfind("pong: events 3359 hash ", 0), 0U) << first.second;
  EXPECT_EQ(first, second);
  std::printf("%s\n%s\n", first.first.c_str(), first.second.c_str());
  std::printf("two lockstep days in %.2f s of real time\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  EXPECT_EQ(VirtualClock::status().participants, 0U);
}

// A publish that began before lockstep mode was set is in flight all the
// same: every publish counts itself, in every mode, so lockstep cannot jump
// past a sample on its way. Made to happen: lockstep is set from inside the
// publish (a hook in its first port lock), with an idle loop whose timer is due.
TEST_F(ClockTest, APublishThatBeganBeforeLockstepHoldsTimeToo) {
  auto node = Node::connect("before-lockstep-test");
  ASSERT_TRUE(node);
  auto sub = Subscriber<test::Reading>::create(*node, "test/before-lockstep");
  auto pub = Publisher<test::Reading>::create(*node, "test/before-lockstep");
  ASSERT_TRUE(sub && pub);
  ASSERT_TRUE(pub->wait_for_subscribers(10s));
  ASSERT_TRUE(VirtualClock::set_stepped());
  static const VirtualClock::time_point t0 = VirtualClock::now();
  static std::optional<detail::LockstepParticipant> receiver;
  receiver.emplace(*detail::LockstepParticipant::join());
  static Subscriber<test::Reading>* queue = &*sub;
  ASSERT_TRUE(receiver->idle(t0 + 10s, [](void*) { return queue->has_data(); }, nullptr));
  static VirtualClock::time_point in_flight{};
  detail::set_port_lock_hook([](detail::PortLockPoint point, pthread_mutex_t*) {
    if (point != detail::PortLockPoint::taken) return;
    detail::set_port_lock_hook(nullptr);
    (void)VirtualClock::set_lockstep();  // the sample's time is read; it is not delivered yet
    in_flight = VirtualClock::now();
  });
  ASSERT_TRUE(pub->publish(test::Reading{1, 20.0, {}}));
  detail::set_port_lock_hook(nullptr);
  EXPECT_EQ(in_flight, t0) << "lockstep jumped to the idle loop's timer with a sample in flight";
  const auto sample = sub->take();
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->header().virtual_time_ns, t0.time_since_epoch().count());
  receiver.reset();
  ASSERT_TRUE(VirtualClock::set_stepped());
}

// A writer frozen inside a change of the clock (stopped, or in a debugger)
// delays no reader: a reader in another process reads the time the change
// began at, at once, the frozen writer's change is left to it while it
// lives, and once it died the next read ends that change.
TEST_F(ClockTest, AReaderNeverWaitsForAWriterFrozenMidChange) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto before = VirtualClock::now();
  auto writer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-stall", "frozen-writer"});
  ASSERT_TRUE(writer);
  ASSERT_EQ(writer->read_line(10s), "inside a change") << writer->describe();
  ASSERT_TRUE(writer->signal(SIGSTOP));
  auto reader = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-now", "reader"});
  ASSERT_TRUE(reader);

  const auto read = reader->read_line(10s);

  ASSERT_TRUE(read) << "the reader waits for the frozen writer";
  EXPECT_EQ(std::stoll(*read), before.time_since_epoch().count()) << "the frozen writer published nothing";
  EXPECT_EQ(VirtualClock::now(), before);
  EXPECT_TRUE(detail::clock_change_pending()) << "a reader ended a live writer's change";
  reader->close_stdin();
  ASSERT_TRUE(reader->wait(10s));
  ASSERT_TRUE(writer->signal(SIGKILL));
  ASSERT_TRUE(writer->wait(10s));
  EXPECT_EQ(VirtualClock::now(), before);
  EXPECT_FALSE(detail::clock_change_pending()) << "the dead writer's change is still pending after a read";
}

// Lockstep never jumps while a sample is in flight: a participant going idle
// between the sample's delivery and its count must not let time pass the
// command's stamp. Made to happen: a hook acts in exactly that window.
TEST_F(ClockTest, LockstepNeverJumpsWhileASampleIsInFlight) {
  auto node = Node::connect("in-flight-test");
  ASSERT_TRUE(node);
  auto sub = Subscriber<test::Reading>::create(*node, "test/in-flight");
  auto pub = Publisher<test::Reading>::create(*node, "test/in-flight");
  ASSERT_TRUE(sub && pub);
  ASSERT_TRUE(pub->wait_for_subscribers(10s));
  ASSERT_TRUE(VirtualClock::set_stepped());
  static const VirtualClock::time_point t0 = VirtualClock::now();
  // Two participants: the receiver, idle with a timer at t0 + 10 s, and a
  // guard, busy until the window.
  static std::optional<detail::LockstepParticipant> receiver, guard;
  receiver.emplace(*detail::LockstepParticipant::join());
  guard.emplace(*detail::LockstepParticipant::join());
  ASSERT_TRUE(VirtualClock::set_lockstep());
  static Subscriber<test::Reading>* queue = &*sub;
  auto has_data = [](void*) { return queue->has_data(); };
  ASSERT_TRUE(receiver->idle(t0 + 10s, has_data, nullptr));
  ASSERT_EQ(VirtualClock::now(), t0) << "the busy guard holds time";

  static VirtualClock::time_point in_window{};
  detail::set_after_delivery_hook([] {
    // The sample sits in the receiver's queue, not yet counted; the guard
    // goes idle now, as another loop might.
    (void)guard->idle(t0 + 20s, [](void*) { return false; }, nullptr);
    in_window = VirtualClock::now();
  });
  ASSERT_TRUE(pub->publish(test::Reading{1, 20.0, {}}));
  detail::set_after_delivery_hook(nullptr);
  EXPECT_EQ(in_window, t0) << "time jumped to the receiver's timer with its command in flight";
  EXPECT_EQ(VirtualClock::now(), t0);
  const auto sample = sub->take();
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->header().virtual_time_ns, t0.time_since_epoch().count());
  receiver.reset();
  guard.reset();
  ASSERT_TRUE(VirtualClock::set_stepped());
}

// One hop per wake-up: a jump rings only the loops whose timer it reached
// (a loop waiting for later sleeps on), and a publish rings every loop
// (any of them may subscribe). Participants driven by hand, so each ring
// is seen without waiting.
TEST_F(ClockTest, ALockstepJumpWakesOnlyTheLoopsItMadeDueAndAPublishWakesAll) {
  auto node = Node::connect("bell-test");
  ASSERT_TRUE(node);
  auto sub = Subscriber<test::Reading>::create(*node, "test/bell");
  auto pub = Publisher<test::Reading>::create(*node, "test/bell");
  ASSERT_TRUE(sub && pub);
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  auto soon = detail::LockstepParticipant::join();
  auto later = detail::LockstepParticipant::join();
  ASSERT_TRUE(soon && later);
  ASSERT_TRUE(VirtualClock::set_lockstep());
  auto no_data = [](void*) { return false; };
  ASSERT_TRUE(later->idle(t0 + 1h, no_data, nullptr));
  ASSERT_TRUE(soon->idle(t0 + 1s, no_data, nullptr));  // the last to go idle: time jumps to its timer
  EXPECT_EQ(VirtualClock::now(), t0 + 1s);
  EXPECT_TRUE(soon->rang()) << "the loop whose timer is due was not woken";
  EXPECT_FALSE(later->rang()) << "a jump to 1 s woke the loop waiting for 1 h";

  soon->busy();  // holds time from here on
  later->busy();
  ASSERT_TRUE(later->idle(t0 + 1h, no_data, nullptr));
  EXPECT_FALSE(later->rang());
  ASSERT_TRUE(pub->publish(test::Reading{1, 20.0, {}}));
  EXPECT_TRUE(later->rang()) << "an idle loop was not woken by a publish: it may hold the sample";
  ASSERT_TRUE(sub->take());
  soon.value() = detail::LockstepParticipant();
  later.value() = detail::LockstepParticipant();
  ASSERT_TRUE(VirtualClock::set_stepped());
}

// A loop whose bell rang before it got to sleep (the other loop made the
// jump meanwhile) leaves no sleeper's announcement on it: the next publish
// or jump rings it without a futex system call that wakes nobody.
TEST_F(ClockTest, ALoopThatFindsItsBellRungLeavesNoSleeperForTheNextRing) {
  auto node = Node::connect("rung-bell-test");
  ASSERT_TRUE(node);
  auto pub = Publisher<test::Reading>::create(*node, "test/rung-bell");
  ASSERT_TRUE(pub);
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  auto sut = detail::LockstepParticipant::join();
  auto guard = detail::LockstepParticipant::join();  // busy: holds time
  ASSERT_TRUE(sut && guard);
  ASSERT_TRUE(VirtualClock::set_lockstep());
  auto no_data = [](void*) { return false; };
  ASSERT_TRUE(sut->idle(t0 + 1h, no_data, nullptr));
  ASSERT_TRUE(pub->publish(test::Reading{1, 20.0, {}}));  // rings sut before it waits
  ASSERT_TRUE(sut->rang());

  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(sut->wait(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "a rung bell was slept on";
  EXPECT_FALSE(sut->announced_sleep()) << "the next ring pays a futex wake-up for a loop that never slept";

  sut->busy();  // and one that does sleep is woken by the next ring
  ASSERT_TRUE(sut->idle(t0 + 1h, no_data, nullptr));
  std::thread ringer([&] {
    while (!sut->announced_sleep()) std::this_thread::yield();  // asleep, or about to be
    (void)pub->publish(test::Reading{2, 20.0, {}});
  });
  const auto slept = std::chrono::steady_clock::now();
  EXPECT_TRUE(sut->wait(10s));
  ringer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - slept, 5s) << "a sleeping loop was not woken by a publish";
  EXPECT_TRUE(sut->rang());
  EXPECT_EQ(VirtualClock::now(), t0) << "the busy guard holds time";
  sut.value() = detail::LockstepParticipant();
  guard.value() = detail::LockstepParticipant();
  ASSERT_TRUE(VirtualClock::set_stepped());
}

// A loop that stopped holds no lockstep time: run() returned, its place is
// given up (and taken again if it runs again).
TEST_F(ClockTest, AStoppedLoopNoLongerHoldsLockstepTime) {
  auto node = Node::connect("stopped-loop-test");
  ASSERT_TRUE(node);
  ASSERT_TRUE(VirtualClock::set_stepped());
  auto loop = EventLoop::create(*node);
  ASSERT_TRUE(loop);
  EXPECT_EQ(VirtualClock::status().participants, 1U);
  loop->at(VirtualClock::now() + 1s, [&] { loop->stop(); });
  ASSERT_TRUE(VirtualClock::set_lockstep());
  ASSERT_TRUE(loop->run());  // jumps to its timer, which stops it
  EXPECT_EQ(VirtualClock::status().participants, 0U) << "a stopped loop still holds lockstep time for the bus";
  ASSERT_TRUE(VirtualClock::set_stepped());
}

// Reaping a dead process's lockstep place never frees a live one's: a
// reaper that read the row before it was freed and claimed again fails its
// compare-and-swap. Made to happen: a hook runs the second reaping and the
// new claim inside the first one's window.
// A process's lockstep places go with its death, proven by the kernel (its
// pidfd, held by the daemon's registry), and no other process's place does.
TEST_F(ClockTest, ADeadProcesssLoopPlacesAreFreedAndNoOther) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  auto mine = detail::LockstepParticipant::join();
  ASSERT_TRUE(mine && mine->joined());
  auto loop = ChildProcess::spawn({STATEBUS_TEST_CHILD, "loop-ticks", "dying-loop"});
  ASSERT_TRUE(loop);
  ASSERT_EQ(loop->read_line(10s), "ready") << loop->describe();
  EXPECT_EQ(VirtualClock::status().participants, 2U);
  ASSERT_TRUE(loop->signal(SIGKILL));
  ASSERT_TRUE(loop->wait(10s));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (VirtualClock::status().participants != 1U && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(daemon_->wait_for_round(2s));
  }
  EXPECT_EQ(VirtualClock::status().participants, 1U) << "the dead loop's place is still taken, or ours went too";
  EXPECT_TRUE(mine->joined());
}

TEST_F(ClockTest, LockstepWithoutLoopsStandsAndRefusesAPastStop) {
  const auto t0 = VirtualClock::now();
  ASSERT_TRUE(VirtualClock::set_lockstep(t0 + 1h));
  EXPECT_EQ(VirtualClock::status().mode, ClockMode::lockstep);
  EXPECT_LE(VirtualClock::now(), t0 + 1h);
  const auto stood = VirtualClock::now();
  EXPECT_EQ(VirtualClock::now(), stood);  // no participant with a deadline: nothing moves
  ASSERT_TRUE(VirtualClock::advance(10min));  // a driver may still step
  EXPECT_EQ(VirtualClock::now(), stood + 10min);
  auto past = VirtualClock::set_lockstep(stood - 1s);
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().message().find("past"), std::string::npos) << past.error().message();
}

TEST_F(ClockTest, LockstepDropsALoopWhoseProcessDied) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  auto node = Node::connect("lockstep-driver");
  ASSERT_TRUE(node);
  auto report = Publisher<test::Reading>::create(*node, "test/report");
  ASSERT_TRUE(report);
  auto doomed = ChildProcess::spawn({STATEBUS_TEST_CHILD, "loop-ticks", "doomed"});
  auto survivor = ChildProcess::spawn({STATEBUS_TEST_CHILD, "loop-ticks", "survivor"});
  ASSERT_TRUE(doomed && survivor);
  ASSERT_EQ(doomed->read_line(10s), "ready");
  ASSERT_EQ(survivor->read_line(10s), "ready");
  ASSERT_TRUE(report->wait_for_subscribers(10s));
  EXPECT_EQ(VirtualClock::status().participants, 2U);

  // Frozen wherever it is, the doomed loop holds lockstep time; killed, it
  // must be dropped, and the survivor's timer drives time to the stop mark.
  ASSERT_TRUE(doomed->signal(SIGSTOP));
  ASSERT_TRUE(VirtualClock::set_lockstep(t0 + 1h));
  ASSERT_TRUE(doomed->signal(SIGKILL));
  auto reached = std::async(std::launch::async, [&] { VirtualClock::sleep_until(t0 + 1h); });
  const bool in_time = reached.wait_for(30s) == std::future_status::ready;
  if (!in_time) {  // free the sleeper before failing
    ASSERT_TRUE(VirtualClock::set_stepped());
    ASSERT_TRUE(VirtualClock::advance_to(t0 + 1h));
  }
  ASSERT_TRUE(in_time) << "lockstep time stuck at " << (VirtualClock::now() - t0).count() << " ns";
  EXPECT_EQ(VirtualClock::status().participants, 1U);
  ASSERT_TRUE(report->publish(test::Reading{}));
  EXPECT_EQ(survivor->read_line(10s), "ticks 3600 in order");
}

// The clock's driver SIGKILLed at random moments, mid-change or between
// changes, 40 times: readers are never stuck, time never goes back, and the
// next driver takes over at once.
TEST_F(ClockTest, ADriverKilledAtRandomMomentsNeverStopsOrBreaksTheClock) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> lines_before_kill(1, 4);
  auto last = VirtualClock::now();
  // 40 kills, and on until at least 3 landed inside a change (at most 400).
  int mid_change = 0;
  int kill = 0;
  for (; kill < 400 && (kill < 40 || mid_change < 3); ++kill) {
    auto driver = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-churn", "driver"});
    ASSERT_TRUE(driver);
    for (int line = lines_before_kill(random); line > 0; --line) ASSERT_EQ(driver->read_line(10s), "n");
    ASSERT_TRUE(driver->signal(SIGKILL));
    ASSERT_TRUE(driver->wait(10s));
    if (detail::clock_change_pending()) ++mid_change;  // before any read here finishes it

    const auto seen = VirtualClock::now();  // returns: a dead writer is not waited for
    EXPECT_GE(seen, last) << "time went back after kill " << kill;
    EXPECT_GT(seen, last) << "the driver's steps before kill " << kill << " were lost";
    ASSERT_TRUE(VirtualClock::advance(1s)) << "after kill " << kill;
    EXPECT_EQ(VirtualClock::now(), seen + 1s) << "the next driver's step, exactly";
    last = VirtualClock::now();
  }
  EXPECT_GE(mid_change, 3) << "only " << mid_change << " of " << kill << " kills landed inside a change";
  std::printf("%d kills, %d inside a change\n", kill, mid_change);
  EXPECT_EQ(VirtualClock::status().mode, ClockMode::stepped);
}

// A writer killed inside a change leaves the change pending: the next
// reader ends it (one try of the writer's lock), instead of every read on
// the bus standing at the change's instant until someone changes the clock.
TEST_F(ClockTest, AWriterKilledMidChangeIsFinishedByTheNextReader) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto before = VirtualClock::now();
  auto writer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-stall", "stalled-writer"});
  ASSERT_TRUE(writer);
  ASSERT_EQ(writer->read_line(10s), "inside a change") << writer->describe();  // a hook stops it there
  ASSERT_TRUE(detail::clock_change_pending());
  ASSERT_TRUE(writer->signal(SIGKILL));
  ASSERT_TRUE(writer->wait(10s));
  ASSERT_TRUE(detail::clock_change_pending()) << "nobody has finished the dead writer's change yet";

  EXPECT_EQ(VirtualClock::now(), before) << "the dead writer published nothing";
  EXPECT_FALSE(detail::clock_change_pending()) << "the reader left the dead writer's change pending";
  ASSERT_TRUE(VirtualClock::advance(1s));
  EXPECT_EQ(VirtualClock::now(), before + 1s);
}

// The writer lock is the kernel's robust mutex: when its holder dies, exactly
// one waiter inherits it; two waiters never change the clock at once.
TEST_F(ClockTest, WritersWaitingForADeadHolderNeverChangeTheClockAtOnce) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto before = VirtualClock::now();
  const std::string counters = ::testing::TempDir() + "clock-writers-" + std::to_string(::getpid());
  std::ofstream(counters) << std::string(4096, '\0');
  auto holder = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-stall", "holder"});
  ASSERT_TRUE(holder);
  ASSERT_EQ(holder->read_line(10s), "inside a change") << holder->describe();
  constexpr int kSteps = 3000;
  std::vector<ChildProcess> writers;
  for (const char* name : {"writer-a", "writer-b", "writer-c"}) {
    auto writer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-exclusive", name, std::to_string(kSteps), counters});
    ASSERT_TRUE(writer);
    ASSERT_EQ(writer->read_line(10s), "ready") << writer->describe();
    writers.push_back(std::move(*writer));
  }
  ASSERT_TRUE(holder->signal(SIGKILL));  // with three writers waiting for its lock
  ASSERT_TRUE(holder->wait(10s));
  for (ChildProcess& writer : writers) EXPECT_EQ(writer.read_line(60s), "overlaps 0") << writer.describe();
  EXPECT_EQ(VirtualClock::now(), before + std::chrono::nanoseconds(3 * kSteps)) << "every step once, none lost";
  std::remove(counters.c_str());
}

TEST_F(ClockTest, CommandShowsAndChangesTheClock) {
  using test::run_cli;
  auto [out, code] = run_cli({"clock", "--stepped"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out.rfind("mode stepped  rate 0  virtual time ", 0), 0U) << out;
  const auto before = VirtualClock::now();
  std::tie(out, code) = run_cli({"clock", "--step", "1h30m"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(VirtualClock::now(), before + 90min);
  std::tie(out, code) = run_cli({"clock", "--lockstep", "--until", "24h"});
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("lockstep: 0 event loops, "), std::string::npos) << out;
  EXPECT_EQ(VirtualClock::status().until, before + 90min + 24h);
  std::tie(out, code) = run_cli({"clock", "--rate", "86400"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out.rfind("mode scaled  rate 86400  ", 0), 0U) << out;
}

TEST_F(ClockTest, CommandRefusesBadValuesSayingWhy) {
  using test::run_cli;
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"clock", "--rate", "-2"}, "clock rate '-2': a rate has no sign"},
      {{"clock", "--rate", "1e10"}, "0 (paused) or 0.001 to 1000000"},
      {{"clock", "--rate", "fast"}, "clock rate 'fast': not a number"},
      {{"clock", "--stepped", "--pause"}, "give one of"},
      {{"clock", "--until", "1h"}, "--until goes with --lockstep"},
      {{"clock", "--lockstep", "--until", "soon"}, "soon"},
      {{"clock", "--lockstep", "--until", "9223372036854775807ns"}, "passes the end of virtual time"},
      {{"clock", "--rate", "-0"}, "clock rate '-0': a rate has no sign"},
      {{"clock", "--rate", ""}, "clock rate '': empty"},
  };
  for (const Case& c : cases) {
    std::string errors;
    const auto [out, code] = run_cli(c.args, &errors);
    EXPECT_NE(code, 0) << c.args[1];
    EXPECT_NE(errors.find(c.says), std::string::npos) << c.args[1] << ": " << errors;
  }
  ASSERT_TRUE(VirtualClock::set_real());
  std::string errors;
  const auto [out, code] = run_cli({"clock", "--step", "90s"}, &errors);
  EXPECT_EQ(code, 2);
  EXPECT_NE(errors.find("needs stepped mode"), std::string::npos) << errors;
  EXPECT_EQ(VirtualClock::status().mode, ClockMode::real) << "a refused change changes nothing";
  // The longest duration is read exactly (not "negative" through a double)
  // and refused as passing the end of virtual time; stepped time stays.
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto before = VirtualClock::now();
  errors.clear();
  const auto [long_out, long_code] = run_cli({"clock", "--step", "9223372036854775807ns"}, &errors);
  EXPECT_EQ(long_code, 2) << long_out;
  EXPECT_NE(errors.find("advancing by 106751d 23:47:16.854 would pass the end of virtual time"), std::string::npos)
      << errors;
  EXPECT_EQ(VirtualClock::now(), before);
}

TEST_F(ClockTest, LoopRunsAtTimersAndEveryTicksOnScaledTime) {
  auto node = Node::connect("loop-local");
  ASSERT_TRUE(node);
  ASSERT_TRUE(VirtualClock::pause());  // time stands while the timers are set
  auto sut = EventLoop::create(*node);
  ASSERT_TRUE(sut);
  const auto start = VirtualClock::now();
  std::vector<VirtualClock::time_point> ticks;
  VirtualClock::time_point fired{};
  sut->every(1min, [&] { ticks.push_back(sut->tick_time()); });
  sut->at(start + 30min + 30s, [&] {
    fired = VirtualClock::now();
    sut->stop();
  });

  ASSERT_TRUE(VirtualClock::set_rate(3600.0));  // a minute per 1/60 s
  sut->run();

  EXPECT_GE(fired, start + 30min + 30s);
  ASSERT_EQ(ticks.size(), 30U) << "ticks at 1 … 30 min, all before the at() at 30.5 min";
  for (std::size_t i = 0; i < ticks.size(); ++i) EXPECT_EQ(ticks[i], ticks[0] + std::chrono::minutes(i));
}

TEST_F(ClockTest, LoopStopsFromAnotherThread) {
  auto node = Node::connect("loop-stopper");
  ASSERT_TRUE(node);
  ASSERT_TRUE(VirtualClock::set_stepped());  // nothing would ever wake it but stop()
  auto sut = EventLoop::create(*node);
  ASSERT_TRUE(sut);
  sut->every(1h, [] {});
  std::atomic<bool> running{false};
  std::thread loop([&] {
    running = true;
    sut->run();
  });
  while (!running) std::this_thread::yield();

  sut->stop();

  loop.join();
  SUCCEED() << "run() returned";
}

using ClockWithoutDaemon = testkit::PrivateBusTest;

// Reaches: VirtualClock::set_rate Errc::no_daemon
TEST_F(ClockWithoutDaemon, RunsOnRealTimeAndRefusesChangesNamingTheDaemon) {
  const auto attached = VirtualClock::attach();
  ASSERT_FALSE(attached);
  EXPECT_NE(attached.error().message().find("statebus daemon"), std::string::npos);
  EXPECT_FALSE(VirtualClock::status().shared);
  const auto change = VirtualClock::set_rate(2.0);
  ASSERT_FALSE(change);
  EXPECT_EQ(change.error().code(), Errc::no_daemon);
}

TEST_F(ClockWithoutDaemon, RefusesAForeignSegment) {
  { std::ofstream("/dev/shm/statebus-clock") << std::string(200, 'x'); }
  const auto sut = VirtualClock::attach();
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("foreign"), std::string::npos) << sut.error().message();
}

}  // namespace
}  // namespace statebus
