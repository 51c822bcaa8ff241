// The concurrency tortures with every party a thread of one process, so that
// ThreadSanitizer sees all of them (the tsan preset runs the `threads` label).
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../integration/test_messages.hpp"
#include "change_hook.hpp"  // clock/src: a hook inside every change of the clock
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/clock_segment.hpp"
#include "statebus/internal/event_count.hpp"
#include "statebus/internal/seqlock_pair.hpp"
#include "statebus/internal/state_segment.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

// Segments of our own, with no daemon (and so no iceoryx): in a private
// /dev/shm, or, where namespaces are not permitted, in the machine's while
// no daemon runs there (PrivateBusTest checks), removed afterwards.
class Threads : public testkit::PrivateBusTest {
 protected:
  void SetUp() override {
    PrivateBusTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(create_state_segment());
    ASSERT_TRUE(create_clock_segment());
  }
  void TearDown() override {
    if (IsSkipped()) return;  // the segments are a live daemon's: never remove them
    remove_clock_segment();
    remove_state_segment();
    PrivateBusTest::TearDown();
  }
};

// The event count loses no wake-up: four waiters follow a counter that two
// signallers raise 20 000 times, each waiter sleeping whenever it saw
// nothing new. A lost wake-up would leave a waiter asleep until its
// timeout (10 s): no sleep may run out, and every waiter sees the end.
TEST(EventCount, NoWaiterSleepsThroughASignal) {
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint64_t> counter{0};
  std::atomic<int> slept_out{0};
  constexpr std::uint64_t kSignals = 20'000;
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&] {
      detail::EventCount events(word);
      std::uint64_t seen = 0;
      while (seen < kSignals) {
        const std::uint32_t ticket = events.prepare();
        const std::uint64_t now = counter.load(std::memory_order_seq_cst);
        if (now > seen) {
          seen = now;
          continue;
        }
        if (!events.sleep(ticket, 10'000'000'000)) slept_out.fetch_add(1);
      }
    });
  }
  for (int s = 0; s < 2; ++s) {
    threads.emplace_back([&] {
      detail::EventCount events(word);
      for (std::uint64_t i = 0; i < kSignals / 2; ++i) {
        counter.fetch_add(1, std::memory_order_seq_cst);
        events.notify();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(slept_out.load(), 0);
  EXPECT_EQ(counter.load(), kSignals);
}

// A waiter that announced itself and died leaves one needless wake-up,
// not one per signal.
TEST(EventCount, AnAnnouncedWaiterCostsTheNextSignalOnlyOneWakeUp) {
  std::atomic<std::uint32_t> word{0};
  detail::EventCount events(word);
  EXPECT_FALSE(events.count()) << "nobody announced a sleep";
  const std::uint32_t ticket = events.prepare();  // then "dies"
  EXPECT_TRUE(events.may_have_sleepers());
  EXPECT_TRUE(events.count()) << "the next signal wakes";
  EXPECT_FALSE(events.count()) << "and the one after it does not";
  EXPECT_TRUE(events.moved_since(ticket));
  EXPECT_TRUE(events.sleep(ticket, 10'000'000'000)) << "a sleep on a ticket an event passed returns at once";
  const std::uint32_t fresh = events.prepare();
  EXPECT_FALSE(events.moved_since(fresh));
  EXPECT_FALSE(events.moved_since(events.current())) << "a raised bit is no event";
}

// A sole waiter that found its event after announcing itself takes the
// announcement back: the next signal makes no system call; one that came
// in between keeps its wake-up (the signaller cleared the bit already).
TEST(EventCount, AWithdrawnAnnouncementCostsTheNextSignalNoWakeUp) {
  std::atomic<std::uint32_t> word{0};
  detail::EventCount events(word);
  const std::uint32_t ticket = events.prepare();
  events.withdraw(ticket);
  EXPECT_FALSE(events.may_have_sleepers());
  EXPECT_FALSE(events.count()) << "a withdrawn waiter still costs the next signal a futex wake-up";
  const std::uint32_t raced = events.prepare();
  EXPECT_TRUE(events.count()) << "an announced waiter is woken";
  events.withdraw(raced);  // too late: an event passed the ticket
  EXPECT_TRUE(events.moved_since(raced));
  EXPECT_FALSE(events.may_have_sleepers());
  EXPECT_EQ(word.load() & ~detail::EventCount::kSleepers, 4U) << "withdraw() changed the count";
}

// A pair with two copies of eight words; version n's value is eight times n.
struct SharedPair {
  detail::SeqlockWords words;
  std::atomic<std::uint64_t> copies[2][8]{};
};

void fill(SharedPair& shared, std::uint64_t copy, std::uint64_t value, std::size_t words = 8) {
  for (std::size_t i = 0; i < words; ++i) shared.copies[copy][i].store(value, std::memory_order_relaxed);
}

// One writer and two readers of a million reads each (and on until each saw
// the value change 100 times); every seventh write is abandoned halfway (a
// writer killed mid-write) and the next write takes its version over. Every read returns one version's value whole (its
// eight words equal), labelled with that version, and a reader's versions
// never go back.
TEST(SeqlockPair, ReadersNeverSeeATornOrMixedCopyWhileWritersWriteAndDie) {
  SharedPair shared;
  detail::SeqlockPair sut(shared.words);
  std::atomic<bool> done{false};
  std::atomic<long> torn{0};
  std::atomic<long> mislabelled{0};
  std::atomic<long> backwards{0};
  std::uint64_t written = 0;
  std::uint64_t versions_taken_over = 0;
  std::thread writer([&] {
    for (std::uint64_t n = 1; !done.load(std::memory_order_relaxed); ++n) {
      if (n % 7 == 0) {  // dies after the odd sequence, half its copy written with another value
        const std::uint64_t next = sut.begin_write();
        fill(shared, detail::SeqlockPair::copy_of(next), ~next, 4);
      }
      written = sut.write([&](std::uint64_t copy) { fill(shared, copy, n); });
      if (written == n) ++versions_taken_over;
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (sut.version() < 100) {  // the writer is at work: reads overlap writes
      }
      std::uint64_t last = 0;
      long seen = 0;  // versions this reader saw change: on until 100, so that the writer got to run
      for (int i = 0; i < 1'000'000 || seen < 100; ++i) {
        std::uint64_t out[8];
        const std::uint64_t version = sut.read([&](std::uint64_t copy) {
          for (std::size_t w = 0; w < 8; ++w) out[w] = shared.copies[copy][w].load(std::memory_order_relaxed);
        });
        for (const std::uint64_t word : out) {
          if (word != out[0]) {
            torn.fetch_add(1);
            break;
          }
        }
        if (out[0] != version) mislabelled.fetch_add(1);
        if (version < last) backwards.fetch_add(1);
        if (version != last) ++seen;
        last = version;
      }
    });
  }
  for (auto& reader : readers) reader.join();
  done = true;
  writer.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(mislabelled.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_EQ(versions_taken_over, written) << "a write after a dead one took another version than the dead one's";
  EXPECT_EQ(sut.version(), written);
}

// A writer killed mid-write (abandoned after its odd sequence and half its
// copy) leaves the previous value current: readers in other threads read it
// whole and at once, the write shows as pending, and the next writer
// writes the same version into the same copy.
TEST(SeqlockPair, AWriterKilledMidWriteLeavesThePreviousValueReadable) {
  SharedPair shared;
  detail::SeqlockPair sut(shared.words);
  ASSERT_EQ(sut.write([&](std::uint64_t copy) { fill(shared, copy, 7); }), 1U);
  EXPECT_FALSE(sut.write_pending());

  const std::uint64_t dead = sut.begin_write();
  fill(shared, detail::SeqlockPair::copy_of(dead), 99, 4);  // and then nothing: killed

  EXPECT_TRUE(sut.write_pending());
  EXPECT_TRUE(sut.write_begun_after(1));
  std::atomic<long> wrong{0};
  std::vector<std::thread> readers;  // they end only if no read waits for the dead writer
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        std::uint64_t out[8];
        const std::uint64_t version = sut.read([&](std::uint64_t copy) {
          for (std::size_t w = 0; w < 8; ++w) out[w] = shared.copies[copy][w].load(std::memory_order_relaxed);
        });
        bool whole = version == 1;
        for (const std::uint64_t word : out) whole = whole && word == 7;
        if (!whole) wrong.fetch_add(1);
      }
    });
  }
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(wrong.load(), 0) << "reads that were not version 1 holding 7";
  EXPECT_EQ(sut.version(), 1U);

  const std::uint64_t next = sut.write([&](std::uint64_t copy) { fill(shared, copy, 8); });
  EXPECT_EQ(next, dead) << "the next writer writes the dead writer's version again";
  EXPECT_FALSE(sut.write_pending());
  std::uint64_t out[8];
  EXPECT_EQ(sut.read([&](std::uint64_t copy) { detail::load_words(shared.copies[copy], out, sizeof out); }), 2U);
  for (const std::uint64_t word : out) EXPECT_EQ(word, 8U);
}

TEST_F(Threads, CellWritersAndReadersNeverTear) {
  auto cell = Cell<test::Striped>::open_or_create("test/threads");
  ASSERT_TRUE(cell);
  std::atomic<bool> done{false};
  std::atomic<long> torn{0};
  std::atomic<long> changes{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      test::Striped value;
      for (std::uint64_t n = 1; !done.load(std::memory_order_relaxed); ++n) {
        for (auto& word : value.words) word = n * 2 + static_cast<std::uint64_t>(w);
        cell->store(value);
      }
    });
  }
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::uint64_t last = 0;
      for (int i = 0; i < 200'000; ++i) {
        const test::Striped value = cell->load();
        if (!test::consistent(value)) torn.fetch_add(1);
        if (value.words[0] != last) changes.fetch_add(1);
        last = value.words[0];
      }
    });
  }
  for (auto& reader : readers) reader.join();
  done = true;
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(changes.load(), 1) << "the writers never overlapped the reads";
}

