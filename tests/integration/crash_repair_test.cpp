// The daemon repairs only after a death the kernel proves (the pidfd each
// process hands it when it joins), and leaves every live process alone:
// stopped at any point inside its work, in another PID namespace, or seen
// by a daemon out of file descriptors. Every test checks the samples' bytes
// end to end (pattern.hpp): a chunk given to two owners, or freed twice,
// fails it.
#include <dlfcn.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "iceoryx_internals.hpp"  // daemon/src: a port's history, to leave it half updated
#include "iceoryx_posh/internal/mepoo/shared_chunk.hpp"
#include "pattern.hpp"
#include "pid_namespace.hpp"
#include "port_repair.hpp"  // daemon/src: the daemon's ports
#include "sink_count.hpp"
#include "sleep_probe.hpp"
#include "statebus/bus.hpp"
#include "statebus/internal/unique_fd.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::in_own_pid_namespace;
using test::intact;
using test::leaf_of;
using testkit::ChildProcess;

// In the 128 KiB pool (32 chunks): a chunk given back is the next one handed out.
const std::string kSize = "100000";

// Waits until `pid` stops (it said "arming" and stops itself a moment later).
bool stopped_soon(pid_t pid) { return test::stopped_within(pid, 10s); }

// Stands in for another process that loans chunks at the worst moment:
// while armed, each chunk record RouDi gives back (removing a dead
// publisher) is taken again at once, with its chunk (the pools hand out the
// last one given back first), and held. A second release of a history entry
// would then free a chunk under its new owner.
namespace stealer {
std::atomic<bool> armed{false};
iox::mepoo::MemoryManager* memory = nullptr;
iox::mepoo::MemPool* records = nullptr;
std::vector<iox::mepoo::ChunkManagement*> taken;
}  // namespace stealer

class CrashRepair : public testkit::NodeTest {
 protected:
  CrashRepair() : NodeTest("crash-test") {}

  static std::optional<ChildProcess> spawn_ready(std::vector<std::string> argv) {
    auto child = ChildProcess::spawn(std::move(argv));
    EXPECT_TRUE(child) << child.error().message();
    if (!child) return std::nullopt;
    const auto line = child->read_line(20s);
    EXPECT_EQ(line, "ready") << child->describe();
    if (line != "ready") return std::nullopt;
    return std::move(*child);
  }
  // A sink that checks every sample of `channel`, and a publisher of it.
  // Lossless with a queue of 8: a publisher waits for the sink before its
  // samples fill the pool (32 chunks of this size), however slow the sink
  // (ASan: a burst of 50 ran the pool dry while the sink lagged).
  static std::optional<ChildProcess> sink(const std::string& name, const std::string& channel,
                                          std::vector<std::string> options = {"lossless", "queue=8"}) {
    std::vector<std::string> argv{STATEBUS_TEST_CHILD, "patterned-sink", name, channel};
    argv.insert(argv.end(), options.begin(), options.end());
    return spawn_ready(argv);
  }
  static std::optional<ChildProcess> publisher(const std::string& name, const std::string& channel,
                                               const std::string& history = "4") {
    return spawn_ready({STATEBUS_TEST_CHILD, "patterned-publish", name, channel, kSize, history});
  }
  static std::optional<std::string> ask(ChildProcess& child, const std::string& line,
                                        std::chrono::milliseconds timeout = 20s) {
    if (!child.write(line + "\n")) return std::nullopt;
    return child.read_line(timeout);
  }

