// State cells across processes: sharing, types, torn reads, crashes, waits.
#include <csignal>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sys/syscall.h>
#include <unistd.h>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store_hook.hpp"  // state/src: hooks inside Cell::load, stores and waits
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/state/cell.hpp"
#include "run_cli.hpp"
#include "sleep_probe.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

using StateTest = testkit::BusTest;

TEST_F(StateTest, FirstOpenCreatesWithTheInitialValueAndEveryProcessSharesIt) {
  test::Counter initial;
  initial.value = 41;
  auto cell = Cell<test::Counter>::open_or_create("test/shared", initial);
  ASSERT_TRUE(cell) << cell.error().message();
  EXPECT_EQ(cell->load().value, 41U);
  EXPECT_EQ(cell->version(), 1U);
  auto again = Cell<test::Counter>::open_or_create("test/shared", test::Counter{7});  // exists: initial ignored
  ASSERT_TRUE(again);
  EXPECT_EQ(again->load().value, 41U);

  auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-increment", "test/shared", "1"});
  ASSERT_TRUE(child);
  ASSERT_EQ(child->read_line(10s), "ready");
  ASSERT_EQ(child->read_line(10s), "done");
  EXPECT_EQ(cell->load().value, 42U);
  EXPECT_EQ(cell->version(), 2U);
  EXPECT_EQ(cell->last_writer().pid, child->pid());
}

// The range the type declares is honoured by every writer of the cell; a
// refused write leaves the value and version as they were.
// Reaches: Cell::open_or_create Errc::invalid_argument
// Reaches: Cell::store Errc::invalid_argument
// Reaches: UntypedCell::store Errc::invalid_argument
TEST_F(StateTest, AValueOutsideTheDeclaredRangeIsRefusedAndTheCellKeepsItsValue) {
  auto bad_start = Cell<test::Limited>::open_or_create("test/limited", test::Limited{40.0, 0});
  ASSERT_FALSE(bad_start);
  EXPECT_EQ(bad_start.error().code(), Errc::invalid_argument);
  auto cell = Cell<test::Limited>::open_or_create("test/limited", test::Limited{21.0, 0});
  ASSERT_TRUE(cell) << cell.error().message();

  auto stored = cell->store(test::Limited{1e9, 1});
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code(), Errc::invalid_argument);
  EXPECT_NE(stored.error().message().find("'celsius' is 1e+09, out of range (5…30, as test/Limited declares)"),
            std::string::npos)
      << stored.error().message();
  EXPECT_FALSE(cell->store(test::Limited{std::nan(""), 1}));
  auto updated = cell->update([](test::Limited& v) { v.celsius = 4.0; });
  ASSERT_FALSE(updated);
  EXPECT_EQ(cell->load().celsius, 21.0);
  EXPECT_EQ(cell->version(), 1U);

  auto declined = cell->update([](test::Limited&) { return false; });
  ASSERT_TRUE(declined);
  EXPECT_EQ(*declined, 1U);
  ASSERT_TRUE(cell->store(test::Limited{30.0, 2}));
  EXPECT_EQ(cell->version(), 2U);

  std::string errors;
  auto [out, code] = test::run_cli({"state", "set", "test/limited", "celsius=31"}, &errors);
  EXPECT_EQ(code, 2) << out << errors;  // invalid_argument (README, "Exit status")
  EXPECT_NE(errors.find("out of range for 'celsius' (declared range 5…30)"), std::string::npos) << errors;
  EXPECT_EQ(cell->load().celsius, 30.0);

  // A tool's untyped handle checks the same range.
  auto untyped = UntypedCell::open("test/limited");
  ASSERT_TRUE(untyped) << untyped.error().message();
  const test::Limited too_cold{1.0, 3};
  const auto raw_stored = untyped->store(&too_cold);
  ASSERT_FALSE(raw_stored);
  EXPECT_EQ(raw_stored.error().code(), Errc::invalid_argument);
  EXPECT_EQ(cell->load().celsius, 30.0);
  EXPECT_EQ(cell->version(), 2U);
}

