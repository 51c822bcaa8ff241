#pragma once
// Chunk sizes of the daemon's memory pools.

#include <cstdint>

#include "statebus/daemon/memory_config.hpp"

namespace statebus::detail {

/// Pools are sized so that any payload up to their size with alignment up to
/// this fits, sample header and iceoryx chunk header included.
inline constexpr std::uint32_t kMaxPayloadAlign = 64;

/// Chunk size of a pool carrying payloads up to `payload_size` bytes.
std::uint32_t pool_chunk_size(std::uint32_t payload_size) noexcept;
/// The largest chunk of a configuration.
std::uint32_t largest_chunk(const MemoryConfig& config) noexcept;
/// The largest 8-byte aligned payload a chunk of `chunk` bytes carries.
std::uint32_t max_payload_for_chunk(std::uint32_t chunk) noexcept;

}  // namespace statebus::detail
