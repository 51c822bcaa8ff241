#pragma once
/// Everything of the service module: calls to an object in another process.
#include "statebus/service/call_error.hpp"
#include "statebus/service/call_timeout.hpp"
#include "statebus/service/client.hpp"
#include "statebus/service/discovery.hpp"
#include "statebus/service/interface.hpp"
#include "statebus/service/nothing.hpp"
#include "statebus/service/object_server.hpp"
#include "statebus/service/reply.hpp"
#include "statebus/service/server.hpp"
#include "statebus/service/untyped_client.hpp"
