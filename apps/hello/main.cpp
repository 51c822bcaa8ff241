// statebus-hello: two processes on the bus. This process publishes room
// temperatures; a child process it starts subscribes and prints them.
// Uses a running `statebus daemon` if there is one, else starts one inside.
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "statebus/bus.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX asks the program to declare it

namespace {

using namespace std::chrono_literals;

/// The message: a trivially copyable struct, described once for the bus.
struct Reading {
  std::uint32_t index;
  double celsius;
  char room[16];
};
STATEBUS_MESSAGE(Reading, "hello/Reading", index, celsius, room);

constexpr const char* kChannel = "hello/sensor/temperature";
constexpr std::uint32_t kCount = 5;

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int listen() {
  const std::string name = "hello-listener-" + std::to_string(getpid());
  auto node = statebus::Node::connect(name);
  if (!node) {
    std::fprintf(stderr, "listener: %s\n", node.error().message().c_str());
    return 1;
  }
  auto sub = statebus::Subscriber<Reading>::create(*node, kChannel);
  if (!sub) {
    std::fprintf(stderr, "listener: %s\n", sub.error().message().c_str());
    return 1;
  }
  for (std::uint32_t received = 0; received < kCount;) {
    auto sample = sub->take_for(5s);
    if (sample.failed()) {
      std::fprintf(stderr, "listener: %s\n", sample.error().message().c_str());
      return 1;
    }
    if (!sample) {
      std::fprintf(stderr, "listener: nothing arrived for 5 s; giving up\n");
      return 1;
    }
    ++received;
    const Reading& reading = sample->value();
    const statebus::SampleHeader& header = sample->header();
    std::printf("listener (pid %d): received #%u %s %.2f °C  [seq %llu, from pid %d, %.1f µs after publish]\n",
                getpid(), reading.index, reading.room, reading.celsius,
                static_cast<unsigned long long>(header.sequence), header.publisher_pid,
                static_cast<double>(now_ns() - header.real_time_ns) / 1e3);
    std::fflush(stdout);
  }
  return 0;
}

int talk(const char* self) {
  if (auto running = statebus::find_daemon()) {
    std::printf("talker: using the statebus daemon of pid %d\n", running->pid);
  } else {
    // Static, and initialised by start() itself: an in-process daemon must
    // outlive this process's node, which iceoryx keeps until exit.
    static statebus::Result<statebus::Daemon> daemon = statebus::Daemon::start();
    if (!daemon) {
      std::fprintf(stderr, "talker: %s\n", daemon.error().message().c_str());
      return 1;
    }
    std::printf("talker: started a daemon in this process (%.1f MB of shared memory, ready in %.1f ms)\n",
                static_cast<double>(daemon->shared_memory_bytes()) / 1e6,
                static_cast<double>(daemon->startup_time().count()) / 1e6);
  }
  std::fflush(stdout);
  const std::string name = "hello-talker-" + std::to_string(getpid());
  auto node = statebus::Node::connect(name);
  if (!node) {
    std::fprintf(stderr, "talker: %s\n", node.error().message().c_str());
    return 1;
  }
  auto pub = statebus::Publisher<Reading>::create(*node, kChannel);
  if (!pub) {
    std::fprintf(stderr, "talker: %s\n", pub.error().message().c_str());
    return 1;
  }

  char listen_arg[] = "--listen";
  char* child_argv[] = {const_cast<char*>(self), listen_arg, nullptr};
  pid_t child = 0;
  if (const int error = posix_spawn(&child, "/proc/self/exe", nullptr, nullptr, child_argv, environ); error != 0) {
    std::fprintf(stderr, "talker: cannot start the listener: %s\n", std::strerror(error));
    return 1;
  }
  if (!pub->wait_for_subscribers(5s)) {
    std::fprintf(stderr, "talker: the listener did not subscribe within 5 s\n");
    kill(child, SIGTERM);
    waitpid(child, nullptr, 0);
    return 1;
  }
  const char* rooms[] = {"living", "kitchen", "bedroom", "bath", "hall"};
  for (std::uint32_t i = 1; i <= kCount; ++i) {
    auto loan = pub->loan();  // zero-copy: the reading is written in shared memory
    if (!loan) {
      std::fprintf(stderr, "talker: the bus's memory pools are exhausted\n");
      break;
    }
    (*loan)->index = i;
    (*loan)->celsius = 19.0 + 0.75 * i;
    std::snprintf((*loan)->room, sizeof((*loan)->room), "%s", rooms[i - 1]);
    std::printf("talker   (pid %d): sent     #%u %s %.2f °C\n", getpid(), i, (*loan)->room, (*loan)->celsius);
    std::fflush(stdout);
    std::move(*loan).publish();
  }
  int status = 0;
  waitpid(child, &status, 0);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("%s\n", ok ? "hello: the listener received all 5 readings" : "hello: the listener failed");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--listen") == 0) return listen();
  if (argc > 1) {
    std::fprintf(stderr, "usage: statebus-hello\n  starts a listener process and sends it %u readings\n", kCount);
    return 2;
  }
  return talk(argv[0]);
}