  // Waits until the daemon has released `more` locks since `before` (rounds of RouDi's, 10 s at most).
  bool released_since(const DaemonRepairs& before, std::uint64_t more) { return released_by(*daemon_, before, more); }
  // Static: callable while the process has no descriptor left. UBSan checks
  // a call of a polymorphic class's member through a pipe, and took a
  // refused pipe for a bad object (a false "invalid vptr").
  static bool released_by(Daemon& daemon, const DaemonRepairs& before, std::uint64_t more) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (daemon.repairs().locks_released < before.locks_released + more) {
      if (std::chrono::steady_clock::now() > deadline || !daemon.wait_for_round(2s)) return false;
    }
    return true;
  }

  // A publisher on `channel` stops or dies at `where` ("lock:taken:kill" …)
  // after 8 samples; returns it once stopped, or reaped when killed.
  std::optional<ChildProcess> publisher_caught(const std::string& name, const std::string& channel,
                                               const std::string& where, const std::string& history = "4") {
    auto pub = publisher(name, channel, history);
    if (!pub) return std::nullopt;
    EXPECT_EQ(ask(*pub, "publish 8"), "sent 8");
    EXPECT_EQ(ask(*pub, "arm " + where), "arming");
    EXPECT_TRUE(pub->write("publish 1\n"));
    if (where.substr(0, where.find(',')).find(":kill") != std::string::npos) {
      const auto status = pub->wait(10s);
      EXPECT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << pub->describe();
    } else {
      EXPECT_TRUE(stopped_soon(pub->pid())) << name << " never stopped at " << where;
    }
    return pub;
  }
};

// A publisher dies holding the lock of its list of subscriber queues (inside
// publish()): the daemon releases it once the kernel reports the death, and
// the channel goes on. A stopped `statebus echo` on another channel holds
// nothing up.
TEST_F(CrashRepair, ALockOfADeadProcessIsReleasedOnceTheKernelReportsTheDeath) {
  auto listener = UntypedSubscriber::create(*node_, "test/elsewhere");
  ASSERT_TRUE(listener);
  auto feeder = publisher("feeder", "test/elsewhere", "0");  // "ready": the listener is there
  ASSERT_TRUE(feeder);
  auto echo = ChildProcess::spawn({STATEBUS_CLI, "echo", "test/elsewhere"});
  ASSERT_TRUE(echo);
  std::optional<std::string> echoed;
  for (int round = 0; round < 100 && !echoed; ++round) {
    ASSERT_EQ(ask(*feeder, "publish 1"), "sent " + std::to_string(round + 1));
    echoed = echo->read_line(100ms);  // the echo prints a sample once it subscribed
  }
  ASSERT_TRUE(echoed) << echo->describe();
  ASSERT_TRUE(echo->signal(SIGSTOP));
  ASSERT_TRUE(stopped_soon(echo->pid()));

  auto sink = this->sink("sink", "test/locked");
  ASSERT_TRUE(sink);
  const DaemonRepairs before = daemon_->repairs();
  auto dead = publisher_caught("dying", "test/locked", "lock:taken:kill");
  ASSERT_TRUE(dead);
  ASSERT_TRUE(released_since(before, 1)) << "the dead publisher's lock was never released";
  const DaemonRepairs after = daemon_->repairs();
  EXPECT_EQ(after.deaths, before.deaths + 1);
  EXPECT_EQ(after.locks_released, before.locks_released + 1);
  ASSERT_EQ(after.release_latency.size(), before.release_latency.size() + 1);
  std::printf("released %.3f ms after the kernel reported the death\n",
              std::chrono::duration<double, std::milli>(after.release_latency.back()).count());

  auto next = publisher("next", "test/locked");
  ASSERT_TRUE(next);
  EXPECT_EQ(ask(*next, "publish 50"), "sent 50");
  EXPECT_EQ(test::sink_checked(*sink, 58), intact(58)) << "8 from the dead publisher, 50 from the next one";
  ASSERT_TRUE(echo->signal(SIGCONT));
}

// A publisher dies holding a subscriber's queue lock (inside its delivery
// to that queue): released after the death; the sample it had queued and
// every later one arrive intact.
TEST_F(CrashRepair, AQueueLockADeadPublisherHeldIsReleasedAndDeliveryGoesOn) {
  auto sink = this->sink("sink", "test/queue");
  ASSERT_TRUE(sink);
  const DaemonRepairs before = daemon_->repairs();
  auto dead = publisher_caught("dying", "test/queue", "lock:queue:kill");
  ASSERT_TRUE(dead);
  ASSERT_TRUE(released_since(before, 2)) << "its own lock and the queue's";
  auto next = publisher("next", "test/queue");
  ASSERT_TRUE(next);
  EXPECT_EQ(ask(*next, "publish 50"), "sent 50");
  EXPECT_EQ(test::sink_checked(*sink, 59), intact(59)) << "9 from the dead publisher (its last was queued), 50 more";
}

