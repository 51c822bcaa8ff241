#pragma once
// The heating as an object other processes call (served as kHeatingObject).

#include "home/messages.hpp"
#include "statebus/service/interface.hpp"

namespace home {

/// plan: what it will do next, and why; boost: heat for a while, or why not.
STATEBUS_INTERFACE(HeatingApi, (plan, PlanQuestion, HeatingPlan), (boost, BoostRequest, BoostAnswer));

}  // namespace home
