// libFuzzer: channel, node and cell names, channel patterns and durations
// from arbitrary text: an answer or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "statebus/bus/names.hpp"
#include "statebus/clock/duration.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)statebus::validate_channel_name(text);
  (void)statebus::validate_node_name(text);
  if (auto duration = statebus::parse_duration(text)) (void)statebus::format_duration(*duration);
  // A pattern and a name from the two halves of the input.
  const std::size_t half = size / 2;
  if (auto pattern = statebus::ChannelPattern::parse(text.substr(0, half))) {
    (void)pattern->matches(text.substr(half));
  }
  return 0;
}