// A publisher killed right after it freed a subscriber's queue lock, before
// it woke the publisher waiting for that lock: the waiter would sleep on a
// free lock for ever. After the death the daemon wakes every port lock's
// waiters; each looks again, and the waiting publisher delivers.
TEST_F(CrashRepair, AWaiterAProcessDiedBeforeWakingIsWokenAfterTheDeath) {
  auto sink = this->sink("sink", "test/woken");
  ASSERT_TRUE(sink);
  auto dying = publisher_caught("dying", "test/woken", "lock:queue:stop,lock:left:kill");
  ASSERT_TRUE(dying);  // stopped holding the sink's queue lock
  auto waiting = publisher("waiting", "test/woken");
  ASSERT_TRUE(waiting);
  ASSERT_TRUE(waiting->write("publish 1\n"));  // waits for the queue lock
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  auto asleep_on_a_futex = [&] {
    std::ifstream wchan("/proc/" + std::to_string(waiting->pid()) + "/wchan");
    std::string where;
    std::getline(wchan, where);
    return where.rfind("futex", 0) == 0;
  };
  while (!asleep_on_a_futex() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(asleep_on_a_futex()) << "the second publisher never waited for the queue lock";
  ASSERT_TRUE(dying->signal(SIGCONT));  // it frees the lock, and dies before it wakes the waiter
  const auto status = dying->wait(10s);
  ASSERT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << dying->describe();
  EXPECT_EQ(waiting->read_line(10s), "sent 1") << "the waiter sleeps on a free lock";
  EXPECT_EQ(test::sink_checked(*sink, 10), intact(10)) << "8 and the dead one's ninth, then the waiter's";
}

// A clock writer frozen mid-change (stopped, in a debugger) holds up
// readers of the clock, never the daemon's repairs: in lockstep mode a
// death is repaired all the same.
TEST_F(CrashRepair, AFrozenClockWriterDoesNotHoldUpRepairs) {
  ASSERT_TRUE(VirtualClock::set_lockstep());
  auto sink = this->sink("sink", "test/frozen-clock");
  ASSERT_TRUE(sink);
  auto holder = publisher_caught("holder", "test/frozen-clock", "lock:taken:stop");
  ASSERT_TRUE(holder);
  auto writer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "clock-stall", "frozen-writer"});
  ASSERT_TRUE(writer);
  ASSERT_EQ(writer->read_line(10s), "inside a change") << writer->describe();
  ASSERT_TRUE(writer->signal(SIGSTOP));
  const DaemonRepairs before = daemon_->repairs();
  ASSERT_TRUE(holder->signal(SIGKILL));
  ASSERT_TRUE(holder->wait(10s));
  EXPECT_TRUE(released_since(before, 1)) << "the daemon waited for the frozen clock writer";
  ASSERT_TRUE(writer->signal(SIGKILL));
  ASSERT_TRUE(writer->wait(10s));
  ASSERT_TRUE(VirtualClock::set_real());
}

