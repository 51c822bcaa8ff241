// statebus-test-child: the commands on ports, logs, the daemon and a node's
// lifetime.

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "statebus/bus.hpp"
#include "statebus/internal/iceoryx.hpp"  // bus/internal: a request to the daemon, held open
#include "statebus/testing/private_bus.hpp"
#include "test_messages.hpp"

namespace statebus::test::child {
namespace {

using namespace std::chrono_literals;

template <class T>
int publish_samples(const Node& node, const char* channel, long count, std::uint32_t history) {
  std::optional<Publisher<T>> pub;
  {
    auto created = Publisher<T>::create(node, channel, PublisherOptions{history, false});
    if (!created) {
      std::fprintf(stderr, "child: %s\n", created.error().message().c_str());
      return 1;
    }
    pub.emplace(std::move(*created));
  }
  if (!pub->wait_for_subscribers(10s)) {
    std::fprintf(stderr, "child: no subscriber within 10 s\n");
    return 3;
  }
  for (long i = 1; i <= count; ++i) {
    T value{};
    if constexpr (std::is_same_v<T, Renamed>) {
      value.number = static_cast<std::uint64_t>(i);
    } else {
      value.index = static_cast<std::uint64_t>(i);
    }
    value.celsius = 20.0 + static_cast<double>(i) / 100.0;
    std::snprintf(value.room, sizeof value.room, "room-%ld", i % 7);
    if (!pub->publish(value)) {
      std::fprintf(stderr, "child: pools exhausted at %ld\n", i);
      return 4;
    }
  }
  say("sent " + std::to_string(count));
  std::string command;
  while (std::getline(std::cin, command)) {
    if (command == "drop") {
      pub.reset();
      say("dropped");
    }
  }
  return 0;
}

int run_publish(const Args& args, const Node* node) {
  const long count = std::atol(args[2]);
  const auto history = static_cast<std::uint32_t>(args.size() >= 4 ? std::atoi(args[3]) : 0);
  const std::string type = args.size() >= 5 ? args[4] : "reading";
  if (type == "renamed") return publish_samples<Renamed>(*node, args[1], count, history);
  return publish_samples<Reading>(*node, args[1], count, history);
}

int run_untyped(const Args& args, const Node* node) {
  std::vector<std::size_t> sizes;
  for (std::size_t i = 2; i < args.size(); ++i) sizes.push_back(std::strtoull(args[i], nullptr, 10));
  auto pub = UntypedPublisher::create(*node, args[1]);
  if (!pub) {
    std::fprintf(stderr, "child: %s\n", pub.error().message().c_str());
    return 1;
  }
  if (!pub->wait_for_subscribers(10s)) return 3;
  for (const std::size_t size : sizes) {
    auto loan = pub->loan(size);
    if (!loan) {
      std::fprintf(stderr, "child: no loan of %zu bytes\n", size);
      return 4;
    }
    for (std::size_t i = 0; i < size; ++i) loan->data()[i] = static_cast<std::byte>((i + size) % 251);
    std::move(*loan).publish();
  }
  say("sent " + std::to_string(sizes.size()));
  wait_for_stdin_to_close();
  return 0;
}

int run_log(const Args& args, const Node* node) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("child"));  // stdout carries the replies
  auto sink = log_to_bus(*node);
  if (!sink) return fail_with(sink.error());
  const long n = std::atol(args[1]);
  for (long i = 1; i <= n; ++i) spdlog::info("record {} of {}", i, args[0]);
  spdlog::warn("{} is done", args[0]);
  if (args.size() == 3) spdlog::error("{}", args[2]);
  say("logged " + std::to_string(n));
  wait_for_stdin_to_close();
  return 0;
}

// Killed mid-burst (by the test, after "half") or right after its last
// call (by itself): every record whose call returned must be read.
int run_log_burst(const Args& args, const Node* node) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("child"));  // stdout carries the replies
  auto sink = log_to_bus(*node, args[0]);
  if (!sink) return fail_with(sink.error());
  const long half = std::atol(args[1]);
  for (long i = 1; i <= 2 * half; ++i) {
    spdlog::info("{}", i);
    if (i == half) say("half");
  }
  ::kill(::getpid(), SIGKILL);
  return 0;
}

int run_lossless_sink(const Args& args, const Node* node) {
  auto sub = Subscriber<Reading>::create(*node, args[1], SubscriberOptions{256, 0, true});
  if (!sub) return fail_with(sub.error());
  say("ready");
  wait_for_stdin_to_close();
  return 0;
}

int run_hold(const Args&, const Node*) {
  say("ready");
  wait_for_stdin_to_close();
  return 0;
}

