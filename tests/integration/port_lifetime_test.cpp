// Samples, loans and wait sets that outlive the port they came from: the
// memory they point at stays theirs until they die, and then goes back to
// the pool; nothing is read or freed twice.
#include <chrono>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::FourMiB;

class PortLifetime : public testkit::NodeTest {
 protected:
  PortLifetime() : NodeTest("port-lifetime-test") {}

  // Loans every free chunk of the 4 MiB pool (a publisher holds at most a
  // few loans at once, so it takes several) and writes `mark` into each.
  // Returns how many it got; they go back to the pool when `held` is cleared.
  std::size_t fill_large_pool(char mark) {
    publishers_.clear();
    held_.clear();
    for (int p = 0; p < 64; ++p) {
      auto publisher = UntypedPublisher::create(*node_, "life/filler");
      EXPECT_TRUE(publisher) << publisher.error().message();
      if (!publisher) return 0;
      publishers_.push_back(std::move(*publisher));
      bool granted_any = false;
      for (;;) {
        auto loan = publishers_.back().loan(sizeof(FourMiB));
        if (!loan) break;
        loan->data()[0] = static_cast<std::byte>(mark);
        held_.push_back(std::move(*loan));
        granted_any = true;
      }
      if (!granted_any) return held_.size();  // a fresh publisher got none: the pool is empty
    }
    ADD_FAILURE() << "the 4 MiB pool did not run out after " << held_.size() << " loans";
    return held_.size();
  }

  void release_pool() {
    held_.clear();
    publishers_.clear();
  }

  // The daemon handles port changes in its rounds: waits for them until it
  // has (bounded).
  template <class Condition>
  bool daemon_has(Condition&& done) const {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline || !daemon_->wait_for_round(2s)) return false;
    }
    return true;
  }

  std::vector<UntypedPublisher> publishers_;
  std::vector<BytesLoan> held_;
};

TEST_F(PortLifetime, ASampleKeptAfterItsSubscriberKeepsItsMemoryUntilItDies) {
  auto published = Publisher<FourMiB>::create(*node_, "life/sample");
  ASSERT_TRUE(published) << published.error().message();
  std::optional<Publisher<FourMiB>> publisher(std::move(*published));
  auto created = Subscriber<FourMiB>::create(*node_, "life/sample");
  ASSERT_TRUE(created) << created.error().message();
  std::optional<Subscriber<FourMiB>> subscriber(std::move(*created));
  ASSERT_TRUE(publisher->wait_for_subscribers(10s));
  auto loan = publisher->loan();
  ASSERT_TRUE(loan);
  (*loan)->bytes[0] = 'x';
  std::move(*loan).publish();
  auto taken = subscriber->take_for(5s);
  ASSERT_TRUE(taken);
  std::optional<Sample<FourMiB>> sample(std::move(*taken));

  subscriber.reset();
  ASSERT_TRUE(daemon_has([&] { return !publisher->has_subscribers(); }));
  publisher.reset();  // it keeps its last sample's chunk for reuse
  ASSERT_TRUE(daemon_has([&] { return !channel_offered(*node_, "life/sample"); }));
  const std::size_t free_while_held = fill_large_pool('y');
  EXPECT_EQ(sample->value().bytes[0], 'x') << "the sample's memory went back to the pool while it was held";
  release_pool();

  sample.reset();  // gives the memory back through the port that is gone
  EXPECT_EQ(fill_large_pool('z'), free_while_held + 1);
}

TEST_F(PortLifetime, ALoanKeptAfterItsPublisherKeepsItsMemoryUntilItDies) {
  auto created = Publisher<FourMiB>::create(*node_, "life/loan");
  ASSERT_TRUE(created) << created.error().message();
  std::optional<Publisher<FourMiB>> publisher(std::move(*created));
  auto loaned = publisher->loan();
  ASSERT_TRUE(loaned);
  std::optional<Loan<FourMiB>> loan(std::move(*loaned));
  (*loan)->bytes[0] = 'x';

  publisher.reset();
  ASSERT_TRUE(daemon_has([&] { return !channel_offered(*node_, "life/loan"); }));
  const std::size_t free_while_held = fill_large_pool('y');
  EXPECT_EQ((*loan)->bytes[0], 'x') << "the loan's memory went back to the pool while it was held";
  release_pool();

  loan.reset();  // gives the memory back through the port that is gone
  EXPECT_EQ(fill_large_pool('z'), free_while_held + 1);
}

TEST_F(PortLifetime, ASubscriberKeptAliveBySamplesNoLongerHearsItsChannel) {
  auto publisher = Publisher<test::Reading>::create(*node_, "life/quiet");
  ASSERT_TRUE(publisher);
  SubscriberOptions lossless;
  lossless.queue_depth = 4;
  lossless.lossless = true;
  auto created = Subscriber<test::Reading>::create(*node_, "life/quiet", lossless);
  ASSERT_TRUE(created);
  std::optional<Subscriber<test::Reading>> subscriber(std::move(*created));
  ASSERT_TRUE(publisher->wait_for_subscribers(10s));
  ASSERT_TRUE(publisher->publish(test::Reading{}));
  auto sample = subscriber->take_for(5s);
  ASSERT_TRUE(sample);

  subscriber.reset();
  ASSERT_TRUE(daemon_has([&] { return !publisher->has_subscribers(); }));
  // A lossless subscriber that is gone must not hold its publisher up.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(publisher->publish(test::Reading{}));
}

