#pragma once
/// The bus bridged to an MQTT broker: channels and cells out as JSON, topics
/// in as typed samples, availability, Home Assistant discovery. The topics
/// and the contract are in bridge/README.md.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/bus/node.hpp"
#include "statebus/base/error.hpp"

namespace statebus {

/// A pattern of channels or cells with the MQTT QoS to use for them.
struct MqttRoute {
  std::string pattern;  ///< `home/**`, `home/*/temperature`, or one name
  int qos = 0;          ///< 0 or 1
};

/// Parses `PATTERN` or `PATTERN:QOS` (QoS 0 or 1). Fails with
/// invalid_argument naming what is wrong.
Result<MqttRoute> parse_mqtt_route(std::string_view text, int default_qos);

/// A thermostat as Home Assistant shows it (a `climate` entity), made of
/// fields of what the bridge carries, each as `NAME.FIELD`:
/// `heating:target=home/setpoint.celsius,current=home/sensor/temperature.celsius,mode=home/setpoint.mode,action=home/heating/status.heater_on`.
struct MqttClimate {
  std::string name;     ///< the entity's name, [A-Za-z0-9_-]
  std::string target;   ///< the target temperature: a number field of an owned, settable cell (its range and step are the thermostat's)
  std::string current;  ///< the room's temperature: a number field of a bridged channel or cell
  std::string mode;     ///< optional: an enum field of the target's cell (names among off, heat, cool, auto, dry, fan_only, heat_cool)
  std::string action;   ///< optional: a bool field, true while heating (a bridged channel or cell)
};

/// Parses `NAME:target=…,current=…[,mode=…][,action=…]`. Fails with
/// invalid_argument naming what is missing or malformed.
Result<MqttClimate> parse_mqtt_climate(std::string_view text);

/// How to reach the broker and what to bridge.
struct MqttOptions {
  /// `mqtt://HOST:PORT` or `mqtts://HOST:PORT` (TLS; needs ca_file).
  std::string broker = "mqtt://127.0.0.1:1883";
  std::string ca_file;    ///< CA certificates that sign the broker's (mqtts)
  std::string cert_file;  ///< optional client certificate (mqtts)
  std::string key_file;   ///< its key
  std::string username;   ///< empty: anonymous
  std::string password;
  /// Unique on the broker (two clients with one id kick each other off);
  /// empty: `statebus-<host>-<pid>`. Also the `origin` of what it sends,
  /// and a topic level (`<prefix>/$status/<client id>`): no '/', '+', '#'.
  std::string client_id;
  int keepalive_seconds = 30;
  std::string prefix = "statebus";  ///< first topic level(s), e.g. `home1`
  std::vector<MqttRoute> out;       ///< channels to publish (QoS default 0)
  std::vector<MqttRoute> in;        ///< channels to take in (QoS default 0)
  std::vector<MqttRoute> state;     ///< cells this bus owns (QoS default 1)
  std::vector<MqttRoute> mirror;    ///< cells another bus owns (QoS default 1)
  /// Home Assistant discovery prefix; empty: no discovery.
  std::string homeassistant_prefix;
  std::vector<std::string> settable;  ///< owned cells Home Assistant may write
  std::vector<MqttClimate> climates;  ///< thermostats for Home Assistant (needs homeassistant_prefix)
  /// The bus's virtual time: `send` publishes it (retained `<prefix>/$clock`,
  /// on every change of mode or rate and five times a second), `follow`
  /// moves this bus's clock along with it (a bus on another machine that
  /// shows the same virtual time). At most one bus of a prefix sends.
  enum class ClockSync { none, send, follow };
  ClockSync clock = ClockSync::none;
  std::size_t max_payload = 64 * 1024;  ///< inbound payloads above it are refused
  std::size_t max_in_flight = 1000;     ///< QoS 1 messages waiting for the broker
  /// A failure trying again cannot mend (credentials, authorisation, the
  /// client id taken over, certificates, TLS against a plain port) ends
  /// the link after 3 tries in a row (link_health() then fails); true:
  /// keep trying for ever. An unreachable broker is tried for ever anyway.
  bool keep_trying = false;
};

/// Reads a user name (first line) and password (second line) from `path`
/// into `options`. Fails with invalid_argument if it cannot.
Result<void> load_mqtt_credentials(MqttOptions& options, const std::string& path);

/// What the bridge did since it started.
struct MqttBridgeStats {
  bool connected = false;
  std::uint64_t connects = 0;          ///< successful connects, the first included
  std::uint64_t sent = 0;              ///< samples sent to the broker
  std::uint64_t received = 0;          ///< samples published on the bus
  std::uint64_t cells_sent = 0;        ///< cell values sent
  std::uint64_t cells_applied = 0;     ///< cell writes and mirrored values stored
  std::uint64_t refused = 0;           ///< inbound messages refused (all reasons)
  std::map<std::string, std::uint64_t> refused_by_reason;  ///< e.g. "unknown field"
  std::uint64_t dropped = 0;           ///< outbound samples dropped (link down, full)
  std::map<std::string, std::uint64_t> dropped_by_channel;
  std::uint64_t echoes_skipped = 0;    ///< samples that came from the broker not sent back, and back
  /// Samples and messages another bridge of this bus and broker carries
  /// (bridge/README.md, "Any number of bridges"): left to it.
  std::uint64_t left_to_peers = 0;
  /// Samples received again and published once: a bridge sends its last
  /// sample again after a reconnect or Home Assistant's restart.
  std::uint64_t repeats_skipped = 0;
  /// Samples missing from the sequences of the publishers behind inbound
  /// messages (lost on the sending bus, by its bridge or on the link). Each
  /// is a gap in this bridge's own sequence too, so the bus's subscribers
  /// count it lost (Subscriber::lost()) with this bridge as the publisher.
  std::uint64_t lost_upstream = 0;
};

/// A running bridge. Move-only; stopping (destruction) sends `offline`,
/// disconnects and joins its threads.
///
/// Thread safety: stats() and wait_* from any thread; the rest from one.
class MqttBridge {
 public:
  /// Validates the options and starts connecting; an unreachable broker is
  /// not an error (it keeps trying, logging why). Needs this process's Node
  /// for the bridge's ports; the node must outlive the bridge. Fails with
  /// invalid_argument for bad options, naming the option.
  static Result<MqttBridge> start(const Node& node, MqttOptions options);
  /// What start() checks before it needs the bus: the broker URL, files,
  /// prefix, client id and patterns. Fails with invalid_argument naming the option.
  static Result<void> check_options(const MqttOptions& options);
  MqttBridge(MqttBridge&&) noexcept;
  MqttBridge& operator=(MqttBridge&&) noexcept;
  ~MqttBridge();