// Reaches: Cell::open_or_create Errc::type_mismatch
TEST_F(StateTest, AnotherTypeUnderTheSameNameIsAnErrorNamingBoth) {
  ASSERT_TRUE(Cell<test::Counter>::open_or_create("test/typed"));
  auto wrong = Cell<test::Striped>::open_or_create("test/typed");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::type_mismatch);
  EXPECT_NE(wrong.error().message().find("holds test/Counter"), std::string::npos) << wrong.error().message();
  EXPECT_NE(wrong.error().message().find("not test/Striped"), std::string::npos) << wrong.error().message();
}

// Reaches: Cell::open_or_create Errc::invalid_argument
// Reaches: UntypedCell::open Errc::invalid_argument
// Reaches: UntypedCell::open Errc::not_found
TEST_F(StateTest, BadNamesAndUnknownCellsAreRefusedSayingWhy) {
  const std::vector<std::string> bad = {"", "a//b", "/a", "a/", "with space", "ümlaut", std::string(64, 'x')};
  for (const std::string& name : bad) {
    auto cell = Cell<test::Counter>::open_or_create(name);
    ASSERT_FALSE(cell) << name;
    EXPECT_EQ(cell.error().code(), Errc::invalid_argument) << name;
    EXPECT_NE(cell.error().message().find("bad cell name"), std::string::npos) << cell.error().message();
    auto untyped = UntypedCell::open(name);
    ASSERT_FALSE(untyped) << name;
    EXPECT_EQ(untyped.error().code(), Errc::invalid_argument) << name;
  }
  ASSERT_TRUE(Cell<test::Counter>::open_or_create("test/known"));
  auto unknown = UntypedCell::open("test/unknown");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Errc::not_found);
  EXPECT_NE(unknown.error().message().find("there are: "), std::string::npos) << unknown.error().message();
  EXPECT_NE(unknown.error().message().find("test/known"), std::string::npos) << unknown.error().message();
}

TEST_F(StateTest, ConcurrentWritersAndReadersInManyProcessesNeverSeeATornValue) {
  auto cell = Cell<test::Striped>::open_or_create("test/torture");
  ASSERT_TRUE(cell);
  std::vector<ChildProcess> writers;
  for (int i = 0; i < 2; ++i) {
    auto writer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-write", "test/torture"});
    ASSERT_TRUE(writer);
    ASSERT_EQ(writer->read_line(10s), "writing");
    writers.push_back(std::move(*writer));
  }
  std::vector<ChildProcess> readers;
  for (int i = 0; i < 2; ++i) {
    auto reader = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-read", "test/torture", "2000000"});
    ASSERT_TRUE(reader);
    readers.push_back(std::move(*reader));
  }
  long torn_here = 0;
  for (int i = 0; i < 1'000'000; ++i) torn_here += !test::consistent(cell->load());
  for (auto& reader : readers) {
    const auto line = reader.read_line(120s);
    ASSERT_TRUE(line);
    EXPECT_EQ(line->rfind("reads 2000000 torn 0 changes ", 0), 0U) << *line;
    EXPECT_NE(*line, "reads 2000000 torn 0 changes 0") << "the writers never overlapped the reads";
  }
  EXPECT_EQ(torn_here, 0);
  std::uint64_t stores = 0;
  for (auto& writer : writers) {
    writer.close_stdin();
    const auto line = writer.read_line(30s);
    ASSERT_TRUE(line && line->rfind("wrote ", 0) == 0);
    stores += std::stoull(line->substr(6));
  }
  EXPECT_EQ(cell->version(), 1 + stores) << "every store counted once";
}

TEST_F(StateTest, ReadModifyWritesFromSeveralProcessesLoseNothing) {
  auto cell = Cell<test::Counter>::open_or_create("test/counter");
  ASSERT_TRUE(cell);
  std::vector<ChildProcess> children;
  for (int i = 0; i < 3; ++i) {
    auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-increment", "test/counter", "20000"});
    ASSERT_TRUE(child);
    children.push_back(std::move(*child));
  }
  for (auto& child : children) ASSERT_EQ(child.read_line(10s), "ready");
  for (auto& child : children) ASSERT_EQ(child.read_line(60s), "done");
  EXPECT_EQ(cell->load().value, 60000U);
  EXPECT_EQ(cell->version(), 60001U);
}

