#pragma once
/// Everything of the bus module.
#include "statebus/bus/daemon.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/event_loop.hpp"
#include "statebus/bus/memory_config.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/publisher.hpp"
#include "statebus/bus/sample_header.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/bus/wait_set.hpp"
