// The bare libmosquitto client's connection and the calls that wait for the
// broker (mqtt_bare_client.hpp).
#include "mqtt_bare_client.hpp"

#include <mqtt_protocol.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace statebus::bench::mqtt {

using namespace std::chrono_literals;

std::unique_ptr<BareClient> BareClient::connect(int port, const std::string& id, std::string& why) {
  mosquitto_lib_init();
  std::unique_ptr<BareClient> c(new BareClient());
  c->mosq_ = mosquitto_new(id.c_str(), true, c.get());
  if (c->mosq_ == nullptr) {
    why = "mosquitto_new failed";
    return nullptr;
  }
  // As the bridge: MQTT 5, Nagle off.
  mosquitto_int_option(c->mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(c->mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_v5_callback_set(c->mosq_, [](mosquitto*, void* self, int rc, int, const mosquitto_property*) {
    static_cast<BareClient*>(self)->connack_ = rc == 0 ? 1 : -1;
  });
  mosquitto_message_v5_callback_set(
      c->mosq_, [](mosquitto*, void* self, const mosquitto_message* m, const mosquitto_property*) {
        auto* client = static_cast<BareClient*>(self);
        if (client->handler_) client->handler_(*m);
      });
  mosquitto_subscribe_v5_callback_set(
      c->mosq_, [](mosquitto*, void* self, int, int, const int*, const mosquitto_property*) {
        ++static_cast<BareClient*>(self)->acks_;
      });
  mosquitto_unsubscribe_v5_callback_set(c->mosq_, [](mosquitto*, void* self, int, const mosquitto_property*) {
    ++static_cast<BareClient*>(self)->acks_;
  });
  mosquitto_publish_v5_callback_set(c->mosq_, [](mosquitto*, void* self, int, int, const mosquitto_property*) {
    ++static_cast<BareClient*>(self)->published_;
  });
  if (const int rc = mosquitto_connect_bind_v5(c->mosq_, "127.0.0.1", port, 600, nullptr, nullptr); rc != 0) {
    why = std::string("cannot connect to the broker: ") + mosquitto_strerror(rc);
    return nullptr;
  }
  if (!c->run_until([&] { return c->connack_ != 0; }, 10s) || c->connack_ != 1) {
    why = "the broker did not accept the connection";
    return nullptr;
  }
  return c;
}

BareClient::~BareClient() {
  if (mosq_ == nullptr) return;
  mosquitto_disconnect_v5(mosq_, MQTT_RC_NORMAL_DISCONNECTION, nullptr);
  mosquitto_destroy(mosq_);
}

bool BareClient::subscribe(const char* filter, int qos, bool unsubscribe) {
  const int before = acks_;
  const int rc = unsubscribe ? mosquitto_unsubscribe_v5(mosq_, nullptr, filter, nullptr)
                             : mosquitto_subscribe_v5(mosq_, nullptr, filter, qos, 0, nullptr);
  return rc == MOSQ_ERR_SUCCESS && run_until([&] { return acks_ > before; }, 10s);
}

bool BareClient::publish(const char* topic, std::string_view payload, int qos, bool retain, bool wait) {
  const long before = published_;
  const int rc = mosquitto_publish_v5(mosq_, nullptr, topic, static_cast<int>(payload.size()), payload.data(), qos,
                                      retain, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return false;
  return !wait || run_until([&] { return published_ > before; }, 10s);
}

bool BareClient::flush(std::chrono::milliseconds timeout) {
  return run_until([&] { return !mosquitto_want_write(mosq_); }, timeout);
}

}  // namespace statebus::bench::mqtt
