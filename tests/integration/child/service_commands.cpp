// statebus-test-child: the commands on services.

#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "command.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "test_messages.hpp"

namespace statebus::test::child {
namespace {

// Answers Ask with Answer{index, 2 × value, its pid, note}; refuses "refuse",
// throws on "throw", and on "hold" says "holding <index>" and blocks until
// stdin closes (a server busy mid-handler, to be stopped or killed).
int run_serve(const Args& args, const Node* node) {
  auto server = Server<Ask, Answer>::create(*node, args[1]);
  if (!server) return fail_with(server.error());
  auto loop = EventLoop::create(*node);
  if (!loop) return fail_with(loop.error());
  const auto served = serve(*loop, *server, [](const Ask& ask) -> Reply<Answer> {
    const std::string note(ask.note, strnlen(ask.note, sizeof ask.note));
    if (note == "refuse") return refuse("asked to refuse call " + std::to_string(ask.index));
    if (note == "throw") throw std::runtime_error("asked to throw on call " + std::to_string(ask.index));
    if (note == "hold") {
      say("holding " + std::to_string(ask.index));
      wait_for_stdin_to_close();
    }
    Answer answer;
    answer.index = ask.index;
    answer.doubled = 2 * ask.value;
    answer.server_pid = ::getpid();
    std::memcpy(answer.note, ask.note, sizeof answer.note);
    return answer;
  });
  if (!served) return fail_with(served.error());
  say("serving");
  auto ran = loop->run();
  if (!ran) return fail_with(ran.error());
  return 0;
}

}  // namespace

std::vector<Command> service_commands() {
  return {
      {"serve", "NAME SERVICE",
       "serve SERVICE (test/Ask → test/Answer: index, 2 × value, its pid, note) in an event loop;\n"
       "\"serving\" once up; note \"refuse\" refuses, \"throw\" throws, \"hold\" says \"holding I\" and\n"
       "blocks until stdin closes",
       2, 2, Setup::node, run_serve},
  };
}

}  // namespace statebus::test::child