// Processes stopped inside every window where a guess could take them for
// dead: right after taking a port lock (its list of queues, a subscriber's
// queue), right before leaving one, with a chunk just out of the pool or the
// allocator but in no port's list yet, inside a lossless publish, and (where
// a PID namespace can be made) in a PID namespace of their own. For 15 s,
// ten times the longest grace a guess ever used (RouDi's 1.5 s), nothing of
// theirs is touched while another process loans and publishes from the same
// pool; continued, each finishes its sample, and every byte arrives.
TEST_F(CrashRepair, LiveProcessesStoppedInsideEveryWindowAreLeftAlone) {
  struct Caught {
    std::string where;
    std::optional<ChildProcess> sink;
    std::optional<ChildProcess> publisher;
  };
  std::vector<Caught> caught;
  for (const std::string where : {"lock:taken", "lock:queue", "lock:leaving", "alloc:pool", "alloc:manager"}) {
    const std::string name = where.substr(where.find(':') + 1);
    const std::string channel = "test/live-" + name;
    Caught c{where, sink("sink-" + name, channel), std::nullopt};
    ASSERT_TRUE(c.sink);
    c.publisher = publisher_caught("stopped-" + name, channel, where + ":stop", "0");
    ASSERT_TRUE(c.publisher);
    caught.push_back(std::move(c));
  }
  // Inside a lossless publish: its subscriber reads nothing yet, its queue
  // (2 deep) is full, and the publisher waits in publish() for room.
  auto lossless_sink = sink("sink-lossless", "test/live-lossless", {"lossless", "paused", "queue=2"});
  ASSERT_TRUE(lossless_sink);
  auto waiting = publisher("stopped-lossless", "test/live-lossless", "0");
  ASSERT_TRUE(waiting);
  // Five samples: two fit the queue, the third waits in publish().
  ASSERT_TRUE(waiting->write("publish-saying 5\n"));
  for (const char* line : {"publishing 1", "publishing 2", "publishing 3"}) {
    ASSERT_EQ(waiting->read_line(20s), line) << waiting->describe();
  }
  ASSERT_TRUE(waiting->signal(SIGSTOP));
  ASSERT_TRUE(stopped_soon(waiting->pid()));
  // In a PID namespace of its own, where one can be made.
  std::optional<ChildProcess> ns_sink;
  std::optional<ChildProcess> ns_unshare;
  pid_t ns_holder = 0;
  if (test::can_make_pid_namespace()) {
    ns_sink = sink("sink-ns", "test/live-ns");
    ASSERT_TRUE(ns_sink);
    auto unshared =
        ChildProcess::spawn(in_own_pid_namespace("patterned-publish stopped-ns test/live-ns " + kSize + " 0"));
    ASSERT_TRUE(unshared);
    ASSERT_EQ(unshared->read_line(20s), "ready") << unshared->describe();
    ASSERT_EQ(ask(*unshared, "publish 8"), "sent 8");
    ASSERT_EQ(ask(*unshared, "arm lock:taken:stop"), "arming");
    ASSERT_TRUE(unshared->write("publish 1\n"));
    const auto holder = leaf_of(unshared->pid());
    ASSERT_TRUE(holder);
    ns_holder = *holder;
    ASSERT_TRUE(stopped_soon(ns_holder));
    ns_unshare = std::move(*unshared);
  } else {
    std::printf("no PID namespace can be made here: the holder in one is not tried\n");
  }

  // While they are stopped: another process loans from the same pool,
  // again and again, and its samples arrive intact.
  const DaemonRepairs before = daemon_->repairs();
  auto other_sink = sink("sink-other", "test/live-other");
  ASSERT_TRUE(other_sink);
  auto other = publisher("other", "test/live-other");
  ASSERT_TRUE(other);
  std::uint64_t others = 0;
  const auto until = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(ask(*other, "publish 8"), "sent " + std::to_string(others += 8));
    ASSERT_EQ(test::sink_checked(*other_sink, others), intact(others));
    ASSERT_TRUE(daemon_->wait_for_round(2s));
    EXPECT_EQ(daemon_->repairs().locks_released, before.locks_released) << "a live process's lock was released";
  }
  const DaemonRepairs after = daemon_->repairs();
  EXPECT_EQ(after.deaths, before.deaths);
  EXPECT_EQ(after.locks_released, before.locks_released);
  EXPECT_TRUE(daemon_->health()) << daemon_->health().error().message();

  // Continued: each finishes the sample it was stopped in.
  for (Caught& c : caught) {
    ASSERT_TRUE(c.publisher->signal(SIGCONT));
    EXPECT_EQ(c.publisher->read_line(20s), "sent 9") << c.where << ": " << c.publisher->describe();
    EXPECT_EQ(test::sink_checked(*c.sink, 9), intact(9)) << c.where;
  }
  ASSERT_TRUE(waiting->signal(SIGCONT));
  ASSERT_TRUE(lossless_sink->write("go\n"));
  for (const char* line : {"publishing 4", "publishing 5", "sent 5"}) EXPECT_EQ(waiting->read_line(20s), line);
  EXPECT_EQ(test::sink_checked(*lossless_sink, 5), intact(5));
  if (ns_holder != 0) {
    ASSERT_EQ(::kill(ns_holder, SIGCONT), 0);
    EXPECT_EQ(ns_unshare->read_line(20s), "sent 9");
    EXPECT_EQ(test::sink_checked(*ns_sink, 9), intact(9));
  }
  EXPECT_EQ(daemon_->repairs().locks_released, before.locks_released);
}