TEST_F(Threads, CellReadModifyWritesLoseNothing) {
  auto cell = Cell<test::Counter>::open_or_create("test/threads-counter");
  ASSERT_TRUE(cell);
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&] {
      for (int i = 0; i < 5'000; ++i) cell->update([](test::Counter& c) { ++c.value; });
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(cell->load().value, 15'000U);
}

TEST_F(Threads, ClockRateChangesNeverMakeTimeGoBackwards) {
  std::atomic<bool> done{false};
  std::atomic<long> backwards{0};
  std::thread writer([&] {
    for (int i = 0; !done.load(std::memory_order_relaxed); ++i) {
      (void)VirtualClock::set_rate(static_cast<double>(i % 7) * 1000.0);  // 0 pauses
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      auto last = VirtualClock::now();
      for (int i = 0; i < 200'000; ++i) {
        const auto now = VirtualClock::now();
        if (now < last) backwards.fetch_add(1);
        last = now;
      }
    });
  }
  for (auto& reader : readers) reader.join();
  done = true;
  writer.join();
  EXPECT_EQ(backwards.load(), 0);
}

// A hook holds a change of the clock (a pause of a clock running 1000 times
// fast) after its instant was fixed, until the readers have read the clock
// 2000 times while it was pending: they never wait for it. Time never goes
// back, before, during or after the change: the pending change's readers
// stand at its instant, where the pause begins.
std::atomic<long> g_reads_while_pending{0};
std::atomic<bool> g_hold_changes{false};
std::atomic<bool> g_hold_ran_out{false};

TEST_F(Threads, ClockReadersNeverWaitForAPendingChangeAndTimeNeverGoesBack) {
  ASSERT_TRUE(VirtualClock::set_rate(1000));
  detail::set_mid_change_hook([] {
    if (!g_hold_changes.load()) return;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (g_reads_while_pending.load() < 2000) {
      if (std::chrono::steady_clock::now() > give_up) {
        g_hold_ran_out = true;
        return;
      }
    }
  });
  std::atomic<bool> done{false};
  std::atomic<long> backwards{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      auto last = VirtualClock::now();
      while (!done.load()) {
        const bool pending = detail::clock_change_pending();
        const auto now = VirtualClock::now();
        if (pending && detail::clock_change_pending()) g_reads_while_pending.fetch_add(1);
        if (now < last) backwards.fetch_add(1);
        last = now;
      }
    });
  }
  g_hold_changes = true;
  const bool paused_ok = VirtualClock::pause().has_value();  // held inside until the readers read 2000 times
  g_hold_changes = false;
  const auto paused = VirtualClock::now();
  done = true;
  for (auto& reader : readers) reader.join();
  detail::set_mid_change_hook(nullptr);

  ASSERT_TRUE(paused_ok);
  EXPECT_FALSE(g_hold_ran_out.load()) << "only " << g_reads_while_pending.load()
                                      << " reads while the change was pending: readers waited for it";
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_EQ(VirtualClock::now(), paused);
  EXPECT_FALSE(detail::clock_change_pending());
}

}  // namespace
}  // namespace statebus
