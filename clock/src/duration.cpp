#include "statebus/clock/duration.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace statebus {

Result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::size_t at, const std::string& what) {
    return fail(Errc::invalid_argument, "duration '" + std::string(text) + "': " + what + " at position " +
                                            std::to_string(at) + "; write it like 90s, 15m, 24h, 1h30m or 250ms");
  };
  if (text.empty()) return bad(0, "empty");
  long double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t number_start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == number_start) return bad(i, text[i] == '-' ? "negative durations are not allowed" : "a number is missing");
    const std::string number(text.substr(number_start, i - number_start));
    char* end = nullptr;
    const long double value = std::strtold(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return bad(number_start, "'" + number + "' is not a number");
    const std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    long double scale = 0;
    if (unit == "ns") scale = 1;
    else if (unit == "us") scale = 1e3L;
    else if (unit == "ms") scale = 1e6L;
    else if (unit == "s") scale = 1e9L;
    else if (unit == "m") scale = 60e9L;
    else if (unit == "h") scale = 3600e9L;
    else if (unit == "d") scale = 86400e9L;
    else return bad(unit_start, unit.empty() ? "a unit (ns, us, ms, s, m, h, d) is missing" : "unknown unit '" + std::string(unit) + "'");
    total += value * scale;
  }
  if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return bad(0, "too long (over 292 years)");
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(static_cast<double>(total))));
}

std::string format_duration(std::chrono::nanoseconds duration) {
  const std::int64_t ns = duration.count();
  const bool negative = ns < 0;
  const std::uint64_t abs = negative ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  const std::uint64_t ms = (abs / 1'000'000) % 1000;
  const std::uint64_t s = abs / 1'000'000'000;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s%llud %02llu:%02llu:%02llu.%03llu", negative ? "-" : "",
                static_cast<unsigned long long>(s / 86400), static_cast<unsigned long long>((s / 3600) % 24),
                static_cast<unsigned long long>((s / 60) % 60), static_cast<unsigned long long>(s % 60),
                static_cast<unsigned long long>(ms));
  return buffer;
}

}  // namespace statebus
