// statebus-test-child: the other process in multi-process bus tests.
//   publish NAME CHANNEL COUNT  connect as NAME, wait for a subscriber, publish
//                               COUNT readings (index 1..COUNT), print "sent COUNT",
//                               then wait for stdin to close
//   hold NAME                   connect as NAME, print "ready", wait for stdin to close
//   connect NAME TIMEOUT_MS     try to connect; print "ok" or the error code and message
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "statebus/bus.hpp"
#include "test_messages.hpp"

namespace {

void wait_for_stdin_to_close() {
  char buffer[64];
  while (::read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
  }
}

int usage() {
  std::fprintf(stderr, "usage: statebus-test-child publish NAME CHANNEL COUNT | hold NAME | connect NAME TIMEOUT_MS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string command = argv[1];
  if (command == "connect" && argc == 4) {
    auto node = statebus::Node::connect(argv[2], {std::chrono::milliseconds(std::atoi(argv[3]))});
    if (node) {
      std::printf("ok\n");
    } else {
      std::printf("%s %s\n", std::string(statebus::to_string(node.error().code())).c_str(),
                  node.error().message().c_str());
    }
    return node ? 0 : 1;
  }
  auto node = statebus::Node::connect(argv[2]);
  if (!node) {
    std::fprintf(stderr, "child: %s\n", node.error().message().c_str());
    return 1;
  }
  if (command == "hold") {
    std::printf("ready\n");
    std::fflush(stdout);
    wait_for_stdin_to_close();
    return 0;
  }
  if (command == "publish" && argc == 5) {
    auto pub = statebus::Publisher<statebus::test::Reading>::create(*node, argv[3]);
    if (!pub) {
      std::fprintf(stderr, "child: %s\n", pub.error().message().c_str());
      return 1;
    }
    if (!pub->wait_for_subscribers(std::chrono::seconds(10))) {
      std::fprintf(stderr, "child: no subscriber within 10 s\n");
      return 3;
    }
    const long count = std::atol(argv[4]);
    for (long i = 1; i <= count; ++i) {
      statebus::test::Reading reading;
      reading.index = static_cast<std::uint64_t>(i);
      reading.celsius = 20.0 + static_cast<double>(i) / 100.0;
      std::snprintf(reading.room, sizeof reading.room, "room-%ld", i % 7);
      if (!pub->publish(reading)) {
        std::fprintf(stderr, "child: pools exhausted at %ld\n", i);
        return 4;
      }
    }
    std::printf("sent %ld\n", count);
    std::fflush(stdout);
    wait_for_stdin_to_close();
    return 0;
  }
  return usage();
}