// Connects (with a handler for an unanswerable call when EXIT is given),
// "ready", then on stdin "create" opens a publisher on CHANNEL, and "stuck"
// stands for a call that waits inside iceoryx for an answer: a request to
// the daemon that never ends.
int run_unanswerable(const Args& args, const Node*) {
  NodeOptions options;
  if (args.size() >= 3) {
    const int status = std::atoi(args[2]);
    options.on_unanswerable = [status](const Error& why) {
      std::printf("handler: %s %s\n", std::string(to_string(why.code())).c_str(), why.message().c_str());
      std::fflush(stdout);
      std::_Exit(status);
    };
  }
  auto node = Node::connect(args[0], options);
  if (!node) return fail_with(node.error());
  say("ready");
  std::string command;
  while (std::getline(std::cin, command)) {
    if (command == "stuck") {
      say("stuck");
      const detail::DaemonRequest request;
      for (;;) ::pause();
    }
    if (command != "create") continue;
    auto pub = Publisher<Reading>::create(*node, args[1]);
    say(pub ? std::string("created")
            : "error " + std::string(to_string(pub.error().code())) + " " + pub.error().message());
  }
  return 0;
}

int run_connect(const Args& args, const Node*) {
  NodeOptions options;
  options.connect_timeout = std::chrono::milliseconds(std::atoi(args[1]));
  auto node = Node::connect(args[0], options);
  if (node) {
    say("ok");
  } else {
    say(std::string(to_string(node.error().code())) + " " + node.error().message());
  }
  return node ? 0 : 1;
}

// A process that stops its own daemon before its node ends.
int run_own_daemon(const Args& args, const Node*) {
  if (auto isolated = testkit::isolate_bus(); !isolated) return 2;
  std::optional<Daemon> daemon;
  if (auto started = Daemon::start(); started) {
    daemon.emplace(std::move(*started));
  } else {
    std::fprintf(stderr, "child: %s\n", started.error().message().c_str());
    return 1;
  }
  auto node = Node::connect(args[0]);
  if (!node || !log_to_bus(*node)) return 1;
  auto publisher = Publisher<Reading>::create(*node, "test/own");
  if (!publisher) return 1;
  spdlog::info("logged before the daemon stops");
  (void)publisher->publish(Reading{});
  daemon.reset();
  say("stopped");
  return 0;  // the publisher, the node and the bus log sink are destroyed after the daemon
}

// Learns that the bus is gone, from an idle event loop.
int run_loop_until_lost(const Args& args, const Node* node) {
  auto loop = EventLoop::create(*node);
  if (!loop) return 1;
  std::optional<Subscriber<Reading>> sub;
  if (args.size() >= 2) {
    auto made = Subscriber<Reading>::create(*node, args[1]);
    if (!made) return fail_with(made.error());
    sub.emplace(std::move(*made));
    if (!loop->on(*sub, [](const Sample<Reading>&) {})) return 1;
  }
  say("ready");
  auto ran = loop->run();
  if (ran) return 1;
  say("lost " + std::string(to_string(ran.error().code())) + " " + ran.error().message());
  return 0;
}

int run_flood(const Args& args, const Node* node) {
  auto pub = Publisher<Reading>::create(*node, args[1]);
  if (!pub) return fail_with(pub.error());
  say("ready");
  for (std::uint64_t i = 1;; ++i) {
    (void)pub->publish(Reading{i, static_cast<double>(i), {}});
    if (i % 256 == 0) say("n");
  }
}

// Subscribe, take, hold, release, unsubscribe: again and again.
int run_churn_subscriber(const Args& args, const Node* node) {
  say("ready");
  for (;;) {
    auto sub = Subscriber<Reading>::create(*node, args[1]);
    if (!sub) return fail_with(sub.error());
    std::vector<Sample<Reading>> held;
    for (int i = 0; i < 64; ++i) {
      auto sample = sub->take_for(std::chrono::seconds(1));
      if (!sample) break;
      held.push_back(std::move(*sample));
      if (held.size() > 4) held.erase(held.begin());
    }
    say("n");
  }
}

int run_loan_hold(const Args& args, const Node* node) {
  auto pub = Publisher<Reading>::create(*node, args[1]);
  if (!pub) return fail_with(pub.error());
  std::vector<Loan<Reading>> held;
  for (int i = 0; i < std::atoi(args[2]); ++i) {
    auto loan = pub->loan();
    if (!loan) return 1;
    held.push_back(std::move(*loan));
  }
  say("holding " + std::to_string(held.size()));
  wait_for_stdin_to_close();
  return 0;
}

