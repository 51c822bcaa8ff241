#pragma once
/// Memory pools of the daemon: how many samples of which size can exist at once.

#include <cstdint>
#include <vector>

namespace statebus {

/// One pool: `count` chunks, each carrying a payload of up to `payload_size` bytes
/// (the sample header and iceoryx's chunk header come on top).
struct MemoryPool {
  std::uint32_t payload_size = 0;
  std::uint32_t count = 0;
};

/// The set of pools a daemon creates in its data segment.
struct MemoryConfig {
  std::vector<MemoryPool> pools;
  /// Use iceoryx's own default configuration verbatim (its pools are chunk
  /// sizes, so the largest payload is a little under 4 MiB). For comparison.
  bool iceoryx_defaults = false;

  /// statebus's default: ~31 MB of pools from 256 B to 4 MiB, so a daemon
  /// needs under 100 MB of /dev/shm with iceoryx's management segment.
  static MemoryConfig compact();
  /// iceoryx's stock pools (128 B × 10000 … 4 MiB × 10, ~149 MB), for comparison.
  static MemoryConfig stock();

  /// The largest payload any pool carries (payload alignment up to 64 bytes).
  [[nodiscard]] std::uint32_t max_payload() const noexcept;
};

}  // namespace statebus
