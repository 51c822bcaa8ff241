// The `statebus daemon` command, run as a separate process.
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sleep_probe.hpp"
#include "statebus/bus.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;
using DaemonCommand = testkit::PrivateBusTest;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

// Starts `statebus daemon` (with `options`) and waits for its ready line.
// `own_session`: in a session of its own, as a daemon usually runs (setsid(1)
// execs it under the same pid), so that only a signal sent to it reaches it,
// never one meant for this test's process group or session.
Result<ChildProcess> start_daemon(const std::vector<std::string>& options = {}, bool own_session = false) {
  std::vector<std::string> argv = {STATEBUS_CLI, "daemon"};
  if (own_session) argv.insert(argv.begin(), "/usr/bin/setsid");
  argv.insert(argv.end(), options.begin(), options.end());
  auto daemon = ChildProcess::spawn(argv);
  if (!daemon) return daemon;
  std::optional<std::string> line;
  std::string before;  // anything it printed first, for the message
  while ((line = daemon->read_line(20s)) && line->rfind("statebus daemon ready", 0) != 0) before += *line + "|";
  if (!line) {
    line = before;
    const auto status = daemon->wait(1s);
    return fail(Errc::system_error,
                "the daemon printed no ready line but '" + line.value_or("") + "'; wait status " +
                    (status ? std::to_string(*status) : std::string("(still running)")) +
                    "; its stderr: " + daemon->read_stderr(1s));
  }
  return daemon;
}

bool exited_with(const std::optional<int>& status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

TEST_F(DaemonCommand, ServesClientsAndStopsCleanlyOnSigterm) {
  auto started = start_daemon();
  ASSERT_TRUE(started) << started.error().message();
  ChildProcess& sut = *started;
  const auto info = find_daemon();
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->pid, sut.pid());
  auto client = ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "client", "1000"});
  ASSERT_TRUE(client);
  EXPECT_EQ(client->read_line(10s), "ok");
  EXPECT_TRUE(exited_with(client->wait(10s), 0));

  ASSERT_TRUE(sut.signal(SIGTERM));

  EXPECT_TRUE(exited_with(sut.wait(10s), 0));
  std::string last;
  while (auto line = sut.read_line(5s)) last = *line;  // to the end of its output
  EXPECT_EQ(last, "statebus daemon stopped (SIGTERM)");
  EXPECT_FALSE(exists("/dev/shm/iceoryx_mgmt"));
  EXPECT_FALSE(find_daemon());
}

