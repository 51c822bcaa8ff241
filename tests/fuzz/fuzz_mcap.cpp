// libFuzzer: the MCAP reader on arbitrary bytes never crashes, hangs or
// reads out of bounds; what it accepts it can walk to the end.
#include <cstddef>
#include <cstdint>
#include <string>

#include "statebus/recorder/mcap.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto reader = statebus::mcap::Reader::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!reader) return 0;
  std::size_t bytes = 0;
  (void)reader->for_each_message([&](const statebus::mcap::Message& m) {
    bytes += m.data.size();
    return true;
  });
  (void)reader->statistics();
  return 0;
}
