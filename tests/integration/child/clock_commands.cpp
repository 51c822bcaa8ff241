// statebus-test-child: the commands on the bus's clock, event loops and
// lockstep.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "change_hook.hpp"  // clock/src: a test hook inside every change of the clock
#include "command.hpp"
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "stress_worker.hpp"
#include "test_messages.hpp"

namespace statebus::test::child {
namespace {

using namespace std::chrono_literals;

int run_clock_now(const Args&, const Node*) {
  say(std::to_string(VirtualClock::now().time_since_epoch().count()));
  wait_for_stdin_to_close();
  return 0;
}

int run_clock_churn(const Args&, const Node*) {
  // Most of its time inside changes (a hook lingers there ~100 µs, far
  // longer than the wake-ups after a change), so that a kill at a random
  // moment often lands mid-change.
  detail::set_mid_change_hook([] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    while (std::chrono::steady_clock::now() < until) {
    }
  });
  for (std::uint64_t i = 1;; ++i) {
    if (!VirtualClock::advance(std::chrono::nanoseconds(1))) return 1;
    if (i % 256 == 0) say("n");
  }
}

int run_clock_stall(const Args&, const Node*) {
  detail::set_mid_change_hook([] {
    say("inside a change");
    for (;;) ::pause();
  });
  (void)VirtualClock::advance(std::chrono::nanoseconds(1));
  return 1;  // never reached
}

int run_clock_exclusive(const Args& args, const Node*) {
  const int fd = ::open(args[2], O_RDWR);
  if (fd < 0) return 1;
  static std::atomic<int>* shared = nullptr;  // [0] writers inside now, [1] overlaps seen
  shared = static_cast<std::atomic<int>*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ::close(fd);
  if (shared == MAP_FAILED) return 1;
  detail::set_mid_change_hook([] {
    if (shared[0].fetch_add(1) != 0) shared[1].fetch_add(1);
    for (int i = 0; i < 200; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);  // stay inside a while
    shared[0].fetch_sub(1);
  });
  say("ready");
  for (long i = 0; i < std::atol(args[1]); ++i) {
    if (!VirtualClock::advance(std::chrono::nanoseconds(1))) return 1;
  }
  say("overlaps " + std::to_string(shared[1].load()));
  return 0;
}

// Sleeps to a virtual deadline, says when woken.
int run_sleep_until(const Args& args, const Node*) {
  const VirtualClock::time_point deadline{VirtualClock::duration(std::atoll(args[1]))};
  say("sleeping");
  VirtualClock::sleep_until(deadline);
  say("woke " + std::to_string(VirtualClock::now().time_since_epoch().count()) + " after " +
      std::to_string(detail::slices_slept_out()) + " slices slept out");
  wait_for_stdin_to_close();
  return 0;
}

// Reads the clock N times, checks it never goes back.
int run_monotonic(const Args& args, const Node*) {
  const long reads = std::atol(args[1]);
  say("reading");
  auto last = VirtualClock::now();
  for (long i = 0; i < reads; ++i) {
    const auto now = VirtualClock::now();
    if (now < last) {
      say("backwards by " + std::to_string((last - now).count()) + " ns at read " + std::to_string(i));
      return 1;
    }
    last = now;
  }
  say("ok " + std::to_string(reads));
  return 0;
}

// An event loop: counts 1 s ticks until a report request.
int run_loop_ticks(const Args&, const Node* node) {
  auto report = Subscriber<Reading>::create(*node, "test/report");
  auto loop = EventLoop::create(*node);
  if (!report || !loop) return 1;
  long ticks = 0;
  bool in_order = true;
  auto last_tick = VirtualClock::now();
  loop->every(std::chrono::seconds(1), [&] {
    ++ticks;
    in_order = in_order && loop->tick_time() == last_tick + std::chrono::seconds(1);
    last_tick = loop->tick_time();
  });
  if (!loop->on(*report, [&](const Sample<Reading>&) {
        say("ticks " + std::to_string(ticks) + (in_order ? " in order" : " out of order"));
        loop->stop();
      })) {
    return 1;
  }
  say("ready");
  loop->run();
  wait_for_stdin_to_close();
  return 0;
}

// The events a loop saw, in order, with their virtual time from T0.
struct EventLog {
  VirtualClock::time_point t0;
  long events = 0;
  std::uint64_t hash = 1469598103934665603ULL;
  void add(const std::string& what) {
    const std::string line = what + "@" + std::to_string((VirtualClock::now() - t0).count());
    for (const char c : line) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    ++events;
  }
  std::string summary() const { return "events " + std::to_string(events) + " hash " + std::to_string(hash); }
};

int lockstep_party(const Node& node, bool ping, std::int64_t t0_ns, std::int64_t span_ns) {
  auto out = Publisher<Reading>::create(node, ping ? "test/ping" : "test/pong");
  auto in = Subscriber<Reading>::create(node, ping ? "test/pong" : "test/ping");
  auto loop = EventLoop::create(node);
  if (!out || !in || !loop) return 1;
  EventLog log{VirtualClock::time_point(VirtualClock::duration(t0_ns))};
  long late = 0;
  std::uint64_t pings = 0;
  if (ping) {
    loop->every(60s, [&] {
      Reading reading;
      reading.index = ++pings;
      reading.celsius = static_cast<double>((VirtualClock::now() - log.t0).count());
      log.add((out->publish(reading) ? "ping " : "ping dropped ") + std::to_string(pings));
    });
  }
  loop->every(ping ? 10s : 45s, [&] { log.add("tick"); });
  const bool handled = loop->on(*in, [&](const Sample<Reading>& sample) {
    log.add((ping ? "pong " : "ping ") + std::to_string(sample->index));
    if (ping) {
      late += static_cast<double>((VirtualClock::now() - log.t0).count()) != sample->celsius;
    } else {
      if (!out->publish(*sample)) log.add("pong dropped " + std::to_string(sample->index));
    }
  }).has_value();
  if (!handled) return 1;
  loop->at(log.t0 + VirtualClock::duration(span_ns), [&] {
    say(std::string(ping ? "ping: " : "pong: ") + log.summary() + (ping ? " late " + std::to_string(late) : ""));
    loop->stop();
  });
  if (!out->wait_for_subscribers(10s) || !in->wait_connected(10s)) return 3;
  say("ready");
  loop->run();
  wait_for_stdin_to_close();
  return 0;
}

int run_lockstep_ping(const Args& args, const Node* node) {
  return lockstep_party(*node, true, std::atoll(args[1]), std::atoll(args[2]));
}

int run_lockstep_pong(const Args& args, const Node* node) {
  return lockstep_party(*node, false, std::atoll(args[1]), std::atoll(args[2]));
}

// See stress_worker.hpp.
int run_stress(const Args& args, const Node* node) {
  return run_stress_worker(*node, static_cast<unsigned>(std::strtoul(args[1], nullptr, 10)), args[2]);
}

}  // namespace