// iceoryx's runtime says goodbye to its daemon at exit and waits for the
// answer without a timeout. A daemon that stops after its last read leaves
// the goodbye unanswered: the process must end all the same. Made to
// happen: the daemon freezes right after it told its processes it stops,
// before RouDi's last answers.
TEST_F(DaemonCommand, AProcessWhoseDaemonStoppedEndsWithoutWaitingForAnAnswer) {
  auto daemon = ChildProcess::spawn({STATEBUS_TEST_CHILD, "stalling-daemon", "daemon"});
  ASSERT_TRUE(daemon);
  ASSERT_EQ(daemon->read_line(20s), "ready") << daemon->describe();
  auto client = ChildProcess::spawn({STATEBUS_TEST_CHILD, "hold", "leaving-client"});
  ASSERT_TRUE(client);
  ASSERT_EQ(client->read_line(10s), "ready") << client->describe();
  ASSERT_TRUE(daemon->write("stop\n"));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  auto state = [&] {
    std::ifstream stat("/proc/" + std::to_string(daemon->pid()) + "/stat");
    std::string text;
    std::getline(stat, text);
    const auto paren = text.rfind(')');
    return paren == std::string::npos ? '?' : text[paren + 2];
  };
  while (state() != 'T' && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(state(), 'T') << "the daemon never froze after its goodbye";
  client->close_stdin();  // it ends: its runtime's goodbye goes to a RouDi that reads no more
  const auto status = client->wait(10s);
  EXPECT_TRUE(exited_with(status, 0)) << "the client hung at exit waiting for an answer: " << client->describe();
  daemon->signal(SIGKILL);
}

TEST_F(DaemonCommand, RefusesAWedgeTimeoutShorterThanRouDiNeedsSayingWhy) {
  auto sut = ChildProcess::spawn({STATEBUS_CLI, "daemon", "--wedge-timeout", "200"});
  ASSERT_TRUE(sut);
  EXPECT_TRUE(exited_with(sut->wait(10s), 2)) << "a bad value on the command line";
  const std::string error = sut->read_stderr(1s);
  EXPECT_TRUE(contains(error, "wedge timeout of 200 ms is shorter than 500 ms")) << error;
  EXPECT_TRUE(contains(error, "give 500 ms or more")) << error;
  EXPECT_FALSE(find_daemon());
}

// A daemon paused (SIGSTOP) for longer than its wedge timeout is not judged
// wedged when it goes on (SIGCONT): its clients never notice.
TEST_F(DaemonCommand, APausedDaemonIsNotJudgedWedgedWhenItGoesOn) {
  auto started = start_daemon({"--wedge-timeout", "500"});
  ASSERT_TRUE(started) << started.error().message();
  ChildProcess& sut = *started;
  auto client = ChildProcess::spawn({STATEBUS_TEST_CHILD, "loop-until-lost", "client"});
  ASSERT_TRUE(client);
  ASSERT_EQ(client->read_line(10s), "ready");
  ASSERT_TRUE(sut.signal(SIGSTOP));
  EXPECT_FALSE(sut.read_line(1500ms)) << "a stopped daemon said something";  // three wedge timeouts pass
  ASSERT_TRUE(sut.signal(SIGCONT));
  auto newcomer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "newcomer", "5000"});
  ASSERT_TRUE(newcomer);
  EXPECT_EQ(newcomer->read_line(10s), "ok");
  EXPECT_FALSE(client->wait(0ms)) << "a client of the paused daemon lost its bus: " << client->describe();
  ASSERT_TRUE(sut.signal(SIGTERM));
  EXPECT_TRUE(exited_with(sut.wait(10s), 0));
  const std::string errors = sut.read_stderr(1s);
  EXPECT_FALSE(contains(errors, "no progress")) << errors;
  EXPECT_FALSE(contains(errors, "starting a new daemon")) << errors;
}

// A process that uses only cells and the clock (no Node, no EventLoop)
// learns that its daemon stopped or was replaced, instead of going on
// alone with the old segments.
// Reaches: UntypedCell::bus_health Errc::no_daemon
// Reaches: UntypedCell::bus_health Errc::stale_bus
// Reaches: VirtualClock::bus_health Errc::no_daemon
// Reaches: VirtualClock::bus_health Errc::stale_bus
// Reaches: UntypedCell::wait_for_change_until Errc::no_daemon
// Reaches: UntypedCell::wait_for_change_until Errc::stale_bus
TEST_F(DaemonCommand, CellsAndTheClockOfAStoppedOrReplacedDaemonSaySo) {
  auto first = start_daemon();
  ASSERT_TRUE(first) << first.error().message();
  auto cell = Cell<test::Counter>::open_or_create("test/split");
  ASSERT_TRUE(cell) << cell.error().message();
  EXPECT_TRUE(cell->bus_health());
  EXPECT_TRUE(VirtualClock::bus_health());
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto version = cell->version();
  const auto far = VirtualClock::now() + std::chrono::hours(1);
  ASSERT_TRUE(first->signal(SIGTERM));
  ASSERT_TRUE(exited_with(first->wait(10s), 0));
  const auto stopped = cell->bus_health();
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code(), Errc::no_daemon);
  // Nobody can store or step the clock any more: a wait says so, never
  // waits for ever on the standing clock.
  const Waited waited = cell->wait_for_change_until(version, far);
  ASSERT_EQ(waited.status(), Waited::Status::failed) << to_string(waited.status());
  EXPECT_EQ(waited.error().code(), Errc::no_daemon);
  EXPECT_TRUE(contains(stopped.error().message(), "was removed")) << stopped.error().message();
  const auto clock_stopped = VirtualClock::bus_health();
  ASSERT_FALSE(clock_stopped);
  EXPECT_EQ(clock_stopped.error().code(), Errc::no_daemon);

  auto second = start_daemon();
  ASSERT_TRUE(second) << second.error().message();
  const auto replaced = cell->bus_health();
  ASSERT_FALSE(replaced);
  EXPECT_EQ(replaced.error().code(), Errc::stale_bus);
  EXPECT_TRUE(contains(replaced.error().message(), "replaced by a new daemon")) << replaced.error().message();
  const Waited on_replaced = cell->wait_for_change(version, virtual_timeout(std::chrono::hours(1)));
  ASSERT_EQ(on_replaced.status(), Waited::Status::failed) << to_string(on_replaced.status());
  EXPECT_EQ(on_replaced.error().code(), Errc::stale_bus);
  const auto clock = VirtualClock::bus_health();
  ASSERT_FALSE(clock);
  EXPECT_EQ(clock.error().code(), Errc::stale_bus);
  EXPECT_TRUE(contains(clock.error().message(), "clock")) << clock.error().message();
}

