// statebus-test-machine: a bus of its own (a second machine, in effect) with
// a bridge, driven line by line on stdin by a bridge test. Every command
// answers one line: `ok …`, `none` or `error …`. The first line says whether
// it has a private bus (`isolated`) or cannot have one (`shared`, and it ends).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bridge_messages.hpp"
#include "statebus/bridge/mqtt.hpp"
#include "statebus/bus.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/private_bus.hpp"

namespace {

using namespace std::chrono_literals;
using bridge_test::Reading;
using bridge_test::Setpoint;

struct Machine {
  std::optional<statebus::Node> node;
  std::optional<statebus::MqttBridge> bridge;
  std::map<std::string, statebus::Publisher<Reading>> publishers;
  std::map<std::string, statebus::Subscriber<Reading>> subscribers;
  std::map<std::string, statebus::Cell<Setpoint>> cells;
  std::map<std::string, statebus::Subscriber<Setpoint>> setpoint_readers;
  std::map<std::string, statebus::testkit::ChildProcess> children;  // on this bus
};

std::string stat_line(const statebus::MqttBridgeStats& s) {
  std::string line = "ok sent=" + std::to_string(s.sent) + " received=" + std::to_string(s.received) +
                     " refused=" + std::to_string(s.refused) + " dropped=" + std::to_string(s.dropped) +
                     " echoes=" + std::to_string(s.echoes_skipped) + " connects=" + std::to_string(s.connects) +
                     " cells_sent=" + std::to_string(s.cells_sent) +
                     " cells_applied=" + std::to_string(s.cells_applied) +
                     " lost_upstream=" + std::to_string(s.lost_upstream) + " refused_by=";
  for (const auto& [reason, n] : s.refused_by_reason) {
    std::string r = reason;
    for (char& c : r) c = c == ' ' ? '_' : c;
    line += r + ":" + std::to_string(n) + ",";
  }
  return line;
}

std::uint64_t stat_value(const statebus::MqttBridgeStats& s, const std::string& name) {
  if (name == "sent") return s.sent;
  if (name == "received") return s.received;
  if (name == "refused") return s.refused;
  if (name == "dropped") return s.dropped;
  if (name == "echoes") return s.echoes_skipped;
  if (name == "repeats") return s.repeats_skipped;
  if (name == "lost_upstream") return s.lost_upstream;
  if (name == "left_to_peers") return s.left_to_peers;
  if (name == "connects") return s.connects;
  if (name == "cells_sent") return s.cells_sent;
  if (name == "cells_applied") return s.cells_applied;
  return 0;
}

std::string start_bridge(Machine& m, std::istringstream& words, bool wait) {
  statebus::MqttOptions o;
  std::string flag, value;
  while (words >> flag >> value) {
    if (flag == "--broker")
      o.broker = value;
    else if (flag == "--prefix")
      o.prefix = value;
    else if (flag == "--client-id")
      o.client_id = value;
    else if (flag == "--homeassistant")
      o.homeassistant_prefix = value;
    else if (flag == "--settable")
      o.settable.push_back(value);
    else if (flag == "--max-payload")
      o.max_payload = std::stoul(value);
    else if (flag == "--cafile")
      o.ca_file = value;
    else if (flag == "--clock")
      o.clock = value == "send" ? statebus::MqttOptions::ClockSync::send : statebus::MqttOptions::ClockSync::follow;
    else if (flag == "--credentials") {
      if (auto loaded = statebus::load_mqtt_credentials(o, value); !loaded) return "error " + loaded.error().message();
    } else {
      const int qos = flag == "--state" || flag == "--mirror" ? 1 : 0;
      auto route = statebus::parse_mqtt_route(value, qos);
      if (!route) return "error " + route.error().message();
      if (flag == "--out")
        o.out.push_back(*route);
      else if (flag == "--in")
        o.in.push_back(*route);
      else if (flag == "--state")
        o.state.push_back(*route);
      else if (flag == "--mirror")
        o.mirror.push_back(*route);
      else
        return "error unknown flag " + flag;
    }
  }
  auto bridge = statebus::MqttBridge::start(*m.node, o);
  if (!bridge) return "error " + bridge.error().message();
  m.bridge = std::move(*bridge);
  if (wait && !m.bridge->wait_ready(15s)) return "error the bridge did not connect within 15 s";
  return "ok " + m.bridge->client_id();
}

// `stop-bridge`
std::string do_stop_bridge(Machine& m, std::istringstream&) {
  if (m.bridge) m.bridge->stop();
  return "ok";
}

// `stats`
std::string do_stats(Machine& m, std::istringstream&) {
  return m.bridge ? stat_line(m.bridge->stats()) : "error no bridge";
}

// `wait-stat NAME MIN TIMEOUT_MS`: until the count reaches MIN
std::string do_wait_stat(Machine& m, std::istringstream& words) {
  std::string name;
  std::uint64_t min = 0;
  long timeout_ms = 0;
  words >> name >> min >> timeout_ms;
  m.bridge->wait_for([&](const statebus::MqttBridgeStats& s) { return stat_value(s, name) >= min; },
                     std::chrono::milliseconds(timeout_ms));
  return stat_value(m.bridge->stats(), name) >= min ? stat_line(m.bridge->stats())
                                                    : "error " + stat_line(m.bridge->stats()).substr(3);
}

// `spawn NAME PREFIX PATH ARGS…`: a process on this bus; answers its first line starting with PREFIX
std::string do_spawn(Machine& m, std::istringstream& words) {
  std::string name, prefix, word;
  std::vector<std::string> argv;
  words >> name >> prefix;
  while (words >> word) argv.push_back(word);
  auto child = statebus::testkit::ChildProcess::spawn(argv, "/dev/shm/" + name + ".log");
  if (!child) return "error " + child.error().message();
  for (;;) {
    auto out = child->read_line(30s);
    if (!out) return "error " + name + " wrote no line starting with " + prefix + ": " + child->describe();
    if (out->rfind(prefix, 0) == 0) {
      m.children.insert_or_assign(name, std::move(*child));
      return "ok " + *out;
    }
  }
}

// `signal NAME SIGNUM`: sends a signal to a process `spawn` started
std::string do_signal(Machine& m, std::istringstream& words) {
  std::string name;
  int signal = 0;
  words >> name >> signal;
  auto found = m.children.find(name);
  if (found == m.children.end()) return "error no process " + name;
  found->second.signal(signal);
  return "ok";
}

// `cell-json NAME`: any cell's value as JSON
std::string do_cell_json(Machine&, std::istringstream& words) {
  std::string name;
  words >> name;
  auto cell = statebus::UntypedCell::open(name);
  if (!cell) return "error " + cell.error().message();
  std::string value(cell->size(), '\0');
  cell->load(value.data());
  return "ok " + cell->schema().render_json(value.data());
}

// `cell-wait-json NAME TEXT TIMEOUT_MS`: until the cell's JSON contains TEXT
std::string do_cell_wait_json(Machine& m, std::istringstream& words) {
  std::string name, text;
  long timeout_ms = 0;
  words >> name >> text >> timeout_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto cell = statebus::UntypedCell::open(name);
    std::string json = "(no cell)";
    std::uint64_t version = 0;
    if (cell) {
      std::string value(cell->size(), '\0');
      version = cell->load(value.data());
      json = cell->schema().render_json(value.data());
      if (json.find(text) != std::string::npos) return "ok " + json;
    }
    if (std::chrono::steady_clock::now() >= deadline) return "error " + json;
    if (cell) {
      if (const auto waited = cell->wait_for_change_until(version, statebus::VirtualClock::now() + 100ms);
          waited.failed()) {
        return "error " + waited.error().message();
      }
    } else if (m.bridge) {
      const auto applied = m.bridge->stats().cells_applied;
      m.bridge->wait_for([&](const statebus::MqttBridgeStats& s) { return s.cells_applied > applied; }, 100ms);
    }
  }
}