  [[nodiscard]] MqttBridgeStats stats() const;
  /// The client id in use (also the `origin` of what it sends).
  [[nodiscard]] const std::string& client_id() const noexcept;
  /// Waits (real time) until connected and subscribed; false on timeout.
  bool wait_connected(std::chrono::milliseconds timeout) const;
  /// Waits (real time) until every channel and cell the patterns match on
  /// the bus now has been found and its schema sent; false on timeout.
  bool wait_ready(std::chrono::milliseconds timeout) const;
  /// Waits (real time) until `done(stats())` holds; false on timeout. For
  /// tests and tools: the stats change under a lock the bridge takes anyway.
  bool wait_for(const std::function<bool(const MqttBridgeStats&)>& done, std::chrono::milliseconds timeout) const;
  /// Stops: `offline`, disconnect, threads joined. Idempotent.
  void stop();
  /// Fails once the bridge's bus is gone (Node::bus_health()'s error: its
  /// daemon stopped, died or was replaced). The bridge has then said
  /// `offline` on the broker, disconnected, and stopped relaying; its
  /// process should end (`statebus bridge` exits with status 1). The bridge
  /// looks ten times a second. Thread-safe.
  [[nodiscard]] Result<void> bus_health() const;
  /// Fails once the link gave up (MqttOptions::keep_trying): the error
  /// names the failure, e.g. "the broker refused: Bad user name or password".
  [[nodiscard]] Result<void> link_health() const;

 private:
  struct Impl;
  explicit MqttBridge(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus
