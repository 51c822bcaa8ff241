#pragma once
// Counts what the bus's chunks are doing, and changes nothing. A process
// killed inside publish(), take() or release() can die holding a chunk
// reference only on its stack; one killed inside iceoryx's allocator can
// leave a pool slot taken that no chunk record manages. Neither can be
// attributed to anyone with certainty (a live process between two steps
// looks the same), so neither is given back: the census counts them, the
// daemon reports them (Daemon::repairs(), its log), and the pools are sized
// so that such losses cannot starve a channel (memory_config.cpp).
//
// Thread safety: one thread at a time; reads the ports and the pools without
// locks. A count taken while processes work is a snapshot: `still` and
// `queues_empty` say whether its losses are exact. Internal to daemon/src.

#include <cstdint>
#include <vector>

namespace iox::roudi {
class PortPool;
}
namespace iox::mepoo {
class MemoryManager;
}

namespace statebus::detail {

struct ChunkCensus {
  std::uint32_t in_use = 0;  ///< chunk records that count references
  std::uint32_t referenced =
      0;  ///< of those, the ones a publisher or subscriber refers to (loan, last sample, history, held sample)
  bool queues_empty = true;        ///< no subscriber queue held a sample: unreferenced() chunks are surely lost
  std::uint32_t orphan_slots = 0;  ///< pool slots taken that no chunk record manages
  bool still = true;               ///< no pool changed during the count: orphan_slots is exact
  [[nodiscard]] std::uint32_t unreferenced() const noexcept { return in_use - referenced; }
};

ChunkCensus count_chunks(iox::roudi::PortPool& ports, iox::mepoo::MemoryManager& memory);

/// Slots taken from each pool's free list now (a chunk in use, or a slot a
/// killed process took out of the allocator), smallest chunks first: exact,
/// where a pool's own count of chunks in use drifts by one when a process is
/// killed between changing the list and the count.
std::vector<std::uint32_t> taken_slots(iox::mepoo::MemoryManager& memory);

}  // namespace statebus::detail