// Waits end three ways: ready, timed out, or failed. Once the bus is gone
// nothing can come, so a wait says so instead of running out its time (or,
// on a clock that stands, waiting for ever); what was queued before is
// still handed out first.
// Reaches: Subscriber::wait Errc::no_daemon
// Reaches: Subscriber::wait_until Errc::no_daemon
// Reaches: Publisher::wait_for_subscribers Errc::no_daemon
// Reaches: Subscriber::wait Errc::stale_bus
// Reaches: Subscriber::wait_until Errc::stale_bus
// Reaches: Publisher::wait_for_subscribers Errc::stale_bus
// Reaches: WaitSet::wait Errc::no_daemon
// Reaches: WaitSet::wait Errc::stale_bus
TEST_F(DaemonCommand, WaitsOnAStoppedDaemonsBusFailSayingSoAfterWhatWasQueued) {
  auto daemon = start_daemon();
  ASSERT_TRUE(daemon) << daemon.error().message();
  auto node = Node::connect("waiter");
  ASSERT_TRUE(node) << node.error().message();
  auto pub = Publisher<test::Reading>::create(*node, "test/gone");
  ASSERT_TRUE(pub) << pub.error().message();
  auto sub = Subscriber<test::Reading>::create(*node, "test/gone");
  ASSERT_TRUE(sub) << sub.error().message();
  auto lonely = Publisher<test::Reading>::create(*node, "test/nobody-reads");
  ASSERT_TRUE(lonely) << lonely.error().message();
  auto in_set = Subscriber<test::Reading>::create(*node, "test/gone-too");
  ASSERT_TRUE(in_set) << in_set.error().message();
  auto waitset = WaitSet::create(*node);
  ASSERT_TRUE(waitset) << waitset.error().message();
  ASSERT_TRUE(waitset->add(*in_set));
  RecorderOptions recording;
  recording.patterns = {"test/gone"};
  auto recorder = Recorder::start(*node, recording);
  ASSERT_TRUE(recorder) << recorder.error().message();
  ASSERT_TRUE(sub->wait_connected(10s));
  ASSERT_TRUE(recorder->wait_recording("test/gone", 10s));
  test::Reading queued;
  queued.index = 7;
  ASSERT_TRUE(pub->publish(queued));
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto far = VirtualClock::now() + std::chrono::hours(1);
  const Waited before = sub->wait_until(far);
  EXPECT_EQ(before.status(), Waited::Status::ready);
  ASSERT_TRUE(recorder->wait_for_count("test/gone", 1, virtual_timeout(1h)));
  EXPECT_EQ(waitset->wait(0s).status(), Waited::Status::timed_out) << "nothing sent on test/gone-too";

  ASSERT_TRUE(daemon->signal(SIGTERM));
  ASSERT_TRUE(exited_with(daemon->wait(10s), 0));

  const Waited queued_first = sub->wait(5s);
  EXPECT_EQ(queued_first.status(), Waited::Status::ready) << "a sample queued before the daemon stopped";
  auto sample = sub->take();
  ASSERT_TRUE(sample);
  EXPECT_EQ((*sample)->index, 7U);
  for (const Waited& waited :
       {sub->wait(5s), sub->wait_until(far), lonely->wait_for_subscribers(5s), sub->take_for(5s).waited(),
        waitset->wait(5s).waited(), waitset->wait_until(far).waited(),
        // The recorder has its one sample; a second cannot come, and time stands.
        recorder->wait_for_count("test/gone", 2, virtual_timeout(1h)),
        recorder
            ->wait_for<test::Reading>(
                "test/gone", [](const test::Reading& r) { return r.index == 8; }, virtual_timeout(1h))
            .waited()}) {
    ASSERT_EQ(waited.status(), Waited::Status::failed) << to_string(waited.status());
    EXPECT_EQ(waited.error().code(), Errc::no_daemon);
    EXPECT_TRUE(contains(waited.error().message(), "restart")) << waited.error().message();
  }
  EXPECT_EQ(recorder->count("test/gone"), 1U) << "what was recorded stays";

  // A new daemon does not bring the old bus back: this process must restart.
  auto second = start_daemon();
  ASSERT_TRUE(second) << second.error().message();
  for (const Waited& waited :
       {sub->wait(5s), sub->wait_until(far), lonely->wait_for_subscribers(5s), waitset->wait(5s).waited(),
        recorder->wait_for_count("test/gone", 2, virtual_timeout(1h))}) {
    ASSERT_EQ(waited.status(), Waited::Status::failed) << to_string(waited.status());
    EXPECT_EQ(waited.error().code(), Errc::stale_bus);
  }
}

