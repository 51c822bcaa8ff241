// A process SIGKILLed inside publish() dies holding a chunk that only its
// stack referred to: iceoryx's cleanup never gives it back, and the 4 MiB
// pool holds 3 chunks. The daemon finds such chunks and gives them back.
// Made to happen on purpose: this test holds the lock of its subscriber's
// queue, so that the publishing child stops inside publish() (it has put the
// sample in the queue and waits to wake the subscriber), holding two
// references to the chunk on its stack, and kills it there.
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "lock_doctor.hpp"  // bus/src: finds a port's lock
#include "env_count.hpp"
#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

int kills_to_make() { return static_cast<int>(test::env_count("STATEBUS_MID_PUBLISH_KILLS", 100)); }

class ChunkReclaim : public testkit::NodeTest {
 protected:
  ChunkReclaim() : NodeTest("chunk-reclaim-test") {}

  // The largest pool: the one a 4 MiB sample comes from.
  PoolUsage large_pool() const { return daemon_->pool_usage().back(); }

  // Waits for the daemon's rounds until `done` holds; false after `timeout`.
  template <class Condition>
  bool wait_until(Condition done, std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline || !daemon_->wait_for_round(2s)) return false;
    }
    return true;
  }

  // A child publishes one `size`-byte sample on `channel` and is SIGKILLed
  // inside publish(), while it waits for our subscriber's queue.
  void kill_mid_publish(const std::string& channel, std::size_t size, int i) {
    auto subscriber = UntypedSubscriber::create(*node_, channel);
    ASSERT_TRUE(subscriber) << subscriber.error().message();
    pthread_mutex_t* queue = detail::subscriber_lock_of(channel);
    ASSERT_NE(queue, nullptr);
    ASSERT_EQ(pthread_mutex_lock(queue), 0);
    auto child = ChildProcess::spawn(
        {STATEBUS_TEST_CHILD, "untyped", "mid-publish-" + std::to_string(i), channel, std::to_string(size)});
    ASSERT_TRUE(child) << child.error().message();
    // It is stuck inside publish() once its main thread holds its port's
    // lock and the sample is queued.
    const bool inside = wait_until(
        [&] {
          pthread_mutex_t* own = detail::publisher_lock_of(channel);
          return own != nullptr && __atomic_load_n(&own->__data.__owner, __ATOMIC_ACQUIRE) == child->pid() &&
                 subscriber->has_data();
        },
        20s);
    EXPECT_TRUE(child->signal(SIGKILL));
    EXPECT_TRUE(child->wait(10s));
    ASSERT_EQ(pthread_mutex_unlock(queue), 0);
    ASSERT_TRUE(inside) << "kill " << i << ": the child never got inside publish(): " << child->describe();
    const auto sample = subscriber->take();  // queued before the kill: it arrives whole
    ASSERT_TRUE(sample);
    EXPECT_EQ(sample->size(), size);
  }
};

TEST_F(ChunkReclaim, ChunksOfPublishersKilledInsidePublishAreGivenBackToTheirPool) {
  const int kills = kills_to_make();
  const std::uint32_t size = daemon_->max_payload();
  const PoolUsage baseline = large_pool();
  ASSERT_GE(baseline.chunks, 3U);
  const std::uint64_t reclaimed_before = daemon_->repairs().chunks_reclaimed;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kills; ++i) {
    // A chunk for the next victim: the earlier victims' come back within ~0.6 s.
    ASSERT_TRUE(wait_until([&] { return large_pool().used < large_pool().chunks; }, 10s))
        << "after " << i << " kills the " << size << "-byte pool stays exhausted: no chunk was given back";
    kill_mid_publish("test/mid-publish-" + std::to_string(i), size, i);
    if (HasFatalFailure()) return;
  }
  ASSERT_TRUE(wait_until([&] { return large_pool().used == baseline.used; }, 10s))
      << large_pool().used << " chunks of the large pool in use, " << baseline.used << " before the kills";
  const std::uint64_t reclaimed = daemon_->repairs().chunks_reclaimed - reclaimed_before;
  EXPECT_EQ(reclaimed, static_cast<std::uint64_t>(kills)) << "one chunk per kill inside publish()";
  EXPECT_TRUE(daemon_->health());
  std::printf("%d publishers of %u bytes SIGKILLed inside publish() in %.1f s: %llu chunks given back, the pool "
              "whole again (%u of %u in use)\n",
              kills, size, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
              static_cast<unsigned long long>(reclaimed), large_pool().used, large_pool().chunks);

  // The whole pool serves a newcomer.
  auto publisher = UntypedPublisher::create(*node_, "test/after-kills");
  ASSERT_TRUE(publisher);
  std::vector<BytesLoan> loans;
  for (std::uint32_t i = 0; i < baseline.chunks - baseline.used; ++i) {
    auto loan = publisher->loan(size);
    ASSERT_TRUE(loan) << "loan " << i << " of " << size << " bytes failed after the kills";
    loans.push_back(std::move(*loan));
  }
}

}  // namespace
}  // namespace statebus
