#pragma once
/// CallTimeout: a call's timeout kept for later calls, real or virtual.

#include <chrono>
#include <variant>

#include "statebus/clock/virtual_timeout.hpp"

namespace statebus {

/// How long each call of a Proxy waits: a std::chrono duration is real
/// time, virtual_timeout(…) the bus's clock (the API's one rule).
using CallTimeout = std::variant<std::chrono::nanoseconds, VirtualTimeout>;

}  // namespace statebus
