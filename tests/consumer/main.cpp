// Links the installed package and calls into it (no daemon needed).
#include <cstdio>

#include "statebus/bus.hpp"

int main() {
  const auto good = statebus::validate_channel_name("home/sensor/temperature");
  const auto bad = statebus::validate_channel_name("home//x");
  const auto max_payload = statebus::MemoryConfig::compact().max_payload();
  std::printf("consumer: good=%d bad=%d max_payload=%u\n", good.has_value(), bad.has_value(), max_payload);
  return good && !bad && max_payload >= 4U * 1024U * 1024U ? 0 : 1;
}
