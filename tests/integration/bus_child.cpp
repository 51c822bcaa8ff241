// statebus-test-child: the other process in multi-process bus tests.
//   publish NAME CHANNEL COUNT [HISTORY [TYPE]]
//       connect as NAME, wait for a subscriber, publish COUNT samples of TYPE
//       (reading | renamed; index 1..COUNT) with publisher history HISTORY,
//       print "sent COUNT"; then read commands from stdin:
//       "drop" destroys the publisher and prints "dropped"; end of input exits
//   untyped NAME CHANNEL SIZE...
//       publish one byte payload of each SIZE (byte i = (i + SIZE) % 251),
//       print "sent N", wait for stdin to close
//   log NAME N [ERROR]       log_to_bus as NAME, wait for a subscriber of the log channel, log
//                            N info records "record I of NAME", one warning "NAME is done" and,
//                            if given, the error ERROR; print "logged N"; wait for stdin to close
//   lossless-sink NAME CHANNEL  a lossless subscriber of Reading that never takes; "ready", then
//                            waits for stdin to close
//   hold NAME                connect as NAME, print "ready", wait for stdin to close
//   loop-until-lost NAME [CHANNEL]  an event loop (taking every Reading on CHANNEL, if given):
//                            "ready", then when run() fails, prints "lost CODE MESSAGE" and exits 0
//                            (1 if run() returned without error)
//   flood NAME CHANNEL       publish Readings as fast as it can, "ready" first, then a line "n"
//                            after every 256 samples, forever (to be killed at a random moment)
//   own-daemon NAME          in a bus of its own: start a daemon, connect as NAME, log through
//                            the bus sink, publish, stop the daemon while the node, a publisher
//                            and the sink live on, print "stopped", exit (must exit 0)
//   connect NAME TIMEOUT_MS  try to connect; print "ok" or the error code and message
//   loan-hold NAME CHANNEL N  loan N Readings and keep them unpublished: "holding N", then waits
//                            for stdin to close (to be SIGKILLed holding them)
//   take-hold NAME CHANNEL N  take N Readings and keep them: "ready" once subscribed, "holding N"
//                            once it holds N, then waits for stdin to close
//   clock-now NAME           print the virtual time (ns), wait for stdin to close
//   clock-churn NAME         advance the (stepped) clock by 1 ns, forever, lingering ~100 µs inside
//                            each change; "n" after every 256 steps (to be killed at a random
//                            moment, often mid-change)
//   sleep-until NAME NS      print "sleeping", sleep to virtual time NS, print "woke <now> after
//                            <n> slices slept out" (n > 0: a wake-up that should have come did not)
//   monotonic NAME N         read the clock N times; "ok N" or "backwards by …"; exit 1 if so
//   loop-ticks NAME          event loop with a 1 s timer; on a sample on test/report prints
//                            "ticks N in order" and stops
//   state-write CELL          store Striped values (all words = i) until stdin closes; "writing"
//                            first, "wrote N" at the end
//   state-read CELL N         N loads of a Striped cell; "reads N torn T changes C"
//   stress NAME SEED FILE    random clock and cell operations for the stress (stress_worker.hpp)
//   clock-stall NAME         advance the (stepped) clock by 1 ns, stopping inside the change:
//                            "inside a change", then wait there until killed
//   clock-exclusive NAME N FILE   N advances of 1 ns; inside each change, count in FILE (a
//                            shared int pair) how many writers are inside at once; "overlaps K"
//   state-stall CELL          store BigStriped values: "inside a store" once the first store is
//                            half written, then wait there until killed
//   state-increment CELL N    N read-modify-writes adding 1 to a Counter; "done"
//   state-wait-first CELL VERSION  a first wait for a change (1 s of virtual time) that a step
//                            crosses just before the clock watcher's first look; "timeout after
//                            <n> slices slept out"
//   state-wait CELL VERSION [MS]   "waiting", then wait for a store newer than VERSION (at most MS
//                            of virtual time, default 1 h); "changed V" or "timeout"
//   lockstep-ping NAME T0 SPAN   loops from virtual time T0 (ns) to T0 + SPAN (ns): a ping every
//                            60 s on test/ping, a tick every 10 s, pongs from test/pong; then
//                            prints "ping: events N hash H late L" (late: pongs that came at
//                            another virtual time than their ping)
//   lockstep-pong NAME T0 SPAN   answers each ping with a pong, ticks every 45 s; then prints
//                            "pong: events N hash H"
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/mman.h>

