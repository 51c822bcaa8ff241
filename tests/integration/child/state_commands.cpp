// statebus-test-child: the commands on state cells. None connects a node:
// a cell is opened by its name alone.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "change_hook.hpp"  // clock/src: the clock watcher's start hook
#include "command.hpp"
#include "sleep_probe.hpp"
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/state/cell.hpp"
#include "store_hook.hpp"  // state/src: a test hook inside Cell::store
#include "test_messages.hpp"

namespace statebus::test::child {
namespace {

int run_state_write(const Args& args, const Node*) {
  auto cell = Cell<Striped>::open_or_create(args[0]);
  if (!cell) return fail_with(cell.error());
  say("writing");
  std::atomic<bool> closed{false};
  std::thread watcher([&] {
    wait_for_stdin_to_close();
    closed = true;
  });
  std::uint64_t n = 0;
  Striped value;
  while (!closed.load(std::memory_order_relaxed)) {
    ++n;
    for (auto& word : value.words) word = n;
    cell->store(value);
  }
  watcher.join();
  say("wrote " + std::to_string(n));
  return 0;
}

int run_state_read(const Args& args, const Node*) {
  auto cell = Cell<Striped>::open_or_create(args[0]);
  if (!cell) return fail_with(cell.error());
  const long reads = std::atol(args[1]);
  long torn = 0;
  long changes = 0;
  std::uint64_t last = 0;
  for (long i = 0; i < reads; ++i) {
    const Striped value = cell->load();
    torn += !consistent(value);
    changes += value.words[0] != last;
    last = value.words[0];
  }
  say("reads " + std::to_string(reads) + " torn " + std::to_string(torn) + " changes " + std::to_string(changes));
  return 0;
}

int run_state_stall(const Args& args, const Node*) {
  auto cell = Cell<BigStriped>::open_or_create(args[0]);
  if (!cell) return fail_with(cell.error());
  detail::set_mid_store_hook([] {
    say("inside a store");
    for (;;) ::pause();  // the writer lock held, half the spare copy written
  });
  auto value = std::make_unique<BigStriped>();
  for (auto& word : value->words) word = 7;
  cell->store(*value);
  return 1;  // not reached
}

int run_state_increment(const Args& args, const Node*) {
  auto cell = Cell<Counter>::open_or_create(args[0]);
  if (!cell) return fail_with(cell.error());
  say("ready");
  const long n = std::atol(args[1]);
  for (long i = 0; i < n; ++i) cell->update([](Counter& c) { ++c.value; });
  say("done");
  wait_for_stdin_to_close();
  return 0;
}

int run_state_wait_first(const Args& args, const Node*) {
  // The first wait of this process on virtual time, while the clock
  // stands: its watcher thread, before its first look, waits until this
  // thread sleeps and steps the clock past the deadline.
  auto cell = Cell<Counter>::open_or_create(args[0]);
  if (!cell) return fail_with(cell.error());
  detail::set_watcher_start_hook([] {
    if (!sleeps_in_futex(::getpid(), std::chrono::seconds(10))) return;
    (void)VirtualClock::advance(std::chrono::seconds(2));
  });
  const Waited changed =
      cell->wait_for_change_until(std::strtoull(args[1], nullptr, 10), VirtualClock::now() + std::chrono::seconds(1));
  say(std::string(changed            ? "changed"
                  : changed.failed() ? "failed"
                                     : "timeout") +
      " after " + std::to_string(detail::slices_slept_out()) + " slices slept out");
  return 0;
}

int run_state_wait(const Args& args, const Node*) {
  auto cell = Cell<Counter>::open_or_create(args[0]);
  if (!cell) return fail_with(cell.error());
  say("waiting");
  // At most args[2] ms of virtual time ("max": duration::max()); default 1 h.
  const char* limit = args.size() >= 3 ? args[2] : nullptr;
  const VirtualClock::duration timeout =
      limit == nullptr                ? VirtualClock::duration(std::chrono::hours(1))
      : std::string(limit) == "max"   ? VirtualClock::duration::max()
                                      : VirtualClock::duration(std::chrono::milliseconds(std::atoll(limit)));
  const Waited changed = cell->wait_for_change(std::strtoull(args[1], nullptr, 10), virtual_timeout(timeout));
  say((changed ? "changed " + std::to_string(cell->version()) : std::string(changed.failed() ? "failed" : "timeout")) +
      " after " + std::to_string(detail::slices_slept_out()) + " slices slept out");
  wait_for_stdin_to_close();
  return 0;
}

}  // namespace

std::vector<Command> state_commands() {
  return {
      {"state-write", "CELL",
       "store Striped values (all words = i) until stdin closes; \"writing\" first, \"wrote N\" at\n"
       "the end",
       1, kAnyMore, Setup::none, run_state_write},
      {"state-read", "CELL N", "N loads of a Striped cell; \"reads N torn T changes C\"", 2, kAnyMore, Setup::none,
       run_state_read},
      {"state-stall", "CELL",
       "store BigStriped values: \"inside a store\" once the first store is half written, then\n"
       "wait there until killed",
       1, kAnyMore, Setup::none, run_state_stall},
      {"state-increment", "CELL N",
       "\"ready\", N read-modify-writes adding 1 to a Counter, \"done\", then waits for stdin to\n"
       "close",
       2, kAnyMore, Setup::none, run_state_increment},
      {"state-wait-first", "CELL VERSION",
       "a first wait for a change (1 s of virtual time) that a step crosses just before the\n"
       "clock watcher's first look; \"timeout after <n> slices slept out\" (or \"changed after …\")",
       2, kAnyMore, Setup::none, run_state_wait_first},
      {"state-wait", "CELL VERSION [MS]",
       "\"waiting\", then wait for a store newer than VERSION (at most MS of virtual time, \"max\":\n"
       "no limit, default 1 h); \"changed V\" or \"timeout\", then \" after <n> slices slept out\";\n"
       "then waits for stdin to close",
       2, kAnyMore, Setup::none, run_state_wait},
  };
}

}  // namespace statebus::test::child
