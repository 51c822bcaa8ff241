#pragma once
/// Everything of the bus module, and the daemon: a module of its own
/// (statebus::daemon), which statebus::statebus links with the bus.
#include "statebus/bus/daemon_info.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/event_loop.hpp"
#include "statebus/bus/log_record.hpp"
#include "statebus/bus/log_sink.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/publisher.hpp"
#include "statebus/bus/sample_header.hpp"
#include "statebus/bus/spin.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/daemon/memory_config.hpp"
