#include "stress_worker.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "change_hook.hpp"  // clock/src: a hook inside every change of the clock
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"
#include "test_messages.hpp"

namespace statebus::test {
namespace {

std::atomic<int>* g_counters = nullptr;  // [0] clock writers inside now, [1] overlaps seen

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int violation(const std::string& what) {
  say("VIOLATION " + what);
  return 3;
}

}  // namespace

int run_stress_worker(const Node& node, unsigned seed, const char* counters) {
  const int fd = ::open(counters, O_RDWR);
  if (fd < 0) return violation(std::string("cannot open ") + counters);
  g_counters = static_cast<std::atomic<int>*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ::close(fd);
  detail::set_mid_change_hook([] {
    if (g_counters[0].fetch_add(1) != 0) g_counters[1].fetch_add(1);
    g_counters[0].fetch_sub(1);
  });
  auto cell = Cell<Striped>::open_or_create("stress/striped");
  if (!cell) return violation("cannot open the cell: " + cell.error().message());
  std::mt19937 random(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
  auto last = VirtualClock::now();
  std::uint64_t last_version = 0;
  say("ready");
  for (std::uint64_t op = 1;; ++op) {
    const auto now = VirtualClock::now();
    if (now < last) return violation("time went back by " + std::to_string((last - now).count()) + " ns");
    last = now;
    switch (pick(8)) {
      case 0:
      case 1: {  // read: never torn, labelled with the version it holds, versions never back
        const auto [value, version] = cell->load_versioned();
        if (!consistent(value)) return violation("a torn value");
        if (value.words[0] != version) {
          return violation("value of version " + std::to_string(value.words[0]) + " labelled " +
                           std::to_string(version));
        }
        if (version < last_version) return violation("the version went back");
        last_version = version;
        break;
      }
      case 2:
      case 3: {  // read-modify-write: every value is its own version
        cell->update([](Striped& value) {
          const std::uint64_t next = value.words[0] + 1;
          for (auto& word : value.words) word = next;
        });
        break;
      }
      case 4: {  // wait a little virtual time for a change
        const std::uint64_t seen = cell->version();
        const auto deadline = VirtualClock::now() + std::chrono::microseconds(pick(2000));
        const Waited changed = cell->wait_for_change_until(seen, deadline);
        if (!changed && VirtualClock::now() < deadline) return violation("a wait ended before its deadline, unchanged");
        if (changed && cell->version() <= seen) return violation("a wait said changed, but the version did not move");
        break;
      }
      case 5: {  // change the clock, as a driver would
        const auto status = VirtualClock::status();
        if (status.mode == ClockMode::stepped) (void)VirtualClock::advance(std::chrono::microseconds(pick(1000)));
        break;
      }
      case 6: {  // an event loop joins (lockstep), waits for a timer, leaves
        if (pick(8) != 0) break;
        auto loop = EventLoop::create(node);
        if (!loop) return violation("no event loop: " + loop.error().message());
        const auto due = VirtualClock::now() + std::chrono::microseconds(1 + pick(500));
        loop->at(due, [&] {
          if (VirtualClock::now() < due) (void)violation("a timer ran before its time");
          loop->stop();
        });
        loop->every(std::chrono::milliseconds(1), [&] { loop->stop(); });  // and never longer than a tick
        if (auto ran = loop->run(); !ran) return violation("the loop failed: " + ran.error().message());
        break;
      }
      default: break;
    }
    if (op % 64 == 0) say("n");
  }
}

}  // namespace statebus::test
