#include "mqtt_link.hpp"

#include <mqtt_protocol.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>

namespace statebus::bridge_detail {
namespace {

Error link_error(const std::string& message) { return Error(Errc::invalid_argument, message); }

std::string reason_text(int rc) {
  // Connect refusals are MQTT reason codes; the rest libmosquitto's errors.
  const char* reason = mosquitto_reason_string(rc);
  return reason != nullptr && *reason != '\0' ? reason : mosquitto_strerror(rc);
}

}  // namespace

Result<BrokerAddress> parse_broker_url(std::string_view url) {
  BrokerAddress address;
  std::string_view rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    address.tls = true;
    address.port = 8883;
  } else {
    return tl::make_unexpected(link_error("broker '" + std::string(url) +
                                          "' is not mqtt://HOST:PORT or mqtts://HOST:PORT"));
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const std::size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    const std::string_view digits = rest.substr(colon + 1);
    int port = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || port < 1 || port > 65535) {
      return tl::make_unexpected(link_error("broker '" + std::string(url) + "': port '" + std::string(digits) +
                                            "' is not a number in 1–65535"));
    }
    address.port = port;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return tl::make_unexpected(link_error("broker '" + std::string(url) + "' names no host"));
  address.host = std::string(rest);
  return address;
}

Result<std::unique_ptr<MqttLink>> MqttLink::start(const LinkSettings& settings, LinkHandlers handlers) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttLink> link(new MqttLink());
  link->settings_ = settings;
  link->handlers_ = std::move(handlers);
  link->mosq_ = mosquitto_new(settings.client_id.c_str(), /*clean_start=*/true, link.get());
  if (link->mosq_ == nullptr) return tl::make_unexpected(Error(Errc::out_of_resources, "cannot create an MQTT client"));
  mosquitto* m = link->mosq_;
  // MQTT 5 for No Local; Nagle off, or QoS 1 waits for delayed ACKs (40 ms).
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_reconnect_delay_set(m, 1, 30, true);
  mosquitto_connect_v5_callback_set(m, &MqttLink::on_connect);
  mosquitto_disconnect_v5_callback_set(m, &MqttLink::on_disconnect);
  mosquitto_message_v5_callback_set(m, &MqttLink::on_message);
  mosquitto_publish_v5_callback_set(m, &MqttLink::on_publish);
  if (!settings.username.empty() &&
      mosquitto_username_pw_set(m, settings.username.c_str(),
                                settings.password.empty() ? nullptr : settings.password.c_str()) != MOSQ_ERR_SUCCESS) {
    return tl::make_unexpected(link_error("the MQTT user name or password is not valid UTF-8"));
  }
  if (settings.broker.tls) {
    const int rc = mosquitto_tls_set(m, settings.ca_file.c_str(), nullptr,
                                     settings.cert_file.empty() ? nullptr : settings.cert_file.c_str(),
                                     settings.key_file.empty() ? nullptr : settings.key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) return tl::make_unexpected(link_error("TLS set-up refused: " + reason_text(rc)));
  }
  if (!settings.will_topic.empty()) {
    mosquitto_will_set(m, settings.will_topic.c_str(), static_cast<int>(settings.will_payload.size()),
                       settings.will_payload.data(), 1, true);
  }
  if (const int rc = mosquitto_loop_start(m); rc != MOSQ_ERR_SUCCESS) {
    return tl::make_unexpected(Error(Errc::system_error, "cannot start the MQTT network thread: " + reason_text(rc)));
  }
  return link;
}

void MqttLink::connect() {
  // An unreachable broker is not an error: the network thread keeps trying.
  const int rc = mosquitto_connect_async(mosq_, settings_.broker.host.c_str(), settings_.broker.port,
                                         settings_.keepalive_seconds);
  if (rc != MOSQ_ERR_SUCCESS && handlers_.disconnected) {
    handlers_.disconnected(rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno)) : reason_text(rc));
  }
}

