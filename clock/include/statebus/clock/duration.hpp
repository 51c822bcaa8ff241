#pragma once
/// Durations as people write them: "90s", "15m", "24h", "1h30m", "250ms";
/// clock rates: "1", "0.5", "86400".

#include <chrono>
#include <string>
#include <string_view>

#include "statebus/base/error.hpp"

namespace statebus {

/// Parses one or more <number><unit> terms (units: ns, us, ms, s, m, h, d;
/// numbers may have a fraction: "1.5h"). Fails with Errc::invalid_argument saying
/// where the text stops making sense; exact to the nanosecond up to the
/// longest, 9223372036854775807ns (292 years); longer is an error, never a
/// wrapped value. Thread-safe, allocation only on error.
Result<std::chrono::nanoseconds> parse_duration(std::string_view text);

/// Parses a clock rate: a decimal number without a sign ("0", "0.5",
/// "86400", "1e6"). Fails with Errc::invalid_argument on anything else ("", "-0",
/// "abc", "inf"); VirtualClock::set_rate() checks the range.
Result<double> parse_rate(std::string_view text);

/// Formats a duration compactly: "1d 02:03:04.500" or "12.345 s" for short ones.
std::string format_duration(std::chrono::nanoseconds duration);

}  // namespace statebus