std::vector<Command> clock_commands() {
  return {
      {"clock-now", "NAME", "print the virtual time (ns), wait for stdin to close", 1, kAnyMore, Setup::node,
       run_clock_now},
      {"clock-churn", "NAME",
       "advance the (stepped) clock by 1 ns, forever, lingering ~100 µs inside each change; \"n\"\n"
       "after every 256 steps (to be killed at a random moment, often mid-change)",
       1, kAnyMore, Setup::node, run_clock_churn},
      {"clock-stall", "NAME",
       "advance the (stepped) clock by 1 ns, stopping inside the change: \"inside a change\", then\n"
       "wait there until killed",
       1, kAnyMore, Setup::node, run_clock_stall},
      {"clock-exclusive", "NAME N FILE",
       "\"ready\", then N advances of 1 ns; inside each change, count in FILE (a shared int pair)\n"
       "how many writers are inside at once; \"overlaps K\"",
       3, 3, Setup::node, run_clock_exclusive},
      {"sleep-until", "NAME NS",
       "print \"sleeping\", sleep to virtual time NS, print \"woke <now> after <n> slices slept\n"
       "out\" (n > 0: a wake-up that should have come did not), wait for stdin to close",
       2, 2, Setup::node, run_sleep_until},
      {"monotonic", "NAME N",
       "\"reading\", then read the clock N times; \"ok N\" or \"backwards by …\"; exit 1 if so", 2, 2,
       Setup::node, run_monotonic},
      {"loop-ticks", "NAME",
       "event loop with a 1 s timer: \"ready\"; on a sample on test/report prints \"ticks N in\n"
       "order\" (or \"out of order\") and stops; then waits for stdin to close",
       1, kAnyMore, Setup::node, run_loop_ticks},
      {"lockstep-ping", "NAME T0 SPAN",
       "loops from virtual time T0 (ns) to T0 + SPAN (ns): a ping every 60 s on test/ping, a tick\n"
       "every 10 s, pongs from test/pong; \"ready\" once connected both ways (exit 3 after 10 s);\n"
       "at the end prints \"ping: events N hash H late L\" (late: pongs that came at another\n"
       "virtual time than their ping), then waits for stdin to close",
       3, 3, Setup::node, run_lockstep_ping},
      {"lockstep-pong", "NAME T0 SPAN",
       "answers each ping with a pong, ticks every 45 s; \"ready\" as for lockstep-ping; at the end\n"
       "prints \"pong: events N hash H\", then waits for stdin to close",
       3, 3, Setup::node, run_lockstep_pong},
      {"stress", "NAME SEED FILE", "random clock and cell operations for the stress (stress_worker.hpp)", 3, 3,
       Setup::node, run_stress},
  };
}

}  // namespace statebus::test::child
