#include "statebus/testing/matchers.hpp"

#include <cstdio>

namespace statebus::testkit::detail {

std::string describe_virtual(VirtualClock::time_point time) {
  // Virtual time as hours:minutes:seconds since the clock's zero, the way a
  // test that starts its day at t0 = 0 reads it; the raw count follows.
  const std::int64_t ns = time.time_since_epoch().count();
  const std::int64_t total_ms = ns / 1000000;
  const std::int64_t h = total_ms / 3600000;
  const std::int64_t m = total_ms / 60000 % 60;
  const std::int64_t s = total_ms / 1000 % 60;
  const std::int64_t ms = total_ms % 1000;
  char text[96];
  std::snprintf(text, sizeof text, "%02lld:%02lld:%02lld.%03lld (%lld ns)", static_cast<long long>(h),
                static_cast<long long>(m), static_cast<long long>(s), static_cast<long long>(ms),
                static_cast<long long>(ns));
  return text;
}

}  // namespace statebus::testkit::detail
