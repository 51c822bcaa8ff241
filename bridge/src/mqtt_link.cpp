#include "mqtt_link.hpp"

#include <mqtt_protocol.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>

namespace statebus::bridge_detail {
namespace {

Error link_error(const std::string& message) { return Error(Errc::invalid_argument, message); }

// libmosquitto's own error codes (never an MQTT reason code).
std::string error_text(int rc, int saved_errno) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(saved_errno);
  if (rc == MOSQ_ERR_CONN_LOST) return "the connection was lost";
  if (rc == MOSQ_ERR_EAI) return "the broker's host name cannot be resolved";
  return mosquitto_strerror(rc);
}

// MQTT 5 reason codes a broker gives that no retry mends.
bool lasting_reason(int reason) {
  switch (reason) {
    case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION:
    case MQTT_RC_CLIENTID_NOT_VALID:
    case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BANNED:
    case MQTT_RC_BAD_AUTHENTICATION_METHOD:
    case MQTT_RC_SESSION_TAKEN_OVER: return true;
    default: return false;
  }
}

}  // namespace

std::chrono::seconds reconnect_delay(int attempt) noexcept {
  if (attempt <= 1) return std::chrono::seconds(1);
  if (attempt >= 6) return std::chrono::seconds(30);
  return std::chrono::seconds(1 << (attempt - 1));  // 2, 4, 8, 16
}

LinkFailure describe_failure(int rc, int saved_errno, int reason_code, const std::string& tls_error,
                             const std::string& client_id) {
  if (reason_code == MQTT_RC_SESSION_TAKEN_OVER) {
    return {"session taken over by another client with id " + client_id +
                " (each bridge needs a client id of its own: --client-id)",
            true};
  }
  if (reason_code != 0) {
    const char* reason = mosquitto_reason_string(reason_code);
    return {std::string("the broker refused: ") + (reason != nullptr ? reason : "reason code " + std::to_string(reason_code)),
            lasting_reason(reason_code)};
  }
  if (!tls_error.empty()) return {"TLS: " + tls_error, true};
  return {error_text(rc, saved_errno), false};
}

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
  mosquitto_threaded_set(m, true);  // our thread runs the loop; others publish
  mosquitto_log_callback_set(m, &MqttLink::on_log);
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
    if (rc != MOSQ_ERR_SUCCESS) return tl::make_unexpected(link_error("TLS set-up refused: " + error_text(rc, errno)));
  }
  if (!settings.will_topic.empty()) {
    mosquitto_will_set(m, settings.will_topic.c_str(), static_cast<int>(settings.will_payload.size()),
                       settings.will_payload.data(), 1, true);
  }
  return link;
}

void MqttLink::connect() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

bool MqttLink::wait_before_try(std::chrono::seconds delay) {
  std::unique_lock lock(wait_mutex_);
  return !wake_.wait_for(lock, delay, [&] { return stopping_.load(); });
}

// Connects, runs libmosquitto's loop while connected, and after each
// failure says what it was and waits (1 s doubling to 30 s). An unreachable
// broker is not an error: it keeps trying; a lasting failure ends it after
// `give_up_after` in a row.
void MqttLink::run() {
  int attempt = 0;
  int lasting_in_a_row = 0;
  while (!stopping_) {
    refusal_ = 0;
    disconnect_reason_ = 0;
    tls_error_.clear();
    errno = 0;
    int rc = mosquitto_connect_bind_v5(mosq_, settings_.broker.host.c_str(), settings_.broker.port,
                                       settings_.keepalive_seconds, nullptr, nullptr);
    int saved_errno = errno;
    bool was_connected = false;
    std::chrono::steady_clock::time_point connected_at{};
    if (rc == MOSQ_ERR_SUCCESS) {
      bool disconnecting = false;
      std::chrono::steady_clock::time_point disconnect_by{};
      for (;;) {
        if (stopping_ && !disconnecting) {  // after stop()'s last words, queued before this
          mosquitto_disconnect_v5(mosq_, MQTT_RC_NORMAL_DISCONNECTION, nullptr);
          disconnecting = true;
          disconnect_by = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        }
        if (disconnecting && std::chrono::steady_clock::now() > disconnect_by) break;  // a broker that never reads
        errno = 0;
        rc = mosquitto_loop(mosq_, 100, 1);
        saved_errno = errno;
        if (!was_connected && connected()) {
          was_connected = true;
          connected_at = std::chrono::steady_clock::now();
        }
        if (rc != MOSQ_ERR_SUCCESS) break;
      }
      connected_.store(false, std::memory_order_release);
    }
    if (stopping_) break;
    LinkFailure failure =
        describe_failure(rc, saved_errno, refusal_ != 0 ? refusal_ : disconnect_reason_, tls_error_, settings_.client_id);
    // A broker that closes each connection right after it was made, with no
    // reason given (mosquitto 2.0 says nothing of a session taken over):
    // most likely another client has the same id. Said, never acted on.
    const bool quick_loss = was_connected && rc == MOSQ_ERR_CONN_LOST && disconnect_reason_ == 0 &&
                            std::chrono::steady_clock::now() - connected_at < std::chrono::seconds(2);
    quick_losses_ = quick_loss ? quick_losses_ + 1 : 0;
    if (quick_losses_ >= 2) {
      failure.why = "the broker closed the connection right after it was made, " + std::to_string(quick_losses_) +
                    " times in a row: another client probably uses the client id " + settings_.client_id +
                    " (each needs its own: --client-id)";
    }
    if (was_connected && refusal_ == 0 && !quick_loss) attempt = 0;  // a connection that worked: the backoff afresh
    lasting_in_a_row = failure.lasting ? lasting_in_a_row + 1 : 0;
    if (lasting_in_a_row >= settings_.give_up_after && !settings_.keep_trying) {
      if (handlers_.gave_up) handlers_.gave_up(failure.why);
      return;
    }
    const std::chrono::seconds delay = reconnect_delay(++attempt);
    if (handlers_.disconnected) handlers_.disconnected(failure.why, delay);
    if (!wait_before_try(delay)) break;
  }
}

MqttLink::~MqttLink() {
  stop({});
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
}

void MqttLink::stop(std::string_view last_payload) {
  if (stopped_ || mosq_ == nullptr) return;
  stopped_ = true;
  // The will is not sent on a clean disconnect: say it ourselves first. The
  // network thread sends it, then disconnects.
  if (connected() && !settings_.will_topic.empty() && !last_payload.empty()) {
    int mid = 0;
    mosquitto_publish_v5(mosq_, &mid, settings_.will_topic.c_str(), static_cast<int>(last_payload.size()),
                         last_payload.data(), 1, true, nullptr);
  }
  {
    std::lock_guard lock(wait_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
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
  if (rc != 0) {  // an MQTT 5 reason code; the broker closes the connection next
    link->refusal_ = rc;
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
  // A server's DISCONNECT gives its reason code (128 and up); the network
  // thread says what happened once the loop returns.
  if (rc >= 128) link->disconnect_reason_ = rc;
}

void MqttLink::on_log(mosquitto*, void* self, int level, const char* text) {
  auto* link = static_cast<MqttLink*>(self);
  if (level != MOSQ_LOG_ERR || text == nullptr) return;
  const std::string_view line(text);
  // "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed": the first one says most.
  if (line.find("OpenSSL Error") != std::string_view::npos && link->tls_error_.empty()) {
    const auto colon = line.rfind(':');
    link->tls_error_ = std::string(colon != std::string_view::npos ? line.substr(colon + 1) : line);
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
