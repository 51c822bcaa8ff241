#pragma once
// Virtual time across buses: the sending bus says where its clock stands
// and how fast it runs; a following bus moves its own clock to match.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace statebus::bridge_detail {

/// The sender's clock as it travels (`<prefix>/$clock`).
struct ClockReading {
  std::string mode;             ///< real, scaled, stepped, lockstep
  double rate = 1.0;            ///< virtual per real second now (0: standing)
  std::int64_t virtual_ns = 0;  ///< virtual time at wall_ns
  std::int64_t wall_ns = 0;     ///< CLOCK_REALTIME of the reading
};

/// This bus's clock now, as JSON.
std::string read_clock_json();
std::optional<ClockReading> parse_clock_json(std::string_view text);

/// Moves this bus's clock to where the reading says the sender's stands now:
/// forward at once if behind, standing still while ahead (virtual time never
/// goes back), then at the sender's rate. Returns what it did, for the log.
std::string follow_clock(const ClockReading& reading);

}  // namespace statebus::bridge_detail
