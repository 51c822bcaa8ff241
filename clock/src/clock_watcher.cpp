// The process's clock watcher: one thread that sleeps on the clock's futex
// word and calls the listeners (waits on virtual time) after every change.
#include <map>
#include <mutex>
#include <thread>

#include "clock_core.hpp"

namespace statebus {

using namespace clockwork;

void detail::set_watcher_start_hook(ChangeHook hook) noexcept {
  g_watcher_start_hook.store(hook, std::memory_order_relaxed);
}

namespace {

// One thread per process watches the clock's futex word and tells the
// listeners (bus waits on virtual time) that the clock changed.
struct Listeners {
  struct Entry {
    void (*call)(void*);
    void* context;
    bool jumps;  // also called for lockstep jumps
  };
  std::mutex mutex;
  std::map<std::uint64_t, Entry> entries;
  std::uint64_t next_id = 1;
  bool watching = false;
  std::atomic<int> taking_jumps{0};  // entries with `jumps`
};

Listeners& listeners() {
  static Listeners* instance = new Listeners();  // never destroyed: the watcher may run until exit
  return *instance;
}

// Its first look tells the listeners too: a change made between the first
// listener's registration and that look would otherwise go unseen, and its
// waiter would sleep out its slice (up to a second). A needless call only
// makes a waiter look again.
// While no listener takes lockstep jumps (the process's only listeners are
// event loops, which the bell wakes), it sleeps on the word jumps leave
// alone, so that a lockstep day does not wake it 86 400 times.
void watch_clock() {
  Listeners& all = listeners();
  std::uint32_t seen = 0;
  bool seen_jumps = true;
  bool first = true;
  if (const detail::ChangeHook hook = g_watcher_start_hook.load(std::memory_order_relaxed)) hook();
  for (;;) {
    ClockState* state = g_segment.get();
    if (state == nullptr) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // no clock: nothing will change
      continue;
    }
    const bool jumps = all.taking_jumps.load(std::memory_order_seq_cst) > 0;
    detail::EventCount word(jumps ? state->wake : state->wake_but_jumps);
    const std::uint32_t wake = word.prepare();  // a change after this makes the sleep return at once
    // A listener taking jumps added since the first read kicks the word we
    // read after it: look again rather than sleep on the wrong word.
    if ((all.taking_jumps.load(std::memory_order_seq_cst) > 0) != jumps) continue;
    if (first || jumps != seen_jumps || wake != seen) {
      std::lock_guard<std::mutex> guard(all.mutex);
      for (auto& [id, entry] : all.entries) entry.call(entry.context);
    }
    first = false;
    seen = wake;
    seen_jumps = jumps;
    word.sleep(wake, 1'000'000'000);  // re-read the segment now and then: a process may attach later
  }
}

}  // namespace

std::uint64_t detail::add_clock_listener(void (*listener)(void*), void* context, ClockChanges changes) {
  Listeners& all = listeners();
  std::lock_guard<std::mutex> guard(all.mutex);
  const std::uint64_t id = all.next_id++;
  const bool jumps = changes == ClockChanges::all;
  all.entries.emplace(id, Listeners::Entry{listener, context, jumps});
  if (jumps && all.taking_jumps.fetch_add(1, std::memory_order_seq_cst) == 0) {
    // The watcher may sleep on the word jumps leave alone: kick it over.
    if (ClockState* state = g_segment.get()) {
      detail::EventCount(state->wake_but_jumps).notify();
    }
  }
  if (!all.watching) {
    all.watching = true;
    std::thread(watch_clock).detach();
  }
  return id;
}

void detail::remove_clock_listener(std::uint64_t id) noexcept {
  Listeners& all = listeners();
  std::lock_guard<std::mutex> guard(all.mutex);
  const auto entry = all.entries.find(id);
  if (entry == all.entries.end()) return;
  if (entry->second.jumps) all.taking_jumps.fetch_sub(1, std::memory_order_seq_cst);
  all.entries.erase(entry);
}

}  // namespace statebus
