#include "statebus/daemon/memory_config.hpp"

#include <algorithm>

#include "pools.hpp"
#include "statebus/internal/iceoryx.hpp"

namespace statebus {

MemoryConfig MemoryConfig::compact() {
  // Sized so that management (~66 MB, fixed by iceoryx's build) plus pools
  // stay near 110 MB of /dev/shm, while 4 MiB payloads still fit. A channel
  // of the largest samples needs four chunks at once (a publisher's loan
  // and last sample, a subscriber's held sample and one queued), and a
  // process killed with a chunk in hand loses it for good (it is reported,
  // never guessed back: bus/README.md): the large pools outlast two such
  // losses per channel, the 1 MiB one two channels' worth.
  MemoryConfig config;
  config.pools = {
      {256, 4096},           // small control messages and readings
      {1024, 2048},          // log records, status
      {16 * 1024, 128},      //
      {128 * 1024, 32},      //
      {1024 * 1024, 12},     //
      {4 * 1024 * 1024, 6},  // the largest payload statebus promises
  };
  return config;
}

MemoryConfig MemoryConfig::stock() {
  MemoryConfig config;
  config.iceoryx_defaults = true;
  // iceoryx's defaults, as chunk sizes (listed for information; the daemon
  // uses iceoryx's own setDefaults()).
  config.pools = {{128, 10000},     {1024, 5000},      {16 * 1024, 1000},    {128 * 1024, 200},
                  {512 * 1024, 50}, {1024 * 1024, 30}, {4 * 1024 * 1024, 10}};
  return config;
}

std::uint32_t MemoryConfig::max_payload() const noexcept {
  return detail::max_payload_for_chunk(detail::largest_chunk(*this));
}

namespace detail {

std::uint32_t pool_chunk_size(std::uint32_t payload_size) noexcept {
  const std::uint32_t required = required_chunk_size(payload_size, kMaxPayloadAlign).value_or(0);
  return (required + 63U) & ~63U;
}

std::uint32_t largest_chunk(const MemoryConfig& config) noexcept {
  std::uint32_t largest = 0;
  for (const MemoryPool& pool : config.pools) {
    largest = std::max(largest, config.iceoryx_defaults ? pool.payload_size : pool_chunk_size(pool.payload_size));
  }
  return largest;
}

std::uint32_t max_payload_for_chunk(std::uint32_t chunk) noexcept {
  // The chunk overhead for an 8-byte aligned payload does not depend on its size.
  const std::uint32_t overhead = required_chunk_size(8, 8).value_or(chunk) - 8;
  return chunk > overhead ? chunk - overhead : 0;
}

}  // namespace detail
}  // namespace statebus
