#pragma once
// One process of the clock-and-cells stress (clock_state_stress_test.cpp).

#include "statebus/bus/node.hpp"

namespace statebus::test {

/// Random operations on the bus's clock and the cell "stress/striped",
/// forever, from `seed`: reads (time never goes back; a value never torn or
/// mislabelled), read-modify-writes, waits (never returning before their
/// virtual deadline unless the cell changed), clock changes, event loops
/// that join lockstep and leave. Inside every clock change it counts in
/// `counters` (a file of two ints) how many writers are inside at once.
/// Prints "n" every 64 operations; "VIOLATION <what>" and exit 3 on a broken
/// invariant.
int run_stress_worker(const Node& node, unsigned seed, const char* counters);

}  // namespace statebus::test