int run_take_hold(const Args& args, const Node* node) {
  auto sub = Subscriber<Reading>::create(*node, args[1]);
  if (!sub) return fail_with(sub.error());
  say("ready");
  const std::size_t want = static_cast<std::size_t>(std::atoi(args[2]));
  std::vector<Sample<Reading>> held;
  while (held.size() < want) {
    if (auto sample = sub->take_for(std::chrono::seconds(10))) {
      held.push_back(std::move(*sample));
    } else {
      return 1;
    }
  }
  say("holding " + std::to_string(held.size()));
  wait_for_stdin_to_close();
  return 0;
}

}  // namespace

std::vector<Command> bus_commands() {
  return {
      {"publish", "NAME CHANNEL COUNT [HISTORY [TYPE]]",
       "connect as NAME, wait for a subscriber (exit 3 after 10 s), publish COUNT samples of TYPE\n"
       "(reading | renamed; index 1..COUNT) with publisher history HISTORY (exit 4 if the pools\n"
       "run out), print \"sent COUNT\"; then read commands from stdin: \"drop\" destroys the\n"
       "publisher and prints \"dropped\"; end of input exits",
       3, kAnyMore, Setup::node, run_publish},
      {"untyped", "NAME CHANNEL SIZE...",
       "wait for a subscriber (exit 3 after 10 s), publish one byte payload of each SIZE\n"
       "(byte i = (i + SIZE) % 251), print \"sent N\", wait for stdin to close",
       2, kAnyMore, Setup::node, run_untyped},
      {"log", "NAME N [ERROR]",
       "log_to_bus as NAME, log N info records \"record I of NAME\", one warning \"NAME is done\"\n"
       "and, if given, the error ERROR; print \"logged N\"; wait for stdin to close",
       2, 3, Setup::node, run_log},
      {"log-burst", "NAME HALF",
       "log_to_bus as NAME, log records \"I\" (1, 2, ...) without pause: after record HALF print\n"
       "\"half\" and go on to 2 x HALF; then SIGKILL itself right after that last call returns",
       2, 2, Setup::node, run_log_burst},
      {"lossless-sink", "NAME CHANNEL",
       "a lossless subscriber of Reading that never takes; \"ready\", then waits for stdin to close", 2, 2, Setup::node,
       run_lossless_sink},
      {"hold", "NAME", "connect as NAME, print \"ready\", wait for stdin to close", 1, kAnyMore, Setup::node, run_hold},
      {"connect", "NAME TIMEOUT_MS",
       "try to connect, waiting at most TIMEOUT_MS for a daemon; print \"ok\" or the error code\n"
       "and message (exit 1)",
       2, 2, Setup::none, run_connect},
      {"own-daemon", "NAME",
       "in a bus of its own (exit 2 if it cannot isolate one): start a daemon, connect as NAME,\n"
       "log through the bus sink, publish, stop the daemon while the node, a publisher and the\n"
       "sink live on, print \"stopped\", exit (must exit 0)",
       1, kAnyMore, Setup::none, run_own_daemon},
      {"unanswerable", "NAME CHANNEL [EXIT]",
       "connect as NAME (with EXIT: a handler for a call the daemon will never answer, which\n"
       "prints \"handler: CODE MESSAGE\" and exits with EXIT), \"ready\", then on each stdin line\n"
       "\"create\" open a publisher on CHANNEL and say \"created\" or \"error CODE MESSAGE\";\n"
       "\"stuck\": \"stuck\", then wait for ever inside a request to the daemon",
       2, 3, Setup::none, run_unanswerable},
      {"loop-until-lost", "NAME [CHANNEL]",
       "an event loop (taking every Reading on CHANNEL, if given): \"ready\", then when run()\n"
       "fails, prints \"lost CODE MESSAGE\" and exits 0 (1 if run() returned without error)",
       1, kAnyMore, Setup::node, run_loop_until_lost},
      {"flood", "NAME CHANNEL",
       "publish Readings as fast as it can, \"ready\" first, then a line \"n\" after every 256\n"
       "samples, forever (to be killed at a random moment)",
       2, 2, Setup::node, run_flood},
      {"churn-subscriber", "NAME CHANNEL",
       "\"ready\", then again and again: subscribe to Readings on CHANNEL, take up to 64 (1 s each),\n"
       "holding the last 4, unsubscribe, print \"n\"; forever (to be killed at a random moment)",
       2, 2, Setup::node, run_churn_subscriber},
      {"loan-hold", "NAME CHANNEL N",
       "loan N Readings and keep them unpublished: \"holding N\", then waits for stdin to close\n"
       "(to be SIGKILLed holding them)",
       3, 3, Setup::node, run_loan_hold},
      {"take-hold", "NAME CHANNEL N",
       "take N Readings and keep them: \"ready\" once subscribed, \"holding N\" once it holds N\n"
       "(exit 1 if none comes for 10 s), then waits for stdin to close",
       3, 3, Setup::node, run_take_hold},
  };
}

}  // namespace statebus::test::child