#include "change_hook.hpp"  // clock/src: a test hook inside every change of the clock
#include "store_hook.hpp"   // state/src: a test hook inside Cell::store

#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/private_bus.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "sleep_probe.hpp"
#include "stress_worker.hpp"
#include "test_messages.hpp"

namespace {

using namespace std::chrono_literals;

void wait_for_stdin_to_close() {
  char buffer[64];
  while (::read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: statebus-test-child publish NAME CHANNEL COUNT [HISTORY [TYPE]] | untyped NAME CHANNEL SIZE... "
               "| hold NAME | connect NAME TIMEOUT_MS\n");
  return 2;
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int fail_with(const statebus::Error& error) {
  say(std::string(statebus::to_string(error.code())) + " " + error.message());
  return 1;
}

template <class T>
int publish(const statebus::Node& node, const char* channel, long count, std::uint32_t history) {
  std::optional<statebus::Publisher<T>> pub;
  {
    auto created = statebus::Publisher<T>::create(node, channel, statebus::PublisherOptions{history, false});
    if (!created) {
      std::fprintf(stderr, "child: %s\n", created.error().message().c_str());
      return 1;
    }
    pub.emplace(std::move(*created));
  }
  if (!pub->wait_for_subscribers(10s)) {
    std::fprintf(stderr, "child: no subscriber within 10 s\n");
    return 3;
  }
  for (long i = 1; i <= count; ++i) {
    T value{};
    if constexpr (std::is_same_v<T, statebus::test::Renamed>) {
      value.number = static_cast<std::uint64_t>(i);
    } else {
      value.index = static_cast<std::uint64_t>(i);
    }
    value.celsius = 20.0 + static_cast<double>(i) / 100.0;
    std::snprintf(value.room, sizeof value.room, "room-%ld", i % 7);
    if (!pub->publish(value)) {
      std::fprintf(stderr, "child: pools exhausted at %ld\n", i);
      return 4;
    }
  }
  say("sent " + std::to_string(count));
  std::string command;
  while (std::getline(std::cin, command)) {
    if (command == "drop") {
      pub.reset();
      say("dropped");
    }
  }
  return 0;
}

int publish_untyped(const statebus::Node& node, const char* channel, const std::vector<std::size_t>& sizes) {
  auto pub = statebus::UntypedPublisher::create(node, channel);
  if (!pub) {
    std::fprintf(stderr, "child: %s\n", pub.error().message().c_str());
    return 1;
  }
  if (!pub->wait_for_subscribers(10s)) return 3;
  for (const std::size_t size : sizes) {
    auto loan = pub->loan(size);
    if (!loan) {
      std::fprintf(stderr, "child: no loan of %zu bytes\n", size);
      return 4;
    }
    for (std::size_t i = 0; i < size; ++i) loan->data()[i] = static_cast<std::byte>((i + size) % 251);
    pub->publish(std::move(*loan));
  }
  say("sent " + std::to_string(sizes.size()));
  wait_for_stdin_to_close();
  return 0;
}

// The events a loop saw, in order, with their virtual time from T0.
struct EventLog {
  statebus::VirtualClock::time_point t0;
  long events = 0;
  std::uint64_t hash = 1469598103934665603ULL;
  void add(const std::string& what) {
    const std::string line = what + "@" + std::to_string((statebus::VirtualClock::now() - t0).count());
    for (const char c : line) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    ++events;
  }
  std::string summary() const { return "events " + std::to_string(events) + " hash " + std::to_string(hash); }
};

int lockstep_party(const statebus::Node& node, bool ping, std::int64_t t0_ns, std::int64_t span_ns) {
  using statebus::test::Reading;
  using statebus::VirtualClock;
  auto out = statebus::Publisher<Reading>::create(node, ping ? "test/ping" : "test/pong");
  auto in = statebus::Subscriber<Reading>::create(node, ping ? "test/pong" : "test/ping");
  auto loop = statebus::EventLoop::create(node);
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
  const bool handled = loop->on(*in, [&](const statebus::Sample<Reading>& sample) {
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

int state_command(const std::string& command, const char* name, const char* arg, const char* extra) {
  using namespace statebus::test;
  if (command == "state-write") {
    auto cell = statebus::Cell<Striped>::open(name);
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
  if (command == "state-read" && arg != nullptr) {
    auto cell = statebus::Cell<Striped>::open(name);
    if (!cell) return fail_with(cell.error());
    const long reads = std::atol(arg);
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
  if (command == "state-stall") {
    auto cell = statebus::Cell<BigStriped>::open(name);
    if (!cell) return fail_with(cell.error());
    statebus::detail::set_mid_store_hook([] {
      say("inside a store");
      for (;;) ::pause();  // the writer lock held, half the spare copy written
    });
    auto value = std::make_unique<BigStriped>();
    for (auto& word : value->words) word = 7;
    cell->store(*value);
    return 1;  // not reached
  }
  if (command == "state-increment" && arg != nullptr) {
    auto cell = statebus::Cell<Counter>::open(name);
    if (!cell) return fail_with(cell.error());
    say("ready");
    const long n = std::atol(arg);
    for (long i = 0; i < n; ++i) cell->update([](Counter& c) { ++c.value; });
    say("done");
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "state-wait-first" && arg != nullptr) {
    // The first wait of this process on virtual time, while the clock
    // stands: its watcher thread, before its first look, waits until this
    // thread sleeps and steps the clock past the deadline.
    auto cell = statebus::Cell<Counter>::open(name);
    if (!cell) return fail_with(cell.error());
    statebus::detail::set_watcher_start_hook([] {
      if (!statebus::test::sleeps_in_futex(::getpid(), std::chrono::seconds(10))) return;
      (void)statebus::VirtualClock::advance(std::chrono::seconds(2));
    });
    const bool changed = cell->wait_for_change_until(std::strtoull(arg, nullptr, 10),
                                                     statebus::VirtualClock::now() + std::chrono::seconds(1));
    say(std::string(changed ? "changed" : "timeout") + " after " +
        std::to_string(statebus::detail::slices_slept_out()) + " slices slept out");
    return 0;
  }
  if (command == "state-wait" && arg != nullptr) {
    auto cell = statebus::Cell<Counter>::open(name);
    if (!cell) return fail_with(cell.error());
    say("waiting");
    // At most `extra` ms of virtual time ("max": duration::max()); default 1 h.
    const statebus::VirtualClock::duration timeout =
        extra == nullptr                  ? statebus::VirtualClock::duration(std::chrono::hours(1))
        : std::string(extra) == "max"     ? statebus::VirtualClock::duration::max()
                                          : statebus::VirtualClock::duration(std::chrono::milliseconds(std::atoll(extra)));
    const bool changed = cell->wait_for_change(std::strtoull(arg, nullptr, 10), statebus::virtual_timeout(timeout));
    say((changed ? "changed " + std::to_string(cell->version()) : std::string("timeout")) + " after " +
        std::to_string(statebus::detail::slices_slept_out()) + " slices slept out");
    wait_for_stdin_to_close();
    return 0;
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string command = argv[1];
  if (command == "connect" && argc == 4) {
    auto node = statebus::Node::connect(argv[2], {std::chrono::milliseconds(std::atoi(argv[3]))});
    if (node) {
      say("ok");
    } else {
      say(std::string(statebus::to_string(node.error().code())) + " " + node.error().message());
    }
    return node ? 0 : 1;
  }
  if (command == "own-daemon") {  // a process that stops its own daemon before its node ends
    if (auto isolated = statebus::testkit::isolate_bus(); !isolated) return 2;
    std::optional<statebus::Daemon> daemon;
    if (auto started = statebus::Daemon::start(); started) {
      daemon.emplace(std::move(*started));
    } else {
      std::fprintf(stderr, "child: %s\n", started.error().message().c_str());
      return 1;
    }
    auto node = statebus::Node::connect(argv[2]);
    if (!node || !statebus::log_to_bus(*node)) return 1;
    auto publisher = statebus::Publisher<statebus::test::Reading>::create(*node, "test/own");
    if (!publisher) return 1;
    spdlog::info("logged before the daemon stops");
    (void)publisher->publish(statebus::test::Reading{});
    daemon.reset();
    say("stopped");
    return 0;  // the publisher, the node and the bus log sink are destroyed after the daemon
  }
  if (command.rfind("state-", 0) == 0) return state_command(command, argv[2], argc >= 4 ? argv[3] : nullptr, argc >= 5 ? argv[4] : nullptr);
  auto node = statebus::Node::connect(argv[2]);
  if (!node) {
    std::fprintf(stderr, "child: %s\n", node.error().message().c_str());
    return 1;
  }
  if (command == "loop-until-lost") {  // learn that the bus is gone, from an idle event loop
    auto loop = statebus::EventLoop::create(*node);
    if (!loop) return 1;
    std::optional<statebus::Subscriber<statebus::test::Reading>> sub;
    if (argc >= 4) {
      auto made = statebus::Subscriber<statebus::test::Reading>::create(*node, argv[3]);
      if (!made) return fail_with(made.error());
      sub.emplace(std::move(*made));
      if (!loop->on(*sub, [](const statebus::Sample<statebus::test::Reading>&) {})) return 1;
    }
    say("ready");
    auto ran = loop->run();
    if (ran) return 1;
    say("lost " + std::string(statebus::to_string(ran.error().code())) + " " + ran.error().message());
    return 0;
  }
  if (command == "flood" && argc == 4) {
    auto pub = statebus::Publisher<statebus::test::Reading>::create(*node, argv[3]);
    if (!pub) return fail_with(pub.error());
    say("ready");
    for (std::uint64_t i = 1;; ++i) {
      (void)pub->publish(statebus::test::Reading{i, static_cast<double>(i), {}});
      if (i % 256 == 0) say("n");
    }
  }
  if (command == "churn-subscriber" && argc == 4) {  // subscribe, take, hold, release, unsubscribe: again and again
    say("ready");
    for (;;) {
      auto sub = statebus::Subscriber<statebus::test::Reading>::create(*node, argv[3]);
      if (!sub) return fail_with(sub.error());
      std::vector<statebus::Sample<statebus::test::Reading>> held;
      for (int i = 0; i < 64; ++i) {
        auto sample = sub->take_for(std::chrono::seconds(1));
        if (!sample) break;
        held.push_back(std::move(*sample));
        if (held.size() > 4) held.erase(held.begin());
      }
      say("n");
    }
  }
  if (command == "loan-hold" && argc == 5) {
    auto pub = statebus::Publisher<statebus::test::Reading>::create(*node, argv[3]);
    if (!pub) return fail_with(pub.error());
    std::vector<statebus::Loan<statebus::test::Reading>> held;
    for (int i = 0; i < std::atoi(argv[4]); ++i) {
      auto loan = pub->loan();
      if (!loan) return 1;
      held.push_back(std::move(*loan));
    }
    say("holding " + std::to_string(held.size()));
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "take-hold" && argc == 5) {
    auto sub = statebus::Subscriber<statebus::test::Reading>::create(*node, argv[3]);
    if (!sub) return fail_with(sub.error());
    say("ready");
    const std::size_t want = static_cast<std::size_t>(std::atoi(argv[4]));
    std::vector<statebus::Sample<statebus::test::Reading>> held;
    while (held.size() < want) {
      if (auto sample = sub->take_for(std::chrono::seconds(10))) {
        held.push_back(std::move(*sample));
      } else {
        return 1;
      }
    }
    say("holding " + std::to_string(held.size()));
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "clock-churn") {
    // Most of its time inside changes (a hook lingers there ~100 µs, far
    // longer than the wake-ups after a change), so that a kill at a random
    // moment often lands mid-change.
    statebus::detail::set_mid_change_hook([] {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
      while (std::chrono::steady_clock::now() < until) {
      }
    });
    for (std::uint64_t i = 1;; ++i) {
      if (!statebus::VirtualClock::advance(std::chrono::nanoseconds(1))) return 1;
      if (i % 256 == 0) say("n");
    }
  }
  if (command == "stress" && argc == 5) {  // see stress_worker.hpp
    return statebus::test::run_stress_worker(*node, static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)), argv[4]);
  }
  if (command == "clock-stall") {
    statebus::detail::set_mid_change_hook([] {
      say("inside a change");
      for (;;) ::pause();
    });
    (void)statebus::VirtualClock::advance(std::chrono::nanoseconds(1));
    return 1;  // never reached
  }
  if (command == "clock-exclusive" && argc == 5) {
    const int fd = ::open(argv[4], O_RDWR);
    if (fd < 0) return 1;
    static std::atomic<int>* shared = nullptr;  // [0] writers inside now, [1] overlaps seen
    shared = static_cast<std::atomic<int>*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ::close(fd);
    if (shared == MAP_FAILED) return 1;
    statebus::detail::set_mid_change_hook([] {
      if (shared[0].fetch_add(1) != 0) shared[1].fetch_add(1);
      for (int i = 0; i < 200; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);  // stay inside a while
      shared[0].fetch_sub(1);
    });
    say("ready");
    for (long i = 0; i < std::atol(argv[3]); ++i) {
      if (!statebus::VirtualClock::advance(std::chrono::nanoseconds(1))) return 1;
    }
    say("overlaps " + std::to_string(shared[1].load()));
    return 0;
  }
  if (command == "clock-now") {  // the virtual time this process reads
    say(std::to_string(statebus::VirtualClock::now().time_since_epoch().count()));
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "sleep-until" && argc == 4) {  // sleep to a virtual deadline, say when woken
    const statebus::VirtualClock::time_point deadline{statebus::VirtualClock::duration(std::atoll(argv[3]))};
    say("sleeping");
    statebus::VirtualClock::sleep_until(deadline);
    say("woke " + std::to_string(statebus::VirtualClock::now().time_since_epoch().count()) + " after " +
        std::to_string(statebus::detail::slices_slept_out()) + " slices slept out");
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "monotonic" && argc == 4) {  // read the clock N times, check it never goes back
    const long reads = std::atol(argv[3]);
    say("reading");
    auto last = statebus::VirtualClock::now();
    for (long i = 0; i < reads; ++i) {
      const auto now = statebus::VirtualClock::now();
      if (now < last) {
        say("backwards by " + std::to_string((last - now).count()) + " ns at read " + std::to_string(i));
        return 1;
      }
      last = now;
    }
    say("ok " + std::to_string(reads));
    return 0;
  }
  if (command == "loop-ticks") {  // an event loop: count 1 s ticks until a report request
    auto report = statebus::Subscriber<statebus::test::Reading>::create(*node, "test/report");
    auto loop = statebus::EventLoop::create(*node);
    if (!report || !loop) return 1;
    long ticks = 0;
    bool in_order = true;
    auto last_tick = statebus::VirtualClock::now();
    loop->every(std::chrono::seconds(1), [&] {
      ++ticks;
      in_order = in_order && loop->tick_time() == last_tick + std::chrono::seconds(1);
      last_tick = loop->tick_time();
    });
    if (!loop->on(*report, [&](const statebus::Sample<statebus::test::Reading>&) {
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
  if ((command == "lockstep-ping" || command == "lockstep-pong") && argc == 5) {
    return lockstep_party(*node, command == "lockstep-ping", std::atoll(argv[3]), std::atoll(argv[4]));
  }
  if (command == "log" && (argc == 4 || argc == 5)) {
    spdlog::set_default_logger(spdlog::stderr_color_mt("child"));  // stdout carries the replies
    auto sink = statebus::log_to_bus(*node);
    if (!sink) return fail_with(sink.error());
    if (!(*sink)->wait_for_subscribers(10s)) {
      std::fprintf(stderr, "child: no subscriber of the log channel within 10 s\n");
      return 3;
    }
    const long n = std::atol(argv[3]);
    for (long i = 1; i <= n; ++i) spdlog::info("record {} of {}", i, argv[2]);
    spdlog::warn("{} is done", argv[2]);
    if (argc == 5) spdlog::error("{}", argv[4]);
    say("logged " + std::to_string(n));
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "lossless-sink" && argc == 4) {
    auto sub = statebus::Subscriber<statebus::test::Reading>::create(*node, argv[3],
                                                                     statebus::SubscriberOptions{256, 0, true});
    if (!sub) return fail_with(sub.error());
    say("ready");
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "hold") {
    say("ready");
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "publish" && argc >= 5) {
    const long count = std::atol(argv[4]);
    const auto history = static_cast<std::uint32_t>(argc >= 6 ? std::atoi(argv[5]) : 0);
    const std::string type = argc >= 7 ? argv[6] : "reading";
    if (type == "renamed") return publish<statebus::test::Renamed>(*node, argv[3], count, history);
    return publish<statebus::test::Reading>(*node, argv[3], count, history);
  }
  if (command == "untyped" && argc >= 4) {
    std::vector<std::size_t> sizes;
    for (int i = 4; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
    return publish_untyped(*node, argv[3], sizes);
  }
  return usage();
}