// `clock-rate RATE`
std::string do_clock_rate(Machine&, std::istringstream& words) {
  double rate = 1;
  words >> rate;
  auto set = statebus::VirtualClock::set_rate(rate);
  return set ? "ok" : "error " + set.error().message();
}

// `clock`: mode, rate and virtual time now (ns)
std::string do_clock(Machine&, std::istringstream&) {
  const auto status = statebus::VirtualClock::status();
  return "ok " + std::string(statebus::to_string(status.mode)) + " " + std::to_string(status.rate) + " " +
         std::to_string(status.now.time_since_epoch().count());
}

// `clock-wait-rate RATE TIMEOUT_MS`: until this bus's clock runs at RATE
std::string do_clock_wait_rate(Machine&, std::istringstream& words) {
  double rate = 1;
  long timeout_ms = 0;
  words >> rate >> timeout_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (statebus::VirtualClock::status().rate != rate && std::chrono::steady_clock::now() < deadline) {
    // Any change of the clock ends this sleep at once (the follower sets
    // the rate).
    statebus::VirtualClock::sleep_until(statebus::VirtualClock::now() + 100ms);
  }
  return statebus::VirtualClock::status().rate == rate ? "ok" : "error rate is not " + std::to_string(rate);
}

// `offer CHANNEL WAIT [HISTORY]`: a publisher; with WAIT 1 until a subscriber is connected
std::string do_offer(Machine& m, std::istringstream& words) {
  std::string channel;
  int wait = 0;
  std::uint32_t history = 0;
  words >> channel >> wait >> history;
  if (m.publishers.count(channel) == 0) {
    auto pub = statebus::Publisher<Reading>::create(*m.node, channel, statebus::PublisherOptions{history, false});
    if (!pub) return "error " + pub.error().message();
    m.publishers.emplace(channel, std::move(*pub));
  }
  if (wait != 0 && !m.publishers.at(channel).wait_for_subscribers(15s)) return "error no subscriber within 15 s";
  return "ok";
}

