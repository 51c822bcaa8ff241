#pragma once
// Waits for a condition iceoryx 2.0 has no event for (a subscriber or a
// publisher connected), with a short back-off, failing once the bus is
// gone. Start-up only, never a hot path. Internal to bus/src.

#include <algorithm>
#include <chrono>
#include <thread>

#include "statebus/base/waited.hpp"
#include "statebus/internal/iceoryx.hpp"

namespace statebus::detail {

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

}  // namespace statebus::detail
