#pragma once
// A bare libmosquitto client, set up as the bridge's link is (MQTT 5, Nagle
// off) and driven by the thread that owns it: what mqtt_bench measures against.

#include <mosquitto.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace statebus::bench::mqtt {

/// One connection to a broker on 127.0.0.1. Runs no thread of its own: its
/// loop runs only inside run_until() and the calls that wait. One thread.
class BareClient {
 public:
  using Handler = std::function<void(const mosquitto_message&)>;

  /// Connects as `id` and waits (up to 10 s) for the broker's CONNACK;
  /// nothing, with `why` set, when that fails.
  static std::unique_ptr<BareClient> connect(int port, const std::string& id, std::string& why);
  ~BareClient();
  BareClient(const BareClient&) = delete;
  BareClient& operator=(const BareClient&) = delete;

  /// Called for each message, from the calls that run the loop.
  void on_message(Handler handler) { handler_ = std::move(handler); }
  mosquitto* raw() { return mosq_; }

  /// Runs the client's loop until `done` or `timeout`; false on timeout or a broken link.
  template <class Done>
  bool run_until(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (mosquitto_loop(mosq_, 100, 1) != MOSQ_ERR_SUCCESS) return false;
    }
    return true;
  }
  /// Subscribes (or unsubscribes) and waits for the broker's answer.
  bool subscribe(const char* filter, int qos, bool unsubscribe = false);
  /// Publishes; with `wait`, until the broker has it (QoS 1: its PUBACK).
  bool publish(const char* topic, std::string_view payload, int qos, bool retain, bool wait = false);
  /// Writes what is queued (a burst the socket did not take at once).
  bool flush(std::chrono::milliseconds timeout);

 private:
  BareClient() = default;
  mosquitto* mosq_ = nullptr;
  Handler handler_;
  int connack_ = 0;
  int acks_ = 0;
  long published_ = 0;
};

}  // namespace statebus::bench::mqtt
