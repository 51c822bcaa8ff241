#pragma once
/// Creating and removing the bus's clock segment: the daemon's job.

#include "statebus/base/error.hpp"

namespace statebus {

/// Creates /dev/shm/statebus-clock in real mode (virtual time = CLOCK_MONOTONIC),
/// replacing a stale one, and attaches this process to it.
Result<void> create_clock_segment();
/// Removes the clock segment. Processes keep their mapping of it.
void remove_clock_segment() noexcept;

}  // namespace statebus
