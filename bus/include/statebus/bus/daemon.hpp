#pragma once
/// Kept for existing code: the daemon is its own module now, statebus::daemon
/// (in statebus::statebus). Include "statebus/daemon/daemon.hpp" instead.
#include "statebus/daemon/daemon.hpp"