// The other side of the test above: a daemon that is alive but stopped
// (SIGSTOP, a debugger) is never taken for gone. Waits on its bus time out,
// never fail, and the data path, which needs no daemon, goes on: a sample
// published meanwhile arrives whole.
TEST_F(DaemonCommand, WaitsOnAStoppedButLiveDaemonsBusTimeOutAndDataStillFlows) {
  auto daemon = start_daemon({}, /*own_session=*/true);  // stopped for a while: keep others' signals away
  ASSERT_TRUE(daemon) << daemon.error().message();
  auto node = Node::connect("patient");
  ASSERT_TRUE(node) << node.error().message();
  auto pub = Publisher<test::Reading>::create(*node, "test/paused");
  auto sub = Subscriber<test::Reading>::create(*node, "test/paused");
  auto in_set = Subscriber<test::Reading>::create(*node, "test/paused-too");
  auto waitset = WaitSet::create(*node);
  ASSERT_TRUE(pub && sub && in_set && waitset);
  ASSERT_TRUE(waitset->add(*in_set));
  RecorderOptions recording;
  recording.patterns = {"test/paused"};
  auto recorder = Recorder::start(*node, recording);
  ASSERT_TRUE(recorder) << recorder.error().message();
  ASSERT_TRUE(sub->wait_connected(10s));
  ASSERT_TRUE(recorder->wait_recording("test/paused", 10s));
  // A first sample while the daemon runs: the recorder learns the type's
  // schema from the daemon, which it could not ask while it is stopped.
  test::Reading first;
  first.index = 40;
  ASSERT_TRUE(pub->publish(first));
  ASSERT_TRUE(recorder->wait_for_count("test/paused", 1, virtual_timeout(10s)));
  ASSERT_TRUE(sub->take()) << "one publish fills every queue";  // no wait: sub's first is below

  const auto info = find_daemon();
  ASSERT_TRUE(info) << info.error().message();
  ASSERT_EQ(info->pid, daemon->pid()) << "setsid ran the daemon under its own pid";
  ASSERT_TRUE(daemon->signal(SIGSTOP));
  ASSERT_TRUE(test::stopped_within(daemon->pid(), 10s)) << "the daemon never stopped";
  struct Continue {
    ChildProcess& daemon;
    ~Continue() { daemon.signal(SIGCONT); }
  } resume{*daemon};
  // Each wait outlasts a look at the bus (0.1 s slices; the recorder's on
  // a real-time clock looks once a slice passes unwoken).
  for (const Waited& waited : {sub->wait(300ms), sub->take_for(300ms).waited(), waitset->wait(300ms).waited(),
                               recorder->wait_for_count("test/paused", 2, virtual_timeout(1500ms))}) {
    EXPECT_EQ(waited.status(), Waited::Status::timed_out)
        << to_string(waited.status()) << ": " << (waited.failed() ? waited.error().message() : "");
  }
  EXPECT_TRUE(node->bus_health()) << "a stopped daemon is alive";

  test::Reading sent;
  sent.index = 41;
  sent.celsius = 19.25;
  std::snprintf(sent.room, sizeof(sent.room), "%s", "attic");
  ASSERT_TRUE(pub->publish(sent));
  auto got = sub->take_for(10s);
  ASSERT_TRUE(got) << to_string(got.status());
  EXPECT_EQ(got->value().index, 41U);
  EXPECT_EQ(got->value().celsius, 19.25);
  EXPECT_STREQ(got->value().room, "attic");
  const auto recorded = recorder->wait_for<test::Reading>(
      "test/paused", [](const test::Reading& r) { return r.index == 41; }, virtual_timeout(10s));
  ASSERT_TRUE(recorded) << to_string(recorded.status());
  EXPECT_STREQ(recorded->value.room, "attic");

  ASSERT_TRUE(daemon->signal(SIGCONT));
  ASSERT_TRUE(daemon->signal(SIGTERM));
  EXPECT_TRUE(exited_with(daemon->wait(10s), 0)) << "the daemon, continued, stops cleanly";
}

