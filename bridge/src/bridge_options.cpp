// The bridge's options: routes (`PATTERN[:QOS]`), the credentials file, and
// what start() checks before it needs the bus, each failure naming the option.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "bridge_impl.hpp"

namespace statebus {
namespace {

Error bad_option(const std::string& message) { return Error(Errc::invalid_argument, message); }

}  // namespace

namespace bridge_detail {

Result<std::vector<Route>> parse_routes(const std::vector<MqttRoute>& routes, const char* option) {
  std::vector<Route> out;
  for (const MqttRoute& route : routes) {
    auto pattern = ChannelPattern::parse(route.pattern);
    if (!pattern) return tl::make_unexpected(bad_option(std::string(option) + ": " + pattern.error().message()));
    if (route.qos != 0 && route.qos != 1) {
      return tl::make_unexpected(bad_option(std::string(option) + " " + route.pattern + ": QoS must be 0 or 1"));
    }
    out.push_back({std::move(*pattern), route.qos});
  }
  return out;
}

}  // namespace bridge_detail

Result<MqttRoute> parse_mqtt_route(std::string_view text, int default_qos) {
  MqttRoute route{std::string(text), default_qos};
  if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    const std::string_view qos = text.substr(colon + 1);
    if (qos != "0" && qos != "1") {
      return tl::make_unexpected(bad_option("'" + std::string(text) + "': the QoS after ':' must be 0 or 1"));
    }
    route.pattern = std::string(text.substr(0, colon));
    route.qos = qos[0] - '0';
  }
  if (auto pattern = ChannelPattern::parse(route.pattern); !pattern) return tl::make_unexpected(pattern.error());
  return route;
}

Result<void> load_mqtt_credentials(MqttOptions& options, const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return tl::make_unexpected(bad_option("cannot read the credentials file '" + path + "': " + std::strerror(errno)));
  }
  std::string user, password;
  std::getline(file, user);
  std::getline(file, password);
  for (std::string* s : {&user, &password}) {
    if (!s->empty() && s->back() == '\r') s->pop_back();
  }
  if (user.empty()) {
    return tl::make_unexpected(bad_option("the credentials file '" + path +
                                          "' has no user name on its first line (user, then password)"));
  }
  options.username = user;
  options.password = password;
  return {};
}

Result<void> MqttBridge::check_options(const MqttOptions& options) {
  auto broker = bridge_detail::parse_broker_url(options.broker);
  if (!broker) return tl::make_unexpected(broker.error());
  if (broker->tls && options.ca_file.empty()) {
    return tl::make_unexpected(
        bad_option("mqtts:// needs the CA file that signed the broker's certificate (--cafile)"));
  }
  for (const std::string* file : {&options.ca_file, &options.cert_file, &options.key_file}) {
    if (!file->empty() && ::access(file->c_str(), R_OK) != 0) {
      return tl::make_unexpected(bad_option("cannot read '" + *file + "'; give a readable PEM file"));
    }
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return tl::make_unexpected(
        bad_option("a client certificate (--cert) needs its key (--key), and a key its certificate"));
  }
  if (options.prefix.empty() || options.prefix.find_first_of("#+$") != std::string::npos ||
      options.prefix.back() == '/' || options.prefix.front() == '/') {
    return tl::make_unexpected(bad_option("prefix '" + options.prefix +
                                          "' must be one or more topic levels without '#', '+', '$' or a leading or "
                                          "trailing '/'"));
  }
  if (options.client_id.size() > 128) return tl::make_unexpected(bad_option("the client id is over 128 characters"));
  if (options.client_id.find_first_of("/+#") != std::string::npos) {
    return tl::make_unexpected(bad_option("client id '" + options.client_id +
                                          "' has a '/', '+' or '#': it names the bridge's status topic "
                                          "(PREFIX/$status/ID); use letters, digits, '-', '_' and '.'"));
  }
  for (auto [routes, name] : {std::pair{&options.out, "--out"}, std::pair{&options.in, "--in"},
                              std::pair{&options.state, "--state"}, std::pair{&options.mirror, "--mirror"}}) {
    auto parsed = bridge_detail::parse_routes(*routes, name);
    if (!parsed) return tl::make_unexpected(parsed.error());
  }
  for (const MqttRoute& r : options.in) {
    if (bridge_detail::first_part_is_state(r.pattern)) {
      return tl::make_unexpected(bad_option("--in " + r.pattern + ": topics under state/ are cells' (use --mirror)"));
    }
  }
  for (const std::string& text : options.settable) {
    if (auto pattern = ChannelPattern::parse(text); !pattern) {
      return tl::make_unexpected(bad_option("--settable: " + pattern.error().message()));
    }
  }
  if (!options.climates.empty() && options.homeassistant_prefix.empty()) {
    return tl::make_unexpected(bad_option("--ha-climate needs --homeassistant"));
  }
  return {};
}

}  // namespace statebus
