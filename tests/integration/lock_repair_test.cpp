// A process killed holding a lock in the bus's shared memory (iceoryx #1711)
// never stops the bus: the daemon releases the lock. Made to happen on
// purpose: a process forked from this test takes the lock of a port in the
// daemon's memory and is SIGKILLed holding it.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <optional>

#include <gtest/gtest.h>

#include "lock_doctor.hpp"  // bus/src: finds a port's lock
#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Reading;
using testkit::ChildProcess;

class LockRepair : public testkit::NodeTest {
 protected:
  LockRepair() : NodeTest("lock-repair-test") {}

  // A process takes `lock` and dies holding it (SIGKILL); returns once it is
  // reaped. `anonymously`: as if killed between taking the lock and
  // recording itself as its owner (glibc stores the owner just after).
  static void die_holding(pthread_mutex_t* lock, bool anonymously = false) {
    const pid_t locker = ::fork();
    ASSERT_GE(locker, 0);
    if (locker == 0) {
      pthread_mutex_lock(lock);
      if (anonymously) __atomic_store_n(&lock->__data.__owner, 0, __ATOMIC_RELEASE);
      ::raise(SIGKILL);
      ::_exit(1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(locker, &status, 0), locker);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }

  // Waits, as any thread of the bus would, for `lock`, which a dead thread
  // holds; returns how long after the death it got it (nothing within 5 s).
  static std::optional<std::chrono::microseconds> wait_for(pthread_mutex_t* lock) {
    const auto died = std::chrono::steady_clock::now();
    timespec deadline{};
    ::clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    if (pthread_mutex_timedlock(lock, &deadline) != 0) return std::nullopt;
    const auto took = std::chrono::steady_clock::now() - died;
    pthread_mutex_unlock(lock);
    return std::chrono::duration_cast<std::chrono::microseconds>(took);
  }

  // A process dies holding `lock`; the daemon releases it (and counts it)
  // before another waiter gets it.
  void expect_released_after_death(pthread_mutex_t* lock, bool anonymously = false) {
    const std::uint64_t released = daemon_->repairs().locks_released;
    die_holding(lock, anonymously);
    const auto took = wait_for(lock);
    ASSERT_TRUE(took) << "the lock a killed process held was not released within 5 s";
    std::printf("released %lld µs after the death\n", static_cast<long long>(took->count()));
    EXPECT_EQ(daemon_->repairs().locks_released, released + 1);
  }

  std::uint64_t chunks_in_use() const {
    std::uint64_t used = 0;
    for (const PoolUsage& pool : daemon_->pool_usage()) used += pool.used;
    return used;
  }
};

// The publisher's lock (its list of subscriber queues): RouDi takes it to
// drop the publisher, and would wait for ever.
TEST_F(LockRepair, APublishersLockHeldByAKilledProcessIsReleasedAndTheBusGoesOn) {
  auto subscriber = Subscriber<Reading>::create(*node_, "test/locked");
  ASSERT_TRUE(subscriber);
  const std::uint64_t baseline = chunks_in_use();
  auto publisher = ChildProcess::spawn({STATEBUS_TEST_CHILD, "publish", "locked-publisher", "test/locked", "1"});
  ASSERT_TRUE(publisher);
  ASSERT_EQ(publisher->read_line(10s), "sent 1");
  ASSERT_TRUE(subscriber->take_for(10s));  // taken and let go: only the publisher's last chunk stays in use
  pthread_mutex_t* lock = detail::publisher_lock_of("test/locked");
  ASSERT_NE(lock, nullptr);
  const std::uint64_t released = daemon_->repairs().locks_released;
  expect_released_after_death(lock);
  if (HasFatalFailure()) return;

  // Again, and now the publisher's process is killed too: RouDi drops its
  // port (taking that lock) 1.5 s later, and goes on serving.
  die_holding(lock);
  ASSERT_TRUE(publisher->signal(SIGKILL));
  ASSERT_TRUE(publisher->wait(10s));
  const auto start = std::chrono::steady_clock::now();
  while (detail::publisher_lock_of("test/locked") != nullptr) {
    ASSERT_LT(std::chrono::steady_clock::now() - start, 10s) << "the daemon never dropped the killed publisher";
    ASSERT_TRUE(daemon_->wait_for_round(2s)) << "the daemon is stuck";
  }
  EXPECT_TRUE(daemon_->health()) << daemon_->health().error().message();
  EXPECT_EQ(daemon_->repairs().locks_released, released + 2);
  EXPECT_EQ(chunks_in_use(), baseline) << "the pools are whole again once the killed publisher is dropped";
  auto newcomer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "connect", "newcomer", "5000"});
  ASSERT_TRUE(newcomer);
  EXPECT_EQ(newcomer->read_line(20s), "ok");
}

// A subscriber's queue lock: every publisher takes it to deliver, and would
// wait for ever.
TEST_F(LockRepair, ASubscribersQueueLockHeldByAKilledProcessIsReleasedAndDeliveryGoesOn) {
  auto subscriber = ChildProcess::spawn({STATEBUS_TEST_CHILD, "take-hold", "locked-subscriber", "test/queue", "1"});
  ASSERT_TRUE(subscriber);
  ASSERT_EQ(subscriber->read_line(10s), "ready");
  auto publisher = Publisher<Reading>::create(*node_, "test/queue");
  ASSERT_TRUE(publisher);
  ASSERT_TRUE(publisher->wait_for_subscribers(10s));
  pthread_mutex_t* lock = detail::subscriber_lock_of("test/queue");
  ASSERT_NE(lock, nullptr);
  expect_released_after_death(lock);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(publisher->publish(Reading{1, 20.0, {}}));
  EXPECT_EQ(subscriber->read_line(10s), "holding 1");
}

// Killed between taking the lock and saying so: the lock is held by nobody
// known, for as long as it stays so the daemon releases it.
TEST_F(LockRepair, ALockWhoseHolderWasKilledBeforeRecordingItselfIsReleasedToo) {
  auto subscriber = Subscriber<Reading>::create(*node_, "test/anonymous");
  ASSERT_TRUE(subscriber);
  auto publisher = Publisher<Reading>::create(*node_, "test/anonymous");
  ASSERT_TRUE(publisher);
  pthread_mutex_t* lock = detail::publisher_lock_of("test/anonymous");
  ASSERT_NE(lock, nullptr);
  expect_released_after_death(lock, /*anonymously=*/true);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(publisher->publish(Reading{1, 20.0, {}}));
  EXPECT_TRUE(subscriber->take_for(10s));
}

}  // namespace
}  // namespace statebus