TEST_F(DaemonCommand, StopsCleanlyOnSigint) {
  auto started = start_daemon();
  ASSERT_TRUE(started) << started.error().message();
  ChildProcess& sut = *started;
  ASSERT_TRUE(sut.signal(SIGINT));
  EXPECT_TRUE(exited_with(sut.wait(10s), 0));
  EXPECT_FALSE(find_daemon());
}

TEST_F(DaemonCommand, SecondDaemonRefusesAndNamesTheFirstOnesPid) {
  auto started = start_daemon();
  ASSERT_TRUE(started) << started.error().message();
  ChildProcess& first = *started;

  auto sut = ChildProcess::spawn({STATEBUS_CLI, "daemon"});
  ASSERT_TRUE(sut);

  EXPECT_TRUE(exited_with(sut->wait(10s), 1));
  const std::string message = sut->read_stderr(5s);
  EXPECT_TRUE(contains(message, "already running (pid " + std::to_string(first.pid()) + ")")) << message;
  const auto info = find_daemon();
  ASSERT_TRUE(info) << "the first daemon must be untouched";
  EXPECT_EQ(info->pid, first.pid());
}

TEST_F(DaemonCommand, RemovesWhatAKilledDaemonLeftAndSaysSo) {
  {
    auto killed = start_daemon();
    ASSERT_TRUE(killed) << killed.error().message();
    ASSERT_TRUE(killed->signal(SIGKILL));
    ASSERT_TRUE(killed->wait(10s));
  }
  ASSERT_TRUE(exists("/dev/shm/iceoryx_mgmt")) << "a SIGKILLed daemon leaves its segments";
  ASSERT_TRUE(exists("/tmp/roudi"));

  auto started = start_daemon();
  ASSERT_TRUE(started) << started.error().message();
  ChildProcess& sut = *started;
  auto client = ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "after-crash", "1000"});
  ASSERT_TRUE(client);
  EXPECT_EQ(client->read_line(10s), "ok");
  ASSERT_TRUE(sut.signal(SIGTERM));
  ASSERT_TRUE(exited_with(sut.wait(10s), 0));

  const std::string messages = sut.read_stderr(5s);
  // One line for all of it.
  const auto said = messages.find("removed ");
  ASSERT_NE(said, std::string::npos) << messages;
  const std::string line = messages.substr(said, messages.find('\n', said) - said);
  EXPECT_TRUE(contains(line, "stale files (left by daemon pid ")) << line;
  EXPECT_TRUE(contains(line, "/dev/shm/iceoryx_mgmt")) << line;
  EXPECT_TRUE(contains(line, "/tmp/roudi")) << line;
  EXPECT_EQ(messages.find("removed ", said + 1), std::string::npos) << "more than one line: " << messages;
}

// Waits for the "lost …" line of a loop-until-lost child.
std::optional<std::string> lost_line(ChildProcess& child, std::chrono::milliseconds timeout) {
  auto line = child.read_line(timeout);
  if (line && line->rfind("lost ", 0) != 0) return "unexpected line: " + *line;
  return line;
}

