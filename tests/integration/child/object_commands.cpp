// statebus-test-child: the commands on objects served behind an interface.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "command.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "test_objects.hpp"

namespace statebus::test::child {
namespace {

// Serves a SharedState as OBJECT in an event loop: "serving" once up.
int run_serve_object(const Args& args, const Node* node) {
  SharedState state;
  state.pid = static_cast<std::int32_t>(::getpid());
  auto server = ObjectServer<SharedStateApi>::create(*node, args[1]);
  if (!server) return fail_with(server.error());
  auto loop = EventLoop::create(*node);
  if (!loop) return fail_with(loop.error());
  if (auto served = serve(*loop, *server, state); !served) return fail_with(served.error());
  say("serving");
  auto ran = loop->run();
  if (!ran) return fail_with(ran.error());
  return 0;
}

Entry entry(const std::string& key, double value) {
  Entry made{};
  std::strncpy(made.key, key.c_str(), sizeof made.key - 1);
  made.value = value;
  return made;
}

// Sets KEY=VALUE for I in 1..COUNT (KEY-I = VALUE × I) on OBJECT through a
// proxy: "set COUNT" once every call was answered, else "failed CODE MESSAGE".
int run_set_entries(const Args& args, const Node* node) {
  auto state = Proxy<SharedStateApi>::create(*node, args[1], std::chrono::seconds(10));
  if (!state) return fail_with(state.error());
  const std::string key = args[2];
  const double value = std::atof(args[3]);
  const long count = std::atol(args[4]);
  for (long i = 1; i <= count; ++i) {
    auto done = state->set(entry(key + "-" + std::to_string(i), value * static_cast<double>(i)));
    if (!done) {
      say("failed " + std::string(to_string(done.error().code())) + " " + done.error().message());
      return 1;
    }
  }
  say("set " + std::to_string(count));
  return 0;
}

// The code under test of the call-recorder example: switches the relay
// served as OBJECT on and off COUNT times (on at odd steps), then says
// "switched COUNT" (or "failed CODE MESSAGE").
int run_switch_relay(const Args& args, const Node* node) {
  auto relay = Proxy<RelayApi>::create(*node, args[1], std::chrono::seconds(10));
  if (!relay) return fail_with(relay.error());
  const long count = std::atol(args[2]);
  for (long step = 1; step <= count; ++step) {
    auto done = relay->set(step % 2 == 1, static_cast<std::uint32_t>(step));
    if (!done) {
      say("failed " + std::string(to_string(done.error().code())) + " " + done.error().message());
      return 1;
    }
  }
  say("switched " + std::to_string(count));
  return 0;
}

}  // namespace

std::vector<Command> object_commands() {
  return {
      {"serve-object", "NAME OBJECT",
       "serve a shared state object (test/SharedStateApi: set, get, size, keys, clear) as OBJECT in an\n"
       "event loop; \"serving\" once up",
       2, 2, Setup::node, run_serve_object},
      {"set-entries", "NAME OBJECT KEY VALUE COUNT",
       "set KEY-I = VALUE × I for I in 1..COUNT on OBJECT through a proxy: \"set COUNT\", or\n"
       "\"failed CODE MESSAGE\"",
       5, 5, Setup::node, run_set_entries},
      {"switch-relay", "NAME OBJECT COUNT",
       "switch the relay OBJECT (test/RelayApi) on at odd steps and off at even ones, COUNT steps:\n"
       "\"switched COUNT\", or \"failed CODE MESSAGE\"",
       3, 3, Setup::node, run_switch_relay},
  };
}

}  // namespace statebus::test::child
