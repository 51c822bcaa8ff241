// `statebus bridge mqtt`: the bus bridged to an MQTT broker until SIGINT/SIGTERM.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "statebus/bridge/mqtt.hpp"

namespace statebus::cli {
namespace {

struct BridgeArgs {
  MqttOptions options;
  std::vector<std::string> out, in, state, mirror, climates;
  std::string credentials;
  std::string homeassistant;
  std::string clock = "none";
  bool verbose = false;
};

std::string counts(const std::map<std::string, std::uint64_t>& by) {
  std::string out;
  for (const auto& [what, n] : by) out += (out.empty() ? "" : ", ") + what + " " + std::to_string(n);
  return out.empty() ? "" : " (" + out + ")";
}

int run_bridge(BridgeArgs& args) {
  MqttOptions& options = args.options;
  for (auto [texts, routes, qos] : {std::tuple{&args.out, &options.out, 0}, std::tuple{&args.in, &options.in, 0},
                                    std::tuple{&args.state, &options.state, 1},
                                    std::tuple{&args.mirror, &options.mirror, 1}}) {
    for (const std::string& text : *texts) {
      auto route = parse_mqtt_route(text, qos);
      if (!route) return report("bridge", route.error());
      routes->push_back(*route);
    }
  }
  if (options.out.empty() && options.in.empty() && options.state.empty() && options.mirror.empty()) {
    return usage_error(
        "bridge", "nothing to bridge: give --out, --in, --state or --mirror patterns (statebus bridge mqtt --help)");
  }
  // Credentials never come from argv: a file, or the environment.
  if (!args.credentials.empty()) {
    if (auto loaded = load_mqtt_credentials(options, args.credentials); !loaded)
      return report("bridge", loaded.error());
  } else if (const char* user = std::getenv("STATEBUS_MQTT_USERNAME"); user != nullptr && *user != '\0') {
    options.username = user;
    if (const char* password = std::getenv("STATEBUS_MQTT_PASSWORD")) options.password = password;
  }
  options.homeassistant_prefix = args.homeassistant;
  for (const std::string& text : args.climates) {
    auto climate = parse_mqtt_climate(text);
    if (!climate) return report("bridge", climate.error());
    options.climates.push_back(*climate);
  }
  options.clock = args.clock == "send"     ? MqttOptions::ClockSync::send
                  : args.clock == "follow" ? MqttOptions::ClockSync::follow
                                           : MqttOptions::ClockSync::none;
  spdlog::set_default_logger(spdlog::stderr_logger_mt("statebus-bridge"));
  spdlog::set_pattern("statebus bridge: %v");
  spdlog::set_level(args.verbose ? spdlog::level::debug : spdlog::level::info);
  if (auto checked = MqttBridge::check_options(options); !checked) return report("bridge", checked.error());
  auto node = connect_cli();
  if (!node) return report("bridge", node.error());
  auto bridge = MqttBridge::start(*node, options);
  if (!bridge) return report("bridge", bridge.error());
  stop_on_signals();
  std::printf("statebus bridge: %s as %s, prefix %s; Ctrl-C stops\n", options.broker.c_str(),
              bridge->client_id().c_str(), options.prefix.c_str());
  std::fflush(stdout);
  // The bridge's own threads do the work; this one waits for the signal,
  // or for the bridge to lose its bus (it has said so and gone offline).
  bool lost = false;
  while (!g_stop && !lost) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    lost = !bridge->bus_health() || !bridge->link_health();
  }
  bridge->stop();
  const MqttBridgeStats s = bridge->stats();
  std::printf("statebus bridge: stopped; sent %llu samples and %llu cell values, published %llu on the bus, applied "
              "%llu cell writes, refused %llu%s, dropped %llu%s\n",
              static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.cells_sent),
              static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.cells_applied),
              static_cast<unsigned long long>(s.refused), counts(s.refused_by_reason).c_str(),
              static_cast<unsigned long long>(s.dropped), counts(s.dropped_by_channel).c_str());
  // 1: the bus is gone (restart the bridge once a daemon runs again), or the
  // link gave up (mend what it named).
  return lost ? 1 : 0;
}

}  // namespace

void add_bridge_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BridgeArgs>();
  CLI::App* bridge = app.add_subcommand("bridge", "Bridge the bus to other machines");
  bridge->require_subcommand(1);
  CLI::App* mqtt = bridge->add_subcommand("mqtt", "Bridge channels and cells to an MQTT broker (see bridge/README.md)");
  MqttOptions& o = args->options;
  mqtt->add_option("--broker", o.broker, "mqtt://HOST:PORT, or mqtts://HOST:PORT with --cafile")->capture_default_str();
  mqtt->add_option("--cafile", o.ca_file, "CA certificates that signed the broker's (mqtts)");
  mqtt->add_option("--cert", o.cert_file, "Client certificate (mqtts)");
  mqtt->add_option("--key", o.key_file, "Its key");
  mqtt->add_option("--credentials", args->credentials,
                   "File with the user name (line 1) and password (line 2); else STATEBUS_MQTT_USERNAME and "
                   "STATEBUS_MQTT_PASSWORD");
  mqtt->add_option("--client-id", o.client_id, "Unique on the broker (default statebus-HOST-PID)");
  mqtt->add_flag("--keep-trying", o.keep_trying,
                 "Keep trying after failures trying again cannot mend (credentials, certificates, a taken client id)");
  mqtt->add_option("--keepalive", o.keepalive_seconds, "Seconds")->check(CLI::Range(5, 3600))->capture_default_str();
  mqtt->add_option("--prefix", o.prefix, "First topic level(s)")->capture_default_str();
  mqtt->add_option("--out", args->out, "Channels to publish: PATTERN[:QOS], e.g. 'home/**' or 'home/sensor/*:1'");
  mqtt->add_option("--in", args->in, "Topics to publish on the bus: PATTERN[:QOS] (nothing comes in unless named)");
  mqtt->add_option("--state", args->state, "Cells this bus owns: sent retained, written through .../set");
  mqtt->add_option("--mirror", args->mirror, "Cells another bus owns: kept equal here, writes sent to the owner");
  mqtt->add_flag("--homeassistant{homeassistant}", args->homeassistant,
                 "Send Home Assistant discovery (--homeassistant=PREFIX for another prefix)");
  mqtt->add_option("--settable", o.settable, "Owned cells Home Assistant may write (patterns)");
  mqtt->add_option("--ha-climate", args->climates,
                   "A thermostat for Home Assistant: NAME:target=CELL.FIELD,current=NAME.FIELD"
                   "[,mode=CELL.FIELD][,action=NAME.FIELD]");
  mqtt->add_option("--clock", args->clock,
                   "send: publish this bus's virtual time; follow: move this bus's clock with the one sent")
      ->check(CLI::IsMember({"none", "send", "follow"}));
  mqtt->add_option("--max-payload", o.max_payload, "Largest inbound payload in bytes")
      ->check(CLI::Range(16, 16 * 1024 * 1024))
      ->capture_default_str();
  mqtt->add_flag("-v,--verbose", args->verbose, "Debug output");
  mqtt->callback([args, &exit_code] { exit_code = run_bridge(*args); });
}

}  // namespace statebus::cli
