#pragma once
/// Kept for existing code: the daemon's memory pools are the daemon
/// module's, statebus::daemon (in statebus::statebus). Include
/// "statebus/daemon/memory_config.hpp" instead.
#include "statebus/daemon/memory_config.hpp"