TEST_F(StateTest, AWriterKilledMidStoreLeavesTheOldValueAndTheCellWritable) {
  auto cell = Cell<test::BigStriped>::open_or_create("test/crash");
  ASSERT_TRUE(cell);
  const auto before = cell->load_versioned();
  auto writer = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-stall", "test/crash"});
  ASSERT_TRUE(writer);
  // The writer stops itself halfway through copying its value (a hook in
  // Cell::store), holding the cell's writer lock: no luck involved.
  ASSERT_EQ(writer->read_line(10s), "inside a store") << writer->describe();
  ASSERT_TRUE(cell->store_in_progress());
  ASSERT_TRUE(test::consistent(before.first));
  for (int i = 0; i < 1000; ++i) {
    const auto now = cell->load_versioned();
    ASSERT_TRUE(test::consistent(now.first)) << "torn while a writer is stopped mid-store";
    ASSERT_EQ(now.second, before.second);
  }

  ASSERT_TRUE(writer->signal(SIGKILL));
  ASSERT_TRUE(writer->wait(10s));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(test::consistent(cell->load())) << "torn after the writer died";
  }
  EXPECT_EQ(cell->load().words[0], before.first.words[0]) << "the old value, intact";

  auto value = std::make_unique<test::BigStriped>();
  for (auto& word : value->words) word = 0xfeed;
  cell->store(*value);  // the dead writer's lock is recovered, not waited for
  EXPECT_EQ(cell->load().words[8191], 0xfeedU);
  EXPECT_TRUE(test::consistent(cell->load()));
  EXPECT_EQ(cell->version(), before.second + 1);
  EXPECT_FALSE(cell->store_in_progress());
}

TEST_F(StateTest, WaitForChangeWakesOnAStoreInAnotherProcess) {
  ASSERT_TRUE(VirtualClock::attach());
  ASSERT_TRUE(VirtualClock::set_stepped());  // time stands: only the store can end the wait
  auto cell = Cell<test::Counter>::open_or_create("test/wait");
  ASSERT_TRUE(cell);
  auto waiter = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-wait", "test/wait", "1"});
  ASSERT_TRUE(waiter);
  ASSERT_EQ(waiter->read_line(10s), "waiting");
  ASSERT_TRUE(test::sleeps_in_futex(waiter->pid(), 10s)) << "the waiter never went to sleep";
  cell->store(test::Counter{5});
  // Woken by the store, not by its 1 s re-check: no slice slept out.
  EXPECT_EQ(waiter->read_line(10s), "changed 2 after 0 slices slept out");
}

// A process that uses only cells (no Node, no explicit attach) waits on the
// bus's virtual time too: while the clock stands, its timeout never comes.
TEST_F(StateTest, AWaitInAProcessThatUsesOnlyCellsRunsOnVirtualTime) {
  ASSERT_TRUE(VirtualClock::attach());
  ASSERT_TRUE(VirtualClock::set_stepped());
  auto cell = Cell<test::Counter>::open_or_create("test/virtual-wait");
  ASSERT_TRUE(cell);
  auto waiter = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-wait", "test/virtual-wait", "1", "50"});
  ASSERT_TRUE(waiter);
  ASSERT_EQ(waiter->read_line(10s), "waiting");
  EXPECT_FALSE(waiter->read_line(500ms)) << "it timed out on real time: 50 ms of virtual time never passed";
  ASSERT_TRUE(VirtualClock::advance(1s));
  const auto ended = waiter->read_line(10s);
  EXPECT_EQ(ended.value_or("").rfind("timeout after ", 0), 0U) << ended.value_or("(nothing)");
}

