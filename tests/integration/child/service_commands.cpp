// statebus-test-child: the commands on services.

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "command.hpp"
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/service.hpp"
#include "test_messages.hpp"

namespace statebus::test::child {
namespace {

// Reads stdin until the line "stop" (or its end): the server's stop, asked
// for by the test.
void wait_for_stop_line() {
  std::string line;
  char c = 0;
  while (::read(STDIN_FILENO, &c, 1) == 1) {
    if (c != '\n') {
      line += c;
    } else if (line == "stop") {
      return;
    } else {
      line.clear();
    }
  }
}

// Answers Ask with Answer{index, 2 × value, its pid, note}; refuses "refuse",
// throws on "throw", and on "hold" says "holding <index>" and blocks until
// stdin closes (a server busy mid-handler, to be stopped or killed).
// stoppable: the line "stop" on stdin stops its loop ("stopped serving"; the
// server still exists, calls queue unanswered); then stdin's end destroys
// the server (its goodbye) and the process exits 0.
int run_serve(const Args& args, const Node* node) {
  auto server = Server<Ask, Answer>::create(*node, args[1]);
  if (!server) return fail_with(server.error());
  auto loop = EventLoop::create(*node);
  if (!loop) return fail_with(loop.error());
  const std::string mode = args.size() > 2 ? args[2] : "";
  int said = 0;
  auto handle = [&](const Ask& ask, Answer& answer) -> Reply<void> {
    if (mode == "chatty" && said < 64) say("answering " + std::to_string(++said));
    const std::string note(ask.note, strnlen(ask.note, sizeof ask.note));
    if (note == "refuse") return refuse("asked to refuse call " + std::to_string(ask.index));
    if (note == "throw") throw std::runtime_error("asked to throw on call " + std::to_string(ask.index));
    if (note == "hold") {
      say("holding " + std::to_string(ask.index));
      wait_for_stdin_to_close();
    }
    answer.index = ask.index;
    answer.doubled =
        note == "time" ? static_cast<double>(VirtualClock::now().time_since_epoch().count()) : 2 * ask.value;
    answer.server_pid = ::getpid();
    std::memcpy(answer.note, ask.note, sizeof answer.note);
    return {};
  };
  // Both forms of handler: the response returned, or written in place.
  const auto served =
      mode == "in-place" ? serve(*loop, *server, handle) : serve(*loop, *server, [&](const Ask& ask) -> Reply<Answer> {
        Answer answer;
        if (auto verdict = handle(ask, answer); verdict.refused()) {
          return refuse(verdict.reason());
        }
        return answer;
      });
  if (!served) return fail_with(served.error());
  std::thread stopper;
  if (mode == "stoppable") {
    stopper = std::thread([&] {
      wait_for_stop_line();
      loop->stop();
    });
  }
  say("serving");
  auto ran = loop->run();
  const int failed = ran ? 0 : fail_with(ran.error());  // said before waiting for stdin
  if (stopper.joinable()) stopper.join();
  if (failed != 0) return failed;
  if (mode == "stoppable") {
    say("stopped serving");
    wait_for_stdin_to_close();
  }
  return 0;
}

// Calls SERVICE in a loop, each with its own index and value: "ready" once
// the client exists, then per call "answered I" (the answer checked byte for
// byte: "corrupt …" if any field is wrong) or "failed CODE"; never more than
// 10 s per call. Ends when stdin closes or after COUNT calls (0: never).
int run_call_loop(const Args& args, const Node* node) {
  auto client = Client<Ask, Answer>::create(*node, args[1]);
  if (!client) return fail_with(client.error());
  const long count = args.size() > 2 ? std::atol(args[2]) : 0;
  const bool quiet = args.size() > 3 && std::string(args[3]) == "quiet";
  bool failed_before = false;
  say("ready");
  for (std::uint64_t i = 1; count == 0 || static_cast<long>(i) <= count; ++i) {
    Ask ask;
    ask.index = i;
    ask.value = static_cast<double>(i) * 0.5;
    const std::string note = "c" + std::to_string(i % 100000);
    std::memcpy(ask.note, note.data(), note.size());
    auto answer = client->call(ask, std::chrono::seconds(10));
    if (!answer) {
      failed_before = true;
      say("failed " + std::string(to_string(answer.error().code())));
      if (answer.error().code() == CallErrc::bus_gone) return 1;
      continue;
    }
    if (answer->index != i || answer->doubled != static_cast<double>(i) || std::string(answer->note) != note) {
      say("corrupt answer to call " + std::to_string(i) + ": index " + std::to_string(answer->index) + " doubled " +
          std::to_string(answer->doubled) + " note " + std::string(answer->note, strnlen(answer->note, 16)));
    } else if (!quiet || i % 1000 == 0 || failed_before) {
      say("answered " + std::to_string(i));
      failed_before = false;
    }
  }
  return 0;
}

}  // namespace

std::vector<Command> service_commands() {
  return {
      {"serve", "NAME SERVICE [chatty|in-place|stoppable]",
       "serve SERVICE (test/Ask → test/Answer: index, 2 × value, its pid, note) in an event loop;\n"
       "\"serving\" once up; note \"refuse\" refuses, \"throw\" throws, \"hold\" says \"holding I\" and\n"
       "blocks until stdin closes, \"time\" answers the virtual time (ns) instead of 2 × value;\n"
       "chatty: \"answering N\" as each of its first 64 calls comes in; in-place: its handler writes\n"
       "the response in place; stoppable: the line \"stop\" on stdin stops its loop (\"stopped serving\",\n"
       "calls queue unanswered), then stdin's end destroys the server (its goodbye) and it exits 0",
       2, 3, Setup::node, run_serve},
      {"call-loop", "NAME SERVICE [COUNT [quiet]]",
       "call SERVICE (test/Ask → test/Answer) COUNT times (0 or none: for ever): \"ready\", then per\n"
       "call \"answered I\" (checked byte for byte, else \"corrupt …\") or \"failed CODE\"; quiet:\n"
       "\"answered I\" only for every 1000th and the first after a failure",
       2, 4, Setup::node, run_call_loop},
  };
}

}  // namespace statebus::test::child
