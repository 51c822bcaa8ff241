#pragma once
/// Creating and removing the bus's state segment: the daemon's job.
/// Internal: not installed.

#include "statebus/base/error.hpp"

namespace statebus {

/// Creates the bus's state segment, replacing a stale one.
Result<void> create_state_segment();
/// Removes the state segment. Processes keep their mapping of it.
void remove_state_segment() noexcept;

}  // namespace statebus