// One thread's gate for another, for a chosen interleaving.
class Gate {
 public:
  void open() {
    const std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  void pass() {
    std::unique_lock<std::mutex> lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

// A store wakes a waiter that sleeps, whatever an earlier store's wake-up
// did meanwhile. The interleaving: store A is counted; the waiter, which
// knew A, announces itself and finds nothing new; A's wake-up runs before
// the waiter sleeps (it wakes nobody); store B comes once the waiter
// sleeps. B used to find the waiter's announcement cleared by A and wake
// nobody: the waiter slept out its slice (a second) and saw B late.
TEST_F(StateTest, AStoreWakesASleepingWaiterWhateverAnEarlierStoresWakeUpCleared) {
  static std::optional<Cell<test::Counter>> cell;
  static Gate watcher_looked, a_counted, waiter_announced, a_woke;
  // The clock watcher's first look calls every clock listener, and so wakes
  // every waiter: let it pass before the interleaving starts.
  const std::uint64_t listener = detail::add_clock_listener([](void*) { watcher_looked.open(); }, nullptr);
  watcher_looked.pass();
  cell.emplace(*Cell<test::Counter>::open_or_create("test/late-wake", test::Counter{1}));
  detail::set_mid_wake_hook([] {
    detail::set_mid_wake_hook(nullptr);  // once: store A
    a_counted.open();
    waiter_announced.pass();
  });
  std::thread store_a([] { ASSERT_TRUE(cell->store(test::Counter{2})); });
  a_counted.pass();
  ASSERT_EQ(cell->version(), 2U);

  detail::set_before_sleep_hook([] {
    detail::set_before_sleep_hook(nullptr);  // once: the waiter's first sleep
    waiter_announced.open();
    a_woke.pass();
  });
  const std::uint64_t slept_out = detail::slices_slept_out();
  std::atomic<pid_t> waiter_tid{0};
  bool changed = false;
  std::thread waiter([&] {
    waiter_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    changed = cell->wait_for_change(2, virtual_timeout(60s)).is_ready();
  });
  store_a.join();  // A's wake-up ran, after the waiter's announcement
  a_woke.open();
  while (waiter_tid.load() == 0) std::this_thread::yield();
  ASSERT_TRUE(test::sleeps_in_futex(::getpid(), 10s, waiter_tid.load())) << "the waiter never went to sleep";

  ASSERT_TRUE(cell->store(test::Counter{3}));  // store B
  waiter.join();
  EXPECT_TRUE(changed);
  EXPECT_EQ(cell->load().value, 3U);
  EXPECT_EQ(detail::slices_slept_out(), slept_out) << "B woke nobody: the waiter saw it only when its slice ran out";
  detail::remove_clock_listener(listener);
  cell.reset();
}

// A reader preempted between reading the version and reading the copy it
// names, while two stores pass, labels the value it returns right.
TEST_F(StateTest, AReaderPreemptedAcrossTwoStoresLabelsTheValueWithItsOwnVersion) {
  static std::optional<Cell<test::Counter>> cell;
  cell.emplace(*Cell<test::Counter>::open_or_create("test/label", test::Counter{1}));
  ASSERT_EQ(cell->version(), 1U);
  detail::set_mid_load_hook([] {
    detail::set_mid_load_hook(nullptr);  // once
    cell->store(test::Counter{2});       // version 2
    cell->store(test::Counter{3});       // version 3, into the copy version 1 was in
  });
  const auto [value, version] = cell->load_versioned();
  detail::set_mid_load_hook(nullptr);
  EXPECT_EQ(value.value, version) << "value of version " << value.value << " labelled " << version;
  cell.reset();
}

// A timeout past the end of time waits without end, instead of overflowing
// into the past and returning at once.
TEST_F(StateTest, WaitForChangeWithTheLargestTimeoutWaitsForTheStore) {
  auto cell = Cell<test::Counter>::open_or_create("test/forever");
  ASSERT_TRUE(cell);
  auto waiter = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-wait", "test/forever", "1", "max"});
  ASSERT_TRUE(waiter);
  ASSERT_EQ(waiter->read_line(10s), "waiting");
  EXPECT_FALSE(waiter->read_line(500ms)) << "wait_for_change(duration::max()) returned at once";
  cell->store(test::Counter{7});
  const auto ended = waiter->read_line(10s);
  EXPECT_EQ(ended.value_or("").rfind("changed 2 after ", 0), 0U) << ended.value_or("(nothing)");
}

// A waiter killed while it waits leaves no debt: the next store wakes
// nobody in vain after that (it used to pay a futex wake-up for ever).
TEST_F(StateTest, AWaiterKilledWhileWaitingCostsAtMostOneWakeUp) {
  auto cell = Cell<test::Counter>::open_or_create("test/killed-waiter");
  ASSERT_TRUE(cell);
  const auto untyped = UntypedCell::open("test/killed-waiter");
  ASSERT_TRUE(untyped);
  auto waiter = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-wait", "test/killed-waiter", "1"});
  ASSERT_TRUE(waiter);
  ASSERT_EQ(waiter->read_line(10s), "waiting");
  ASSERT_TRUE(test::sleeps_in_futex(waiter->pid(), 10s)) << "the waiter never went to sleep";
  ASSERT_TRUE(detail::cell_may_have_sleepers(*untyped));
  ASSERT_TRUE(waiter->signal(SIGKILL));
  ASSERT_TRUE(waiter->wait(10s));
  cell->store(test::Counter{2});  // one wake-up, for nobody
  EXPECT_FALSE(detail::cell_may_have_sleepers(*untyped)) << "every later store would pay a futex wake-up";
}

// The clock watcher's first look tells the listeners: a step made between
// a process's first wait and that look wakes the waiter at once, instead
// of after its 1 s re-check. Made to happen: a hook steps the clock there.
TEST_F(StateTest, AStepJustBeforeTheClockWatchersFirstLookWakesTheFirstWaiter) {
  ASSERT_TRUE(VirtualClock::set_stepped());
  auto cell = Cell<test::Counter>::open_or_create("test/first-wait");
  ASSERT_TRUE(cell);
  auto waiter = ChildProcess::spawn({STATEBUS_TEST_CHILD, "state-wait-first", "test/first-wait", "1"});
  ASSERT_TRUE(waiter);
  EXPECT_EQ(waiter->read_line(10s), "timeout after 0 slices slept out") << waiter->describe();
}

TEST_F(StateTest, WaitForChangeTimesOutOnVirtualTime) {
  ASSERT_TRUE(VirtualClock::attach());
  ASSERT_TRUE(VirtualClock::set_stepped());
  auto cell = Cell<test::Counter>::open_or_create("test/timeout");
  ASSERT_TRUE(cell);
  const auto deadline = VirtualClock::now() + 10min;  // taken before the step, not racing it
  bool changed = true;
  VirtualClock::time_point returned_at{};
  std::thread waiter([&] {
    changed = cell->wait_for_change_until(1, deadline).is_ready();
    returned_at = VirtualClock::now();
  });
  ASSERT_TRUE(VirtualClock::advance(5min));
  ASSERT_TRUE(VirtualClock::advance(6min));
  waiter.join();
  EXPECT_FALSE(changed);
  EXPECT_GE(returned_at, deadline) << "the wait returned before its virtual deadline";
}

// Reaches: Cell::open_or_create Errc::out_of_resources
TEST_F(StateTest, AFullRegistryIsAnErrorNotACrash) {
  const std::size_t existing = list_cells()->size();  // 0 when run alone, as ctest does
  std::size_t created = 0;
  Result<Cell<test::Counter>> last = Cell<test::Counter>::open_or_create("test/fill/0");
  while (last) {
    ++created;
    last = Cell<test::Counter>::open_or_create("test/fill/" + std::to_string(created));
  }
  EXPECT_EQ(last.error().code(), Errc::out_of_resources);
  EXPECT_NE(last.error().message().find("at most 256 cells"), std::string::npos) << last.error().message();
  EXPECT_EQ(existing + created, 256U);
  auto listed = list_cells();
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 256U);
  EXPECT_TRUE(Cell<test::Counter>::open_or_create("test/fill/3")) << "existing cells still open";
}

TEST_F(StateTest, CommandListsReadsAndWritesCellsFieldByField) {
  using test::run_cli;
  auto cell = Cell<test::Thermostat>::open_or_create("test/thermostat");
  ASSERT_TRUE(cell);
  auto [out, code] = run_cli({"state"});
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("test/thermostat"), std::string::npos) << out;
  EXPECT_NE(out.find("test/Thermostat"), std::string::npos) << out;

  std::tie(out, code) = run_cli({"state", "get", "test/thermostat"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "{celsius: 21, band: 0.5, mode: heat, level: 3, room: \"living\"}\n");
  std::tie(out, code) = run_cli({"state", "get", "test/thermostat", "--json"});
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("\"mode\":\"heat\""), std::string::npos) << out;

  std::tie(out, code) = run_cli({"state", "set", "test/thermostat", "celsius=22.5", "mode=eco", "room=kitchen"});
  EXPECT_EQ(code, 0) << out;
  const test::Thermostat now = cell->load();
  EXPECT_EQ(now.celsius, 22.5);
  EXPECT_EQ(now.mode, test::Mode::eco);
  EXPECT_STREQ(now.room, "kitchen");
  EXPECT_EQ(cell->version(), 2U) << "one store for all fields";
}

TEST_F(StateTest, CommandRefusesBadFieldsAndValuesStoringNothing) {
  using test::run_cli;
  auto cell = Cell<test::Thermostat>::open_or_create("test/thermostat");
  ASSERT_TRUE(cell);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"state", "set", "test/thermostat", "celsius=23", "level=300"}, "out of range"},
      {{"state", "set", "test/thermostat", "celsus=23"}, "its fields are: celsius, band, mode, level, room"},
      {{"state", "set", "test/thermostat", "mode=turbo"}, "heat = 1"},
      {{"state", "set", "test/thermostat", "celsius"}, "is not FIELD=VALUE"},
      {{"state", "get", "test/nothing"}, "no cell 'test/nothing'"},
      {{"state", "get", "bad//name"}, "bad cell name"},
  };
  for (const Case& c : cases) {
    std::string errors;
    const auto [out, code] = run_cli(c.args, &errors);
    EXPECT_EQ(code, 2) << c.args.back();
    EXPECT_NE(errors.find(c.says), std::string::npos) << c.args.back() << ": " << errors;
  }
  EXPECT_EQ(cell->version(), 1U) << "nothing stored";
  EXPECT_EQ(cell->load().celsius, 21.0);
}

