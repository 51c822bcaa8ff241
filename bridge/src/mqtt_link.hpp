#pragma once
// One connection to an MQTT broker through libmosquitto: MQTT 5, Nagle off,
// TLS and credentials, a last will, reconnects with backoff (1 s doubling to
// 30 s), and a bound on QoS 1 messages waiting for the broker. Its own
// network thread connects and runs libmosquitto's loop, so that every
// failure is seen and named in one line: the connect's errno, the TLS
// library's error, the broker's reason code (a refusal at connect, or a
// disconnect such as a session taken over). Failures that trying again
// cannot mend (credentials, authorisation, client id, certificates, TLS
// against a plain port, the protocol) end the link after `give_up_after`
// tries in a row, unless `keep_trying`.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
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
  bool keep_trying = false;  ///< never give up, even on failures trying again cannot mend
  int give_up_after = 3;     ///< such failures in a row end the link
};

/// The wait before try `attempt` (1, 2, …) after a failure: 1 s doubling to 30 s.
std::chrono::seconds reconnect_delay(int attempt) noexcept;

/// One failure to connect or stay connected, in words.
struct LinkFailure {
  std::string why;          ///< one line: "Connection refused", "TLS: … certificate verify failed", …
  bool lasting = false;     ///< trying again cannot mend it
};

/// What a failure to connect or stay connected was: from the libmosquitto
/// error `rc` (and errno, for MOSQ_ERR_ERRNO), the broker's MQTT 5 reason
/// code (0 if none: a refusal at connect or a server's disconnect), and the
/// TLS library's last error line (empty if none). Pure.
LinkFailure describe_failure(int rc, int saved_errno, int reason_code, const std::string& tls_error,
                             const std::string& client_id);

struct LinkHandlers {
  /// A message arrived (network thread).
  std::function<void(std::string_view topic, std::string_view payload, bool retained)> message;
  /// Connected (network thread); subscribe and re-send from here.
  std::function<void()> connected;
  /// The link broke or the connection failed; the next try is in
  /// `next_try` (network thread).
  std::function<void(const std::string& why, std::chrono::seconds next_try)> disconnected;
  /// The link gave up: `give_up_after` failures trying again cannot mend
  /// (network thread; nothing follows).
  std::function<void(const std::string& why)> gave_up;
};

class MqttLink {
 public:
  /// Starts the network thread. The settings were checked
  /// (MqttBridge::check_options); fails for what libmosquitto still refuses.
  static Result<std::unique_ptr<MqttLink>> start(const LinkSettings& settings, LinkHandlers handlers);
  /// Starts the network thread: it connects, and tries again with backoff
  /// until stop() (or until it gives up).
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
  static void on_log(mosquitto*, void* self, int level, const char* text);
  void run();                      // the network thread
  bool wait_before_try(std::chrono::seconds delay);  // false once stopping

  mosquitto* mosq_ = nullptr;
  LinkSettings settings_;
  LinkHandlers handlers_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<long> in_flight_{0};
  bool stopped_ = false;
  std::thread thread_;
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  // Network thread only: what the callbacks saw of the current try.
  int refusal_ = 0;      // the CONNACK's reason code, if it refused
  int disconnect_reason_ = 0;  // a server's DISCONNECT reason code
  std::string tls_error_;      // the last TLS error libmosquitto logged
  int quick_losses_ = 0;       // connections lost right after they were made, in a row
};

}  // namespace statebus::bridge_detail