TEST_F(PortLifetime, ASubscriberMayDieBeforeItsWaitSet) {
  auto publisher = Publisher<test::Reading>::create(*node_, "life/waitset");
  ASSERT_TRUE(publisher);
  auto waitset = WaitSet::create(*node_);
  ASSERT_TRUE(waitset) << waitset.error().message();
  auto created = Subscriber<test::Reading>::create(*node_, "life/waitset");
  ASSERT_TRUE(created);
  std::optional<Subscriber<test::Reading>> subscriber(std::move(*created));
  auto other = Subscriber<test::Reading>::create(*node_, "life/waitset");
  ASSERT_TRUE(other);
  ASSERT_TRUE(waitset->add(*subscriber));
  const auto other_index = waitset->add(*other);
  ASSERT_TRUE(other_index);
  ASSERT_TRUE(other->wait_connected(10s));

  subscriber.reset();
  ASSERT_TRUE(publisher->publish(test::Reading{}));
  const auto ready = waitset->wait(5s);
  ASSERT_EQ(ready.size(), 1u) << "only the subscriber that lives is ready";
  EXPECT_EQ(ready[0], *other_index);
}

TEST_F(PortLifetime, ASubscriberMayDieBeforeItsEventLoop) {
  auto publisher = Publisher<test::Reading>::create(*node_, "life/loop");
  ASSERT_TRUE(publisher);
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  auto created = Subscriber<test::Reading>::create(*node_, "life/loop");
  ASSERT_TRUE(created);
  std::optional<Subscriber<test::Reading>> gone(std::move(*created));
  auto stays = Subscriber<test::Reading>::create(*node_, "life/loop");
  ASSERT_TRUE(stays);
  int heard_by_gone = 0;
  int heard_by_stays = 0;
  ASSERT_TRUE(loop->on(*gone, [&](const Sample<test::Reading>&) { ++heard_by_gone; }));
  ASSERT_TRUE(loop->on(*stays, [&](const Sample<test::Reading>&) {
    ++heard_by_stays;
    loop->stop();
  }));
  ASSERT_TRUE(gone->wait_connected(10s));
  ASSERT_TRUE(stays->wait_connected(10s));
  ASSERT_TRUE(publisher->publish(test::Reading{}));
  ASSERT_TRUE(stays->wait(10s));

  gone.reset();
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(heard_by_gone, 0);
  EXPECT_EQ(heard_by_stays, 1);
}

// The loop holds the port, not the Subscriber object: a vector that grows
// after on() moves its subscribers, and the loop still serves them.
TEST_F(PortLifetime, AnEventLoopServesASubscriberThatMovedAfterOn) {
  auto publisher = Publisher<test::Reading>::create(*node_, "life/moved");
  ASSERT_TRUE(publisher);
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  std::vector<Subscriber<test::Reading>> subscribers;
  subscribers.reserve(1);
  auto first = Subscriber<test::Reading>::create(*node_, "life/moved");
  ASSERT_TRUE(first);
  subscribers.push_back(std::move(*first));
  std::uint64_t heard = 0;
  ASSERT_TRUE(loop->on(subscribers[0], [&](const Sample<test::Reading>& sample) {
    heard = sample.value().index;
    loop->stop();
  }));
  const Subscriber<test::Reading>* before = subscribers.data();
  auto second = Subscriber<test::Reading>::create(*node_, "life/other-moved");
  ASSERT_TRUE(second);
  subscribers.push_back(std::move(*second));  // grows: the first subscriber moves
  ASSERT_NE(subscribers.data(), before) << "the premise: the vector reallocated";

  ASSERT_TRUE(subscribers[0].wait_connected(10s));
  ASSERT_TRUE(publisher->publish(test::Reading{42, 1.0, {}}));
  ASSERT_TRUE(subscribers[0].wait(10s));
  ASSERT_TRUE(loop->run());  // its handler stops it
  EXPECT_EQ(heard, 42U);
}

TEST_F(PortLifetime, ALoanPublishedThroughAnotherPublisherIsRefusedAndLeftAsItWas) {
  auto other = Publisher<FourMiB>::create(*node_, "life/other");
  ASSERT_TRUE(other) << other.error().message();
  auto publisher = Publisher<FourMiB>::create(*node_, "life/mine");
  ASSERT_TRUE(publisher) << publisher.error().message();
  auto subscriber = Subscriber<FourMiB>::create(*node_, "life/mine");
  ASSERT_TRUE(subscriber) << subscriber.error().message();
  ASSERT_TRUE(publisher->wait_for_subscribers(10s));
  const std::size_t free_before = fill_large_pool('y');
  release_pool();

  auto foreign = other->loan();
  ASSERT_TRUE(foreign);
  (*foreign)->bytes[0] = 'f';
  const auto refused = publisher->publish(std::move(*foreign));  // not this publisher's
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), LoanError::foreign_loan);
  ASSERT_NE(foreign->get(), nullptr) << "a refused loan is left to its owner";
  EXPECT_EQ((*foreign)->bytes[0], 'f');
  { auto dropped = std::move(*foreign); }  // back to its pool unsent
  auto loan = publisher->loan();
  ASSERT_TRUE(loan);
  (*loan)->bytes[0] = 'm';
  EXPECT_TRUE(publisher->publish(std::move(*loan)));

  auto taken = subscriber->take_for(5s);
  ASSERT_TRUE(taken);
  std::optional<Sample<FourMiB>> sample(std::move(*taken));
  EXPECT_EQ(sample->value().bytes[0], 'm');
  EXPECT_EQ(sample->header().sequence, 1u);
  EXPECT_EQ(publisher->published(), 1u);
  sample.reset();
  // Only the last sample the publisher keeps for reuse is out of the pool.
  EXPECT_EQ(fill_large_pool('z'), free_before - 1);
}

}  // namespace
}  // namespace statebus
