// mqtt_bench's echo: its poll loop around a bare client, the leader's
// commands, and the lines it answers them with (mqtt_follower.hpp).
#include "mqtt_follower.hpp"

#include <mosquitto.h>
#include <poll.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "follower.hpp"
#include "mqtt_bare_client.hpp"

namespace statebus::bench::mqtt {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The echo's rewrite, the same on both paths: the first character of the
// "origin" value changes, so the bridge does not take the answer for its own.
void rewrite_origin(std::string& payload) {
  constexpr std::string_view key = "\"origin\":\"";
  const auto at = payload.find(key);
  if (at == std::string::npos || at + key.size() >= payload.size()) return;
  char& c = payload[at + key.size()];
  c = c == 'E' ? 'e' : 'E';
}

std::int64_t json_integer(std::string_view json, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\":";
  const auto at = json.find(quoted);
  if (at == std::string_view::npos) return 0;
  return std::strtoll(json.data() + at + quoted.size(), nullptr, 10);
}

}  // namespace

Echo parse_echo(const std::string& line) {
  Echo e;
  int flag = 0;
  std::istringstream(line) >> flag >> e.received_ns >> e.sent_ns >> e.wall_time_ns;
  e.bridged = flag == 1;
  return e;
}

int run_follower(int argc, char** argv) {
  pin_to_cpu(kFollowerCpu);
  if (argc < 3) return 2;
  std::string why;
  auto client = BareClient::connect(std::atoi(argv[2]), "bench-echo", why);
  if (!client) {
    std::fprintf(stderr, "follower: %s\n", why.c_str());
    return 1;
  }
  struct Count {
    std::string topic;
    std::uint64_t expected = 0;
    std::uint64_t received = 0;
    std::int64_t first_ns = 0;
    std::int64_t last_ns = 0;
    Clock::time_point since{};
  };
  std::optional<Count> count;
  std::string reply;
  // Every echo since the last "reset", for the leader's hop breakdown.
  std::vector<Echo> echoes;
  echoes.reserve(1 << 16);
  bool replied = false;
  client->on_message([&](const mosquitto_message& m) {
    const std::int64_t received = now_ns();
    const std::string_view topic(m.topic);
    const char* answer = topic == kBridgedPing ? kBridgedPong : topic == kBarePing ? kBarePong : nullptr;
    if (answer != nullptr) {
      reply.assign(static_cast<const char*>(m.payload), static_cast<std::size_t>(m.payloadlen));
      rewrite_origin(reply);
      mosquitto_publish_v5(client->raw(), nullptr, answer, static_cast<int>(reply.size()), reply.data(), m.qos, false,
                           nullptr);
      echoes.push_back({answer == kBridgedPong, received, 0, json_integer(reply, "wall_time_ns")});
      replied = true;  // written by mosquitto_loop_write below: then its send time
      return;
    }
    if (count && topic == count->topic) {
      const std::int64_t t = now_ns();
      if (count->received++ == 0) count->first_ns = t;
      count->last_ns = t;
    }
  });
  for (const char* filter : {kBridgedPing, kBarePing, kBridgedFlood, kBareFlood}) {
    if (!client->subscribe(filter, 1)) {
      std::fprintf(stderr, "follower: cannot subscribe to %s\n", filter);
      return 1;
    }
  }
  std::printf("ready\n");
  std::fflush(stdout);

  mosquitto* m = client->raw();
  std::string input;
  auto last_misc = Clock::now();
  for (;;) {
    pollfd fds[2] = {{mosquitto_socket(m), static_cast<short>(POLLIN | (mosquitto_want_write(m) ? POLLOUT : 0)), 0},
                     {STDIN_FILENO, POLLIN, 0}};
    const int ready = ::poll(fds, 2, count ? 20 : 200);
    if (ready < 0) continue;
    if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      if (const int rc = mosquitto_loop_read(m, 1); rc != MOSQ_ERR_SUCCESS) {
        std::fprintf(stderr, "follower: the link broke: %s\n", mosquitto_strerror(rc));
        return 1;
      }
    }
    if (mosquitto_want_write(m)) mosquitto_loop_write(m, 1);
    if (replied) {
      echoes.back().sent_ns = now_ns();
      replied = false;
    }
    if (ready == 0 || Clock::now() - last_misc > 100ms) {
      mosquitto_loop_misc(m);
      last_misc = Clock::now();
    }
    if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      char buffer[256];
      const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (n <= 0) break;  // the leader is done
      input.append(buffer, static_cast<std::size_t>(n));
      for (std::size_t end = input.find('\n'); end != std::string::npos; end = input.find('\n')) {
        std::istringstream line(input.substr(0, end));
        input.erase(0, end + 1);
        std::string command;
        Count c;
        line >> command >> c.topic >> c.expected;
        if (command == "count") {
          c.since = Clock::now();
          count = c;
          std::printf("ok\n");
        } else if (command == "reset") {
          echoes.clear();
          std::printf("ok\n");
        } else if (command == "dump") {
          for (const Echo& e : echoes) {
            std::printf("%d %" PRId64 " %" PRId64 " %" PRId64 "\n", e.bridged ? 1 : 0, e.received_ns, e.sent_ns,
                        e.wall_time_ns);
          }
          std::printf("end\n");
          echoes.clear();
        }
        std::fflush(stdout);
      }
    }
    if (count) {
      // Done when all came, or nothing more for 500 ms (the rest is lost), or nothing at all for 10 s.
      const auto now = Clock::now();
      const bool idle = count->received > 0 && now_ns() - count->last_ns > 500'000'000;
      if (count->received >= count->expected || idle || (count->received == 0 && now - count->since > 10s)) {
        std::printf("done %" PRIu64 " %" PRId64 " %" PRId64 "\n", count->received, count->first_ns, count->last_ns);
        std::fflush(stdout);
        count.reset();
      }
    }
  }
  return 0;
}

}  // namespace statebus::bench::mqtt