// The client's event loop fails with its node's bus_health() error.
// Reaches: EventLoop::run Errc::no_daemon
// Reaches: Node::bus_health Errc::no_daemon
TEST_F(DaemonCommand, ProcessesLearnFromTheirNextHealthChecksThatTheDaemonDied) {
  auto daemon = start_daemon();
  ASSERT_TRUE(daemon) << daemon.error().message();
  auto client = ChildProcess::spawn({STATEBUS_TEST_CHILD, "loop-until-lost", "orphan"});
  ASSERT_TRUE(client);
  ASSERT_EQ(client->read_line(10s), "ready");

  ASSERT_TRUE(daemon->signal(SIGKILL));
  const auto killed = std::chrono::steady_clock::now();
  const auto line = lost_line(*client, 10s);
  const auto noticed = std::chrono::steady_clock::now() - killed;

  ASSERT_TRUE(line) << "the client never noticed";
  EXPECT_TRUE(contains(*line, "lost " + std::string(to_string(Errc::no_daemon)))) << *line;
  EXPECT_TRUE(contains(*line, "pid " + std::to_string(daemon->pid()))) << *line;
  EXPECT_TRUE(contains(*line, "is gone")) << *line;
  EXPECT_LT(noticed, 2s) << "the event loop checks ten times a second: many checks passed";
  std::printf("noticed the dead daemon after %.0f ms\n", std::chrono::duration<double, std::milli>(noticed).count());
  EXPECT_TRUE(exited_with(client->wait(10s), 0));
}

// A process that outlives its daemon by more than iceoryx's keep-alive
// period (300 ms: its runtime then sends to a daemon that is gone) says
// nothing of iceoryx's failed sends: it learns of the end from bus_health().
TEST_F(DaemonCommand, AProcessOutlivingItsDaemonPrintsNoIceoryxReports) {
  auto daemon = start_daemon();
  ASSERT_TRUE(daemon) << daemon.error().message();
  auto client = ChildProcess::spawn({STATEBUS_TEST_CHILD, "hold", "outliving"});
  ASSERT_TRUE(client);
  ASSERT_EQ(client->read_line(10s), "ready") << client->describe();
  // Killed: its socket file stays, and each send is refused (a daemon that
  // stops cleanly leaves that window only for a moment).
  ASSERT_TRUE(daemon->signal(SIGKILL));
  ASSERT_TRUE(daemon->wait(10s));
  // Three keep-alive periods and more: what the client writes meanwhile.
  const std::string said = client->read_stderr(1500ms);
  EXPECT_EQ(said.find(" }  :::  [ "), std::string::npos) << "iceoryx's report of a failed call: " << said;
  client->close_stdin();
  EXPECT_TRUE(client->wait(10s)) << client->describe();
  EXPECT_EQ(client->read_stderr(1s).find(" }  :::  [ "), std::string::npos);
}

// Reaches: EventLoop::run Errc::stale_bus
// Reaches: Node::bus_health Errc::stale_bus
TEST_F(DaemonCommand, AProcessOfTheOldBusLearnsThatANewDaemonReplacedIt) {
  auto old_daemon = start_daemon();
  ASSERT_TRUE(old_daemon) << old_daemon.error().message();
  auto client = ChildProcess::spawn({STATEBUS_TEST_CHILD, "loop-until-lost", "old-bus"});
  ASSERT_TRUE(client);
  ASSERT_EQ(client->read_line(10s), "ready");
  // Held still while its daemon is replaced, so that it sees the new one, not the gap.
  ASSERT_TRUE(client->signal(SIGSTOP));
  ASSERT_TRUE(old_daemon->signal(SIGKILL));
  ASSERT_TRUE(old_daemon->wait(10s));
  auto new_daemon = start_daemon();
  ASSERT_TRUE(new_daemon) << new_daemon.error().message();

  ASSERT_TRUE(client->signal(SIGCONT));
  const auto line = lost_line(*client, 10s);

  ASSERT_TRUE(line);
  EXPECT_TRUE(contains(*line, "lost " + std::string(to_string(Errc::stale_bus)))) << *line;
  EXPECT_TRUE(contains(*line, "replaced by a new daemon (pid " + std::to_string(new_daemon->pid()) + ")")) << *line;
  // New processes join the new bus.
  auto newcomer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "new-bus", "1000"});
  ASSERT_TRUE(newcomer);
  EXPECT_EQ(newcomer->read_line(10s), "ok");
}

