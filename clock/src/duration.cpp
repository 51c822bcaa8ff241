#include "statebus/clock/duration.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
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
  // Exact integer arithmetic (no double on the way): every duration up to
  // the largest one, 9223372036854775807ns, comes out as written.
  using Wide = unsigned __int128;
  constexpr Wide kLongest = static_cast<Wide>(std::numeric_limits<std::int64_t>::max());
  constexpr Wide kFinest = 1'000'000'000'000'000'000ULL;  // 18 fraction digits: finer than a ns of a day
  Wide total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t number_start = i;
    Wide whole = 0;
    Wide fraction = 0;
    Wide fraction_scale = 1;
    bool digits = false;
    bool point = false;
    for (; i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'); ++i) {
      if (text[i] == '.') {
        if (point) return bad(i, "a second decimal point");
        point = true;
        continue;
      }
      digits = true;
      const unsigned digit = static_cast<unsigned>(text[i] - '0');
      if (!point) {
        whole = whole * 10 + digit;
        if (whole > kLongest) return bad(0, "too long (over 292 years)");
      } else if (fraction_scale < kFinest) {  // later digits are below a nanosecond
        fraction = fraction * 10 + digit;
        fraction_scale *= 10;
      }
    }
    if (!digits) {
      if (i == number_start && i < text.size() && (text[i] == '-' || text[i] == '+')) {
        return bad(i, text[i] == '-' ? "negative durations are not allowed" : "a duration has no sign");
      }
      return bad(number_start, "a number is missing");
    }
    const std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    std::uint64_t scale = 0;
    if (unit == "ns") scale = 1;
    else if (unit == "us") scale = 1'000;
    else if (unit == "ms") scale = 1'000'000;
    else if (unit == "s") scale = 1'000'000'000;
    else if (unit == "m") scale = 60'000'000'000;
    else if (unit == "h") scale = 3'600'000'000'000;
    else if (unit == "d") scale = 86'400'000'000'000;
    if (scale == 0) {
      return bad(unit_start, unit.empty() ? "a unit (ns, us, ms, s, m, h, d) is missing"
                                          : "unknown unit '" + std::string(unit) + "'");
    }
    // whole ≤ 2^63 and scale < 2^47: the product fits in 128 bits.
    total += whole * scale + (fraction * scale + fraction_scale / 2) / fraction_scale;
    if (total > kLongest) return bad(0, "too long (over 292 years)");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

Result<double> parse_rate(std::string_view text) {
  auto bad = [&](const std::string& what) {
    return fail(Errc::invalid_argument, "clock rate '" + std::string(text) + "': " + what +
                                            "; write a number like 1, 0.5 or 86400 (0 pauses)");
  };
  if (text.empty()) return bad("empty");
  if (text[0] == '-' || text[0] == '+') return bad("a rate has no sign");
  if (!(text[0] >= '0' && text[0] <= '9') && text[0] != '.') return bad("not a number");
  double rate = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), rate);
  if (error != std::errc() || end != text.data() + text.size()) return bad("not a number");
  return rate;
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
