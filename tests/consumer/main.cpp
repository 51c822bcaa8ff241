// Links the installed package and calls into it (no daemon needed).
#include <cstdio>

#include "statebus/base/error.hpp"
#include "statebus/bridge/mqtt.hpp"
#include "statebus/bus.hpp"

// The installed headers are the API: the internal ones stay in the source tree.
#if __has_include("statebus/internal/futex.hpp") || __has_include("statebus/internal/lockstep.hpp")
#error "an internal header was installed"
#endif
#if !__has_include("statebus/state/cell.hpp")
#error "a public header is missing"
#endif

int main() {
  const auto good = statebus::validate_channel_name("home/sensor/temperature");
  const auto bad = statebus::validate_channel_name("home//x");
  const auto max_payload = statebus::MemoryConfig::compact().max_payload();
  statebus::MqttOptions bridge;
  bridge.out.push_back(*statebus::parse_mqtt_route("home/**:1", 0));
  const bool bridge_ok = statebus::MqttBridge::check_options(bridge).has_value();
  std::printf("consumer: good=%d bad=%d max_payload=%u bridge=%d\n", good.has_value(), bad.has_value(), max_payload,
              bridge_ok);
  return good && !bad && max_payload >= 4U * 1024U * 1024U && bridge_ok ? 0 : 1;
}
