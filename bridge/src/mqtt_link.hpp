#pragma once
// One connection to an MQTT broker through libmosquitto: MQTT 5, Nagle off,
// TLS and credentials, a last will, reconnects with backoff, and a bound on
// QoS 1 messages waiting for the broker.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <mosquitto.h>

#include "statebus/base/error.hpp"

namespace statebus::bridge_detail {

struct BrokerAddress {
  std::string host;
  int port = 1883;
  bool tls = false;
};

/// Parses `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]` (1883 and 8883 by default).
Result<BrokerAddress> parse_broker_url(std::string_view url);

struct LinkSettings {
  BrokerAddress broker;
  std::string ca_file, cert_file, key_file;
  std::string username, password;
  std::string client_id;
  int keepalive_seconds = 30;
  std::string will_topic, will_payload;  ///< retained, QoS 1
  std::size_t max_in_flight = 1000;
};

struct LinkHandlers {
  /// A message arrived (network thread).
  std::function<void(std::string_view topic, std::string_view payload, bool retained)> message;
  /// Connected (network thread); subscribe and re-send from here.
  std::function<void()> connected;
  /// The link broke or the connection was refused (network thread).
  std::function<void(const std::string& why)> disconnected;
};

class MqttLink {
 public:
  /// Starts the network thread. The settings were checked
  /// (MqttBridge::check_options); fails for what libmosquitto still refuses.
  static Result<std::unique_ptr<MqttLink>> start(const LinkSettings& settings, LinkHandlers handlers);
  /// Starts connecting; the network thread retries with backoff until stop().
  void connect();
  ~MqttLink();
  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  enum class Sent { ok, not_connected, too_many_in_flight, failed };
  /// Queues a message; never blocks. Not queued unless ok.
  Sent publish(const std::string& topic, std::string_view payload, int qos, bool retain) noexcept;
  /// Subscribes with No Local (the broker never returns our own messages).
  bool subscribe(const std::vector<std::string>& filters, int qos);
  [[nodiscard]] bool connected() const noexcept { return connected_.load(std::memory_order_acquire); }
  /// Publishes `payload` on the will topic, disconnects cleanly and joins. Idempotent.
  void stop(std::string_view last_payload);

 private:
  MqttLink() = default;
  static void on_connect(mosquitto*, void* self, int rc, int flags, const mosquitto_property* props);
  static void on_disconnect(mosquitto*, void* self, int rc, const mosquitto_property* props);
  static void on_message(mosquitto*, void* self, const mosquitto_message* message, const mosquitto_property* props);
  static void on_publish(mosquitto*, void* self, int mid, int reason, const mosquitto_property* props);

  mosquitto* mosq_ = nullptr;
  LinkSettings settings_;
  LinkHandlers handlers_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<long> in_flight_{0};
  bool stopped_ = false;
};

}  // namespace statebus::bridge_detail