// `wait-subscribers CHANNEL N TIMEOUT_MS`: as the daemon's port list says
std::string do_wait_subscribers(Machine& m, std::istringstream& words) {
  std::string channel;
  std::size_t n = 0;
  long timeout_ms = 0;
  words >> channel >> n >> timeout_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t seen = 0;
  do {  // each look waits for the daemon's next port list (about a
        // second)
    auto channels = statebus::list_channels(*m.node, 0ms);
    if (!channels) return "error " + channels.error().message();
    for (const auto& c : *channels) {
      if (c.name == channel) seen = c.subscribers;
    }
  } while (seen < n && std::chrono::steady_clock::now() < deadline);
  return seen >= n ? "ok" : "error " + std::to_string(seen) + " subscribers";
}

// `wait-down TIMEOUT_MS`: until the bridge has no link
std::string do_wait_down(Machine& m, std::istringstream& words) {
  long timeout_ms = 0;
  words >> timeout_ms;
  const bool down = m.bridge->wait_for([](const statebus::MqttBridgeStats& s) { return !s.connected; },
                                       std::chrono::milliseconds(timeout_ms));
  return down ? "ok" : "error still connected";
}

// `publish CHANNEL FIRST COUNT CELSIUS ROOM LEVEL`
std::string do_publish(Machine& m, std::istringstream& words) {
  std::string channel, room;
  std::uint32_t first = 0, count = 0;
  double celsius = 0;
  unsigned level = 0;
  words >> channel >> first >> count >> celsius >> room >> level;
  auto found = m.publishers.find(channel);
  if (found == m.publishers.end()) {
    auto pub = statebus::Publisher<Reading>::create(*m.node, channel);
    if (!pub) return "error " + pub.error().message();
    found = m.publishers.emplace(channel, std::move(*pub)).first;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    Reading r;
    r.index = first + i;
    r.celsius = celsius;
    std::snprintf(r.room, sizeof r.room, "%s", room.c_str());
    r.level = static_cast<std::uint8_t>(level);
    if (!found->second.publish(r)) return "error publish failed at " + std::to_string(r.index);
  }
  return "ok";
}

// `subscribe CHANNEL`: waits until a publisher is connected
std::string do_subscribe(Machine& m, std::istringstream& words) {
  std::string channel;
  words >> channel;
  auto sub = statebus::Subscriber<Reading>::create(*m.node, channel, statebus::SubscriberOptions{256, 0, false});
  if (!sub) return "error " + sub.error().message();
  if (!sub->wait_connected(15s)) return "error no publisher of " + channel + " connected within 15 s";
  m.subscribers.emplace(channel, std::move(*sub));
  return "ok";
}

// `listen CHANNEL`: a subscriber, without waiting for any publisher
std::string do_listen(Machine& m, std::istringstream& words) {
  std::string channel;
  words >> channel;
  auto sub = statebus::Subscriber<Reading>::create(*m.node, channel, statebus::SubscriberOptions{256, 0, false});
  if (!sub) return "error " + sub.error().message();
  m.subscribers.emplace(channel, std::move(*sub));
  return "ok";
}

// `listen-setpoint CHANNEL`: a subscriber of the other message type
std::string do_listen_setpoint(Machine& m, std::istringstream& words) {
  std::string channel;
  words >> channel;
  auto sub = statebus::Subscriber<Setpoint>::create(*m.node, channel);
  if (!sub) return "error " + sub.error().message();
  m.setpoint_readers.emplace(channel, std::move(*sub));
  return "ok";
}

// `take CHANNEL TIMEOUT_MS`: the next sample, or none
std::string do_take(Machine& m, std::istringstream& words) {
  std::string channel;
  long timeout_ms = 0;
  words >> channel >> timeout_ms;
  auto found = m.subscribers.find(channel);
  if (found == m.subscribers.end()) return "error not subscribed to " + channel;
  auto sample = found->second.take_for(std::chrono::milliseconds(timeout_ms));
  if (!sample) return "none";
  const Reading& r = sample->value();
  return "ok " + statebus::fingerprint_hex(sample->header().fingerprint) + " " + std::to_string(r.index) + " " +
         std::to_string(r.celsius) + " " + r.room + " " + std::to_string(r.level);
}

// `queued CHANNEL`: samples waiting, taken
std::string do_queued(Machine& m, std::istringstream& words) {
  std::string channel;
  words >> channel;
  auto found = m.subscribers.find(channel);
  if (found == m.subscribers.end()) return "error not subscribed to " + channel;
  int n = 0;
  while (found->second.take()) ++n;
  return "ok " + std::to_string(n);
}

// `lost CHANNEL`: samples the subscriber counted lost
std::string do_lost(Machine& m, std::istringstream& words) {
  std::string channel;
  words >> channel;
  auto found = m.subscribers.find(channel);
  if (found == m.subscribers.end()) return "error not subscribed to " + channel;
  return "ok " + std::to_string(found->second.lost());
}

// `cell-open NAME CELSIUS`: opens (or creates) a Setpoint cell
std::string do_cell_open(Machine& m, std::istringstream& words) {
  std::string name;
  double celsius = 0;
  words >> name >> celsius;
  auto cell = statebus::Cell<Setpoint>::open_or_create(name, Setpoint{celsius, 0.5});
  if (!cell) return "error " + cell.error().message();
  m.cells.insert_or_assign(name, std::move(*cell));
  return "ok";
}

// `cell-set NAME CELSIUS`: stores a Setpoint
std::string do_cell_set(Machine& m, std::istringstream& words) {
  std::string name;
  double celsius = 0;
  words >> name >> celsius;
  auto found = m.cells.find(name);
  if (found == m.cells.end()) return "error no cell " + name;
  found->second.store(Setpoint{celsius, 0.5});
  return "ok";
}