class StateWithoutDaemon : public testkit::PrivateBusTest {};

// Reaches: Cell::open_or_create Errc::no_daemon
TEST_F(StateWithoutDaemon, OpenSaysToStartTheDaemon) {
  auto cell = Cell<test::Counter>::open_or_create("test/nodaemon");
  ASSERT_FALSE(cell);
  EXPECT_EQ(cell.error().code(), Errc::no_daemon);
  EXPECT_NE(cell.error().message().find("statebus daemon"), std::string::npos) << cell.error().message();
}

// Reaches: UntypedCell::open Errc::no_daemon
// Reaches: list_cells Errc::no_daemon
TEST_F(StateWithoutDaemon, ToolsOpeningOrListingCellsAreToldToStartTheDaemon) {
  const auto opened = UntypedCell::open("test/nodaemon");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), Errc::no_daemon);
  EXPECT_NE(opened.error().message().find("statebus daemon"), std::string::npos) << opened.error().message();

  const auto listed = list_cells();
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code(), Errc::no_daemon);
}

// Reaches: UntypedCell::open_or_create Errc::type_mismatch
TEST_F(StateTest, OpenOrCreateWithAnotherSchemaIsRefusedAndTheCellKeepsItsType) {
  ASSERT_TRUE(Cell<test::Counter>::open_or_create("test/raw-typed", test::Counter{5}));
  const test::Striped initial{};

  const auto sut = UntypedCell::open_or_create("test/raw-typed", schema_of<test::Striped>(), &initial);

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::type_mismatch);
  EXPECT_NE(sut.error().message().find("test/Counter"), std::string::npos) << sut.error().message();
  auto kept = Cell<test::Counter>::open_or_create("test/raw-typed");
  ASSERT_TRUE(kept) << kept.error().message();
  EXPECT_EQ(kept->load().value, 5U);
}

}  // namespace
}  // namespace statebus