// Creating a port on a replaced bus is an error (iceoryx aborted the
// process before); a call that waits for the replaced daemon's answer would
// wait for ever: the process's handler decides what happens (by default,
// status 75).
TEST_F(DaemonCommand, AProcessWaitingForAReplacedDaemonEndsThroughItsHandlerOrWithStatus75) {
  auto old_daemon = start_daemon();
  ASSERT_TRUE(old_daemon) << old_daemon.error().message();
  auto handled = ChildProcess::spawn({STATEBUS_TEST_CHILD, "unanswerable", "handled", "test/handled", "42"});
  auto plain = ChildProcess::spawn({STATEBUS_TEST_CHILD, "unanswerable", "plain", "test/plain"});
  ASSERT_TRUE(handled && plain);
  ASSERT_EQ(handled->read_line(10s), "ready") << handled->describe();
  ASSERT_EQ(plain->read_line(10s), "ready") << plain->describe();
  // Held still while their daemon is replaced, so that they meet the new one.
  ASSERT_TRUE(handled->signal(SIGSTOP) && plain->signal(SIGSTOP));
  ASSERT_TRUE(old_daemon->signal(SIGKILL));
  ASSERT_TRUE(old_daemon->wait(10s));
  auto new_daemon = start_daemon();
  ASSERT_TRUE(new_daemon) << new_daemon.error().message();
  ASSERT_TRUE(handled->signal(SIGCONT) && plain->signal(SIGCONT));
  ASSERT_TRUE(handled->write("create\n"));
  const auto created = handled->read_line(30s);
  ASSERT_TRUE(created) << handled->describe();
  EXPECT_TRUE(contains(*created, "error stale_bus")) << *created;
  ASSERT_TRUE(handled->write("stuck\n") && plain->write("stuck\n"));
  EXPECT_EQ(handled->read_line(30s), "stuck");
  EXPECT_EQ(plain->read_line(30s), "stuck");

  const auto said = handled->read_line(30s);
  ASSERT_TRUE(said) << handled->describe();
  EXPECT_TRUE(contains(*said, "handler: stale_bus")) << *said;
  const auto handled_status = handled->wait(30s);
  ASSERT_TRUE(handled_status && WIFEXITED(*handled_status)) << handled->describe();
  EXPECT_EQ(WEXITSTATUS(*handled_status), 42);
  const auto plain_status = plain->wait(30s);
  ASSERT_TRUE(plain_status && WIFEXITED(*plain_status)) << plain->describe();
  EXPECT_EQ(WEXITSTATUS(*plain_status), 75);
  EXPECT_TRUE(contains(plain->read_stderr(1s), "ending it with status 75")) << plain->describe();
}

// What a daemon says on stderr while a process is SIGKILLed and comes back
// at once under its name: the daemon removes the dead one first, and RouDi's
// goodbye to it cannot be sent, which iceoryx reports.
std::string daemon_stderr_around_a_quick_comeback(const std::vector<std::string>& options) {
  auto daemon = start_daemon(options);
  EXPECT_TRUE(daemon) << daemon.error().message();
  if (!daemon) return {};
  for (int round = 0; round < 2; ++round) {
    auto holder = ChildProcess::spawn({STATEBUS_TEST_CHILD, "hold", "comeback"});
    EXPECT_TRUE(holder);
    EXPECT_EQ(holder->read_line(10s), "ready") << holder->describe();
    EXPECT_TRUE(holder->signal(SIGKILL));
    EXPECT_TRUE(holder->wait(10s));
  }
  EXPECT_TRUE(daemon->signal(SIGTERM));
  EXPECT_TRUE(exited_with(daemon->wait(10s), 0));
  return daemon->read_stderr(5s);
}

// iceoryx's console warnings (colour codes and all) stay out of the
// daemon's output unless asked for with -v.
TEST_F(DaemonCommand, KeepsIceoryxChatterOutOfItsOutputUnlessVerbose) {
  const std::string quiet = daemon_stderr_around_a_quick_comeback({});
  EXPECT_FALSE(contains(quiet, "\033[")) << quiet;
  EXPECT_FALSE(contains(quiet, "POSH__ROUDI_PROCESS_SEND_VIA_IPC_CHANNEL_FAILED")) << quiet;

  const std::string verbose = daemon_stderr_around_a_quick_comeback({"-v"});
  EXPECT_TRUE(contains(verbose, "POSH__ROUDI_PROCESS_SEND_VIA_IPC_CHANNEL_FAILED")) << verbose;
}

TEST_F(DaemonCommand, UnknownOptionIsAUsageError) {
  auto sut = ChildProcess::spawn({STATEBUS_CLI, "daemon", "--pools=huge"});
  ASSERT_TRUE(sut);
  EXPECT_TRUE(exited_with(sut->wait(10s), 2)) << "the usage error's exit status (README: Exit status)";
  EXPECT_TRUE(contains(sut->read_stderr(5s), "--pools")) ;
}

}  // namespace
}  // namespace statebus
