#pragma once
// Waits on real time that end when the bus does: each looks at the bus
// (bus_gone()) between its sleeps, and fails once it is gone. Internal to
// bus/src.

#include <algorithm>
#include <chrono>
#include <thread>

#include "statebus/base/waited.hpp"
#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/internal/iceoryx.hpp"

namespace statebus::detail {

// Waits for a condition iceoryx 2.0 has no event for (a subscriber or a
// publisher connected), with a short back-off. Start-up only, never a hot
// path.
template <class Condition>
Waited poll_until(Condition&& condition, std::chrono::nanoseconds timeout) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(100);
  while (!condition()) {
    if (auto gone = bus_gone()) return std::move(*gone);
    if (std::chrono::steady_clock::now() >= deadline) return Waited::timed_out();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(5000));
  }
  return Waited::ready();
}

// Blocks until `deadline` in slices of at most RawSubscriber::kBusCheck:
// `block(until)` sleeps until data comes (true) or `until` passes (false);
// before each slice a look at the bus. For the part of a wait after its
// first look (a first slice may spin or block without looking: the bus was
// there a moment ago).
template <class Block>
Waited block_in_slices(std::chrono::steady_clock::time_point deadline, Block&& block) noexcept {
  for (;;) {
    if (auto gone = bus_gone()) return std::move(*gone);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Waited::timed_out();
    if (block(std::min(deadline, now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                           RawSubscriber::kBusCheck)))) {
      return Waited::ready();
    }
  }
}

}  // namespace statebus::detail
