// Links the installed package and calls into it (no daemon needed).
#include <chrono>
#include <cstdio>
#include <type_traits>
#include <utility>

#include "statebus/base/error.hpp"
#include "statebus/bridge/mqtt.hpp"
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_timeout.hpp"

// The installed headers are the API: the internal ones stay in the source tree.
#if __has_include("statebus/internal/futex.hpp") ||                                               \
                  __has_include(                                                                  \
                      "statebus/internal/lockstep.hpp") ||                                        \
                      __has_include(                                                              \
                          "statebus/internal/bus_segment.hpp") ||                                 \
                          __has_include(                                                          \
                              "statebus/internal/subprocess.hpp") ||                              \
                              __has_include(                                                      \
                                  "statebus/internal/virtual_waits.hpp") ||                       \
                                  __has_include("statebus/internal/port_lock.hpp") ||             \
                                                __has_include("statebus/internal/iceoryx.hpp") || \
                                                              __has_include("statebus/internal/registry_protocol.hpp")
#error "an internal header was installed"
#endif
#if !__has_include("statebus/state/cell.hpp") || !__has_include("statebus/daemon/daemon.hpp")
#error "a public header is missing"
#endif
// The daemon's headers where they were before it had a module of its own.
#if !__has_include("statebus/bus/daemon.hpp") || !__has_include("statebus/bus/memory_config.hpp")
#error "a forwarding header is missing"
#endif

// A wait on the bus's clock is written virtual_timeout(…): a real duration
// does not convert to it.
static_assert(!std::is_convertible_v<std::chrono::seconds, statebus::VirtualTimeout>);

// Hot-path calls that can fail return LoanResult, typed and untyped alike.
struct Probe {
  int value;
};
STATEBUS_MESSAGE(Probe, "consumer/Probe", value);
static_assert(std::is_same_v<decltype(std::declval<statebus::Publisher<Probe>&>().loan()),
                             statebus::LoanResult<statebus::Loan<Probe>>>);
static_assert(std::is_same_v<decltype(std::declval<statebus::Publisher<Probe>&>().publish(Probe{})),
                             statebus::LoanResult<void>>);
static_assert(std::is_same_v<decltype(std::declval<statebus::UntypedPublisher&>().loan(8)),
                             statebus::LoanResult<statebus::BytesLoan>>);

int main() {
  const auto good = statebus::validate_channel_name("home/sensor/temperature");
  const auto bad = statebus::validate_channel_name("home//x");
  const auto max_payload = statebus::MemoryConfig::compact().max_payload();
  statebus::MqttOptions bridge;
  bridge.out.push_back(*statebus::parse_mqtt_route("home/**:1", 0));
  const bool bridge_ok = statebus::MqttBridge::check_options(bridge).has_value();
  const auto forever = statebus::virtual_timeout(statebus::VirtualClock::duration::max());
  const bool timeout_ok =
      forever.deadline_from(statebus::VirtualClock::time_point{}) == statebus::VirtualClock::time_point::max();
  std::printf("consumer: good=%d bad=%d max_payload=%u bridge=%d\n", good.has_value(), bad.has_value(), max_payload,
              bridge_ok);
  return good && !bad && max_payload >= 4U * 1024U * 1024U && bridge_ok && timeout_ok ? 0 : 1;
}