// `cell-wait NAME CELSIUS TIMEOUT_MS`: opens the cell once it exists
std::string do_cell_wait(Machine& m, std::istringstream& words) {
  std::string name;
  double celsius = 0;
  long timeout_ms = 0;
  words >> name >> celsius >> timeout_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (m.cells.count(name) == 0) {
    if (auto cell = statebus::UntypedCell::open(name); cell) {
      auto typed = statebus::Cell<Setpoint>::open_or_create(name);
      if (!typed) return "error " + typed.error().message();
      m.cells.emplace(name, std::move(*typed));
    } else if (std::chrono::steady_clock::now() >= deadline) {
      return "error no cell " + name + " appeared";
    } else if (m.bridge) {
      const auto applied = m.bridge->stats().cells_applied;
      m.bridge->wait_for([&](const statebus::MqttBridgeStats& s) { return s.cells_applied > applied; }, 100ms);
    }
  }
  auto& cell = m.cells.at(name);
  for (;;) {
    const auto [value, version] = cell.load_versioned();
    if (value.celsius == celsius) return "ok";
    if (std::chrono::steady_clock::now() >= deadline) return "error celsius is " + std::to_string(value.celsius);
    if (const auto waited = cell.wait_for_change(version, statebus::virtual_timeout(50ms)); waited.failed()) {
      return "error " + waited.error().message();
    }
  }
}

// `drop CHANNEL`: destroys the publisher (it says goodbye)
std::string do_drop(Machine& m, std::istringstream& words) {
  std::string channel;
  words >> channel;
  return m.publishers.erase(channel) == 1 ? "ok" : "error no publisher of " + channel;
}

// The commands, by name; each answers one line.
using Command = std::string (*)(Machine&, std::istringstream&);
const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"stop-bridge", do_stop_bridge},
      {"stats", do_stats},
      {"wait-stat", do_wait_stat},
      {"spawn", do_spawn},
      {"signal", do_signal},
      {"cell-json", do_cell_json},
      {"cell-wait-json", do_cell_wait_json},
      {"clock-rate", do_clock_rate},
      {"clock", do_clock},
      {"clock-wait-rate", do_clock_wait_rate},
      {"offer", do_offer},
      {"drop", do_drop},
      {"wait-subscribers", do_wait_subscribers},
      {"wait-down", do_wait_down},
      {"publish", do_publish},
      {"subscribe", do_subscribe},
      {"listen", do_listen},
      {"listen-setpoint", do_listen_setpoint},
      {"take", do_take},
      {"queued", do_queued},
      {"lost", do_lost},
      {"cell-open", do_cell_open},
      {"cell-set", do_cell_set},
      {"cell-wait", do_cell_wait},
  };
  return table;
}

std::string run(Machine& m, const std::string& line) {
  std::istringstream words(line);
  std::string command;
  words >> command;
  if (command == "bridge" || command == "bridge-nowait") return start_bridge(m, words, command == "bridge");
  const auto found = commands().find(command);
  return found == commands().end() ? "error unknown command " + command : found->second(m, words);
}

}  // namespace

int main(int argc, char** argv) {
  auto isolation = statebus::testkit::isolate_bus();
  if (!isolation) {
    std::printf("error %s\n", isolation.error().message().c_str());
    return 1;
  }
  if (*isolation != statebus::testkit::Isolation::private_namespace) {
    std::printf("shared\n");  // a second bus cannot be had here: the test skips
    return 0;
  }
  std::printf("isolated\n");
  std::fflush(stdout);
  spdlog::set_default_logger(spdlog::stderr_logger_mt("machine"));
  spdlog::set_pattern("%v");
  static auto daemon = statebus::Daemon::start();
  if (!daemon) {
    std::printf("error %s\n", daemon.error().message().c_str());
    return 1;
  }
  Machine m;
  auto node = statebus::Node::connect(argc > 1 ? argv[1] : "machine");
  if (!node) {
    std::printf("error %s\n", node.error().message().c_str());
    return 1;
  }
  m.node = std::move(*node);
  std::printf("ok ready\n");
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
    const std::string answer = line.empty() ? "error empty command" : run(m, line);
    std::printf("%s\n", answer.c_str());
    std::fflush(stdout);
  }
  for (auto& [name, child] : m.children) {  // stopped before the bridge and the bus
    child.signal(SIGTERM);
    child.wait(10s);
  }
  m.children.clear();
  m.bridge.reset();
  return 0;
}