MqttLink::~MqttLink() {
  stop({});
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
}

void MqttLink::stop(std::string_view last_payload) {
  if (stopped_ || mosq_ == nullptr) return;
  stopped_ = true;
  stopping_ = true;
  // The will is not sent on a clean disconnect: say it ourselves first.
  if (connected() && !settings_.will_topic.empty() && !last_payload.empty()) {
    int mid = 0;
    mosquitto_publish_v5(mosq_, &mid, settings_.will_topic.c_str(), static_cast<int>(last_payload.size()),
                         last_payload.data(), 1, true, nullptr);
  }
  mosquitto_disconnect_v5(mosq_, MQTT_RC_NORMAL_DISCONNECTION, nullptr);
  mosquitto_loop_stop(mosq_, /*force=*/false);
  connected_ = false;
}

MqttLink::Sent MqttLink::publish(const std::string& topic, std::string_view payload, int qos, bool retain) noexcept {
  if (!connected()) return Sent::not_connected;  // libmosquitto would queue QoS 1 and send it twice later
  if (qos > 0 && in_flight_.load(std::memory_order_relaxed) >= static_cast<long>(settings_.max_in_flight)) {
    return Sent::too_many_in_flight;
  }
  const int rc = mosquitto_publish_v5(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(),
                                      qos, retain, nullptr);
  if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST) return Sent::not_connected;
  if (rc != MOSQ_ERR_SUCCESS) return Sent::failed;
  if (qos > 0) in_flight_.fetch_add(1, std::memory_order_relaxed);
  return Sent::ok;
}

bool MqttLink::subscribe(const std::vector<std::string>& filters, int qos) {
  if (filters.empty()) return true;
  std::vector<char*> list;
  list.reserve(filters.size());
  for (const std::string& f : filters) list.push_back(const_cast<char*>(f.c_str()));
  return mosquitto_subscribe_multiple(mosq_, nullptr, static_cast<int>(list.size()), list.data(), qos,
                                      MQTT_SUB_OPT_NO_LOCAL, nullptr) == MOSQ_ERR_SUCCESS;
}

void MqttLink::on_connect(mosquitto*, void* self, int rc, int, const mosquitto_property*) {
  auto* link = static_cast<MqttLink*>(self);
  if (rc != 0) {
    if (link->handlers_.disconnected) link->handlers_.disconnected("the broker refused the connection: " + reason_text(rc));
    return;
  }
  // QoS 1 messages of the old session are re-sent or gone; count afresh.
  link->in_flight_ = 0;
  link->connected_.store(true, std::memory_order_release);
  if (link->handlers_.connected) link->handlers_.connected();
}

void MqttLink::on_disconnect(mosquitto*, void* self, int rc, const mosquitto_property*) {
  auto* link = static_cast<MqttLink*>(self);
  link->connected_.store(false, std::memory_order_release);
  if (!link->stopping_ && link->handlers_.disconnected) {
    link->handlers_.disconnected(rc == MOSQ_ERR_CONN_LOST ? "the connection was lost" : reason_text(rc));
  }
}

void MqttLink::on_message(mosquitto*, void* self, const mosquitto_message* message, const mosquitto_property*) {
  auto* link = static_cast<MqttLink*>(self);
  if (!link->handlers_.message || message->topic == nullptr) return;
  link->handlers_.message(message->topic,
                          std::string_view(static_cast<const char*>(message->payload),
                                           static_cast<std::size_t>(message->payloadlen)),
                          message->retain);
}

void MqttLink::on_publish(mosquitto*, void* self, int, int, const mosquitto_property*) {
  auto* link = static_cast<MqttLink*>(self);
  // Called for QoS 0 too; the count only tracks QoS 1, so never below zero.
  long now = link->in_flight_.load(std::memory_order_relaxed);
  while (now > 0 && !link->in_flight_.compare_exchange_weak(now, now - 1, std::memory_order_relaxed)) {
  }
}

}  // namespace statebus::bridge_detail