// A process in a PID namespace of its own (a container sharing /tmp and
// /dev/shm) is handled exactly: its pidfd names it whatever its pids, so its
// locks are released when it dies, and not before.
TEST_F(CrashRepair, AHolderInAnotherPidNamespaceIsRepairedWhenItDies) {
  if (!test::can_make_pid_namespace()) {
    GTEST_SKIP() << "no PID namespace can be made here (unshare --pid needs CAP_SYS_ADMIN in this user namespace)";
  }
  auto sink = this->sink("sink", "test/ns");
  ASSERT_TRUE(sink);
  const DaemonRepairs before = daemon_->repairs();
  auto unshared = ChildProcess::spawn(in_own_pid_namespace("patterned-publish namespaced test/ns " + kSize + " 4"));
  ASSERT_TRUE(unshared);
  ASSERT_EQ(unshared->read_line(20s), "ready") << unshared->describe();
  ASSERT_EQ(ask(*unshared, "publish 8"), "sent 8");
  ASSERT_EQ(ask(*unshared, "arm lock:taken:kill"), "arming");
  ASSERT_TRUE(unshared->write("publish 1\n"));
  ASSERT_TRUE(unshared->wait(10s));
  ASSERT_TRUE(released_since(before, 1)) << "the lock of the dead process in another PID namespace";
  auto next = publisher("next", "test/ns");
  ASSERT_TRUE(next);
  EXPECT_EQ(ask(*next, "publish 20"), "sent 20");
  EXPECT_EQ(test::sink_checked(*sink, 28), intact(28));
}

// A daemon out of file descriptors needs none to know that a process lives
// (it holds its pidfd) or to learn that it died: a stopped holder keeps its
// lock, a killed one has it released; a newcomer is refused with a reason.
TEST_F(CrashRepair, ADaemonOutOfFileDescriptorsLeavesALiveHolderAlone) {
  auto sink = this->sink("sink", "test/fds");
  ASSERT_TRUE(sink);
  auto holder = publisher_caught("holder", "test/fds", "lock:taken:stop");
  ASSERT_TRUE(holder);
  auto newcomer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect-on-go", "newcomer"});
  ASSERT_TRUE(newcomer);
  ASSERT_EQ(newcomer->read_line(20s), "ready");
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  const rlimit saved = limit;
  const DaemonRepairs before = daemon_->repairs();
  // No descriptor left: the limit at the highest one open, every one below taken.
  std::vector<detail::UniqueFd> fillers;
  {
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    }
    limit.rlim_cur = static_cast<rlim_t>(highest + 1);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
    for (detail::UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); fd.valid();
         fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC))) {
      fillers.push_back(std::move(fd));
    }
  }
  ASSERT_TRUE(newcomer->write("go\n"));
  const auto refused = newcomer->read_line(20s);
  EXPECT_TRUE(refused && refused->find("its limit is") != std::string::npos) << refused.value_or("nothing");
  for (int round = 0; round < 20; ++round) ASSERT_TRUE(daemon_->wait_for_round(2s));
  EXPECT_EQ(daemon_->repairs().locks_released, before.locks_released) << "a live holder lost its lock";
  ASSERT_TRUE(holder->signal(SIGKILL));
  ASSERT_TRUE(holder->wait(10s));
  const bool released = released_by(*daemon_, before, 1);
  fillers.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_TRUE(released) << "the dead holder's lock, with no descriptor to spare";
  auto next = publisher("next", "test/fds");
  ASSERT_TRUE(next);
  EXPECT_EQ(ask(*next, "publish 10"), "sent 10");
  EXPECT_EQ(test::sink_checked(*sink, 18), intact(18));
}

// A publisher killed halfway through an update of its history (iceoryx
// releases the oldest entry, shifts the others one by one, then adds the
// new one; or releases them all before it clears the list): the daemon sets
// the history right before it releases the lock, so that RouDi's removal
// of the port releases each chunk exactly once. Chunks freed twice would be
// handed to two owners: the next publisher's samples would come corrupt.
class HalfUpdatedHistory : public CrashRepair, public ::testing::WithParamInterface<const char*> {};

TEST_P(HalfUpdatedHistory, IsSetRightBeforeTheDeadPublishersLockIsReleased) {
  const std::string step = GetParam();
  auto sink = this->sink("sink", "test/history");
  ASSERT_TRUE(sink);
  const DaemonRepairs before = daemon_->repairs();
  std::uint64_t used_before = 0;
  for (const PoolUsage& pool : daemon_->pool_usage()) used_before += pool.used;
  // Stopped holding its lock: eight samples published, four in its history.
  auto dying = publisher_caught("dying", "test/history", "lock:taken:stop");
  ASSERT_TRUE(dying);
  // The sink has taken and given back all eight: the history alone holds
  // its chunks, so RouDi's release of it frees them, here, in the daemon's
  // process (a sample still in the sink's hands would be freed by the sink).
  ASSERT_EQ(test::sink_checked(*sink, 8), intact(8));
  auto* port = detail::publisher_port_of("test/history");
  ASSERT_NE(port, nullptr);
  auto& history = port->m_chunkSenderData.m_history;
  ASSERT_EQ(history.size(), 4U);
  // As a kill inside that update would leave it.
  if (step == "released" || step == "shifting" || step == "shifted") {
    (void)history[0].releaseToSharedChunk();  // the oldest entry released (and nulled)
    if (step != "released") history[0] = history[1];  // the shift begun: one entry twice
    if (step == "shifted") {
      history[1] = history[2];
      history[2] = history[3];  // every entry moved, the last one still twice
    }
  } else if (step == "clearing") {
    (void)history[0].releaseToSharedChunk();
    (void)history[1].releaseToSharedChunk();
  }
  stealer::memory = port->m_chunkSenderData.m_memoryMgr.get();
  stealer::records = &detail::iceoryx::records_pool_of(*stealer::memory);
  stealer::taken.clear();
  stealer::armed = true;
  ASSERT_TRUE(dying->signal(SIGKILL));
  ASSERT_TRUE(dying->wait(10s));
  ASSERT_TRUE(released_since(before, 1));
  const DaemonRepairs after = daemon_->repairs();
  EXPECT_EQ(after.structures_repaired, before.structures_repaired + (step == "whole" ? 0 : 1));
  // Its port gone (RouDi released its history), the pool serves the next publisher.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (detail::publisher_port_of("test/history") != nullptr && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(daemon_->wait_for_round(2s));
  }
  ASSERT_EQ(detail::publisher_port_of("test/history"), nullptr) << "RouDi never removed the dead publisher";
  stealer::armed = false;
  // Every chunk taken while RouDi released the dead publisher's is still
  // owned once, by the taker: none was released a second time.
  EXPECT_FALSE(stealer::taken.empty()) << "RouDi released none of the dead publisher's chunks";
  for (iox::mepoo::ChunkManagement* record : stealer::taken) {
    EXPECT_EQ(record->m_referenceCounter.load(), 1U) << "a chunk was freed under its new owner: a history entry was "
                                                        "released twice";
    iox::mepoo::SharedChunk back(record);  // given back by its owner
  }
  stealer::taken.clear();
  auto next = publisher("next", "test/history");
  ASSERT_TRUE(next);
  EXPECT_EQ(ask(*next, "publish 64"), "sent 64");  // twice the pool: every chunk is handed out again
  EXPECT_EQ(test::sink_checked(*sink, 72), intact(72));
  // Once the next publisher and the sink are gone too, every chunk is back
  // but for the one the dead publisher had in hand (its ninth sample),
  // reported lost: none freed twice, none kept.
  next.reset();
  sink.reset();
  auto used = [&] {
    std::uint64_t in_use = 0;
    for (const PoolUsage& pool : daemon_->pool_usage()) in_use += pool.used;
    return in_use;
  };
  const auto settle = std::chrono::steady_clock::now() + 10s;
  while (used() != used_before + daemon_->repairs().chunks_lost && std::chrono::steady_clock::now() < settle) {
    ASSERT_TRUE(daemon_->wait_for_round(2s));
  }
  EXPECT_EQ(daemon_->repairs().chunks_lost, 1U);
  EXPECT_EQ(used(), used_before + daemon_->repairs().chunks_lost);
  EXPECT_TRUE(daemon_->health());
}

INSTANTIATE_TEST_SUITE_P(Steps, HalfUpdatedHistory,
                         ::testing::Values("whole", "released", "shifting", "shifted", "clearing"));

// Lockstep time stands while a sample is in flight: each publisher counts
// its own under its place on the bus, and the daemon clears a dead one's
// count. A hundred publishers killed inside publish() never stop time.
TEST_F(CrashRepair, LockstepTimeKeepsJumpingAfterPublishersDieInsidePublish) {
  auto subscriber = UntypedSubscriber::create(*node_, "test/lockstep-kills");
  ASSERT_TRUE(subscriber);
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop);
  std::atomic<std::uint64_t> ticks{0};
  loop->every(1s, [&] { ticks.fetch_add(1); });
  ASSERT_TRUE(VirtualClock::set_lockstep());
  std::thread runner([&] { (void)loop->run(); });
  for (int kill = 0; kill < 100; ++kill) {
    auto victim = publisher("victim", "test/lockstep-kills", "0");
    ASSERT_TRUE(victim);
    ASSERT_EQ(ask(*victim, "arm publish:delivered:kill"), "arming");
    ASSERT_TRUE(victim->write("publish 1\n"));
    const auto status = victim->wait(10s);
    ASSERT_TRUE(status && WIFSIGNALED(*status)) << victim->describe();
  }
  const std::uint64_t seen = ticks.load();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ticks.load() < seen + 100 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(daemon_->wait_for_round(2s));
  }
  loop->stop();
  runner.join();
  EXPECT_GE(ticks.load(), seen + 100) << "lockstep time stood still after the kills";
  EXPECT_GE(daemon_->repairs().deaths, 100U);
}

}  // namespace
}  // namespace statebus

// The allocator's give-back, as the chunk stealer above needs it (these
// definitions take the place of the iceoryx library's in this program).
void iox::mepoo::MemPool::freeChunk(const void* chunk) noexcept {
  using Real = void (*)(iox::mepoo::MemPool*, const void*);
  static const auto real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "_ZN3iox5mepoo7MemPool9freeChunkEPKv"));
  real(this, chunk);
  namespace stealer = statebus::stealer;
  if (this != stealer::records || !stealer::armed.load() || stealer::taken.size() >= 8) return;
  auto settings = iox::mepoo::ChunkSettings::create(100000, 8);
  if (settings.has_error()) return;
  auto again = stealer::memory->getChunk(settings.value());
  if (!again.has_error()) stealer::taken.push_back(again.value().release());
}
