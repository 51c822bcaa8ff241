#include "chunk_census.hpp"

#include <algorithm>

#include <unordered_set>
#include <vector>

#include "iceoryx_internals.hpp"
#include "iceoryx_posh/roudi/port_pool.hpp"

namespace statebus::detail {
namespace {

using namespace iceoryx;

// False only if the queue surely holds nothing. A port being created or
// destroyed may have a queue whose kind and contents do not agree (its
// empty() would then follow a null pointer): it may hold.
template <class Queue>
bool may_hold(Queue& data) {
  auto& fifo = data.m_queue.getUnderlyingFiFo();
  if (const auto* queue = fifo.template get_at_index<0>()) return !queue->empty();
  if (const auto* queue = fifo.template get_at_index<1>()) return !queue->empty();
  if (const auto* queue = fifo.template get_at_index<2>()) return !queue->empty();
  if (const auto* queue = fifo.template get_at_index<3>()) return !queue->empty();
  return true;
}

template <class List>
void add_entries(std::unordered_set<const void*>& referenced, const ManagementPool& records, const List& list) {
  std::uint32_t count = 0;
  const iox::mepoo::ShmSafeUnmanagedChunk* entries = entries_of(list, count);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (const auto* record = records.record_of(entries[i])) referenced.insert(record);
  }
}

// Pool slots taken from the free list that no record in use (`managed`:
// where they point) refers to.
std::uint32_t orphan_slots(iox::mepoo::MemPool& pool, const std::unordered_set<const void*>& managed) {
  auto& list = free_list_of(pool);
  const std::uint32_t* next = next_free_of(list);
  const std::uint32_t invalid = invalid_index_of(list);
  std::uint8_t* raw = raw_memory_of(pool);
  std::uint32_t orphans = 0;
  for (std::uint32_t i = 0; i < pool.getChunkCount(); ++i) {
    const bool taken = __atomic_load_n(&next[i], __ATOMIC_ACQUIRE) == invalid;
    if (taken && managed.count(raw + static_cast<std::size_t>(i) * pool.getChunkSize()) == 0) ++orphans;
  }
  return orphans;
}

}  // namespace

std::vector<std::uint32_t> taken_slots(iox::mepoo::MemoryManager& memory) {
  std::vector<std::uint32_t> taken;
  for (iox::mepoo::MemPool& pool : pools_of(memory)) {
    auto& list = free_list_of(pool);
    const std::uint32_t* next = next_free_of(list);
    const std::uint32_t invalid = invalid_index_of(list);
    std::uint32_t count = 0;
    for (std::uint32_t i = 0; i < pool.getChunkCount(); ++i) {
      count += __atomic_load_n(&next[i], __ATOMIC_ACQUIRE) == invalid ? 1U : 0U;
    }
    taken.push_back(count);
  }
  return taken;
}

ChunkCensus count_chunks(iox::roudi::PortPool& ports, iox::mepoo::MemoryManager& memory) {
  ChunkCensus census;
  const ManagementPool records(memory);
  std::unordered_set<const void*> referenced;
  for (PublisherData* port : ports.getPublisherPortDataList()) {
    const auto& sender = port->m_chunkSenderData;
    add_entries(referenced, records, sender.m_chunksInUse);
    if (const auto* record = records.record_of(sender.m_lastChunkUnmanaged)) referenced.insert(record);
    // A port being created or destroyed may show any size: read no further than the capacity.
    const auto& history = sender.m_history;
    const auto* entries = history.begin();
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(history.size(), history.capacity()); ++i) {
      if (const auto* record = records.record_of(entries[i])) referenced.insert(record);
    }
  }
  for (SubscriberData* port : ports.getSubscriberPortDataList()) {
    add_entries(referenced, records, port->m_chunkReceiverData.m_chunksInUse);
    if (may_hold(port->m_chunkReceiverData)) census.queues_empty = false;
  }
  for (std::uint32_t i = 0; i < records.count(); ++i) {
    const iox::mepoo::ChunkManagement* record = records.record(i);
    if (record->m_referenceCounter.load(std::memory_order_acquire) == 0) continue;
    ++census.in_use;
    if (referenced.count(record) != 0) ++census.referenced;
  }
  // Orphan slots count only from a look during which no pool and no record
  // list changed (their free lists' heads and ABA counters the same after).
  auto& pools = pools_of(memory);
  std::vector<std::uint64_t> heads;
  heads.push_back(head_of(free_list_of(records_pool_of(memory))));
  for (iox::mepoo::MemPool& pool : pools) heads.push_back(head_of(free_list_of(pool)));
  std::unordered_set<const void*> managed;  // where every record in use points
  for (std::uint32_t i = 0; i < records.count(); ++i) {
    const iox::mepoo::ChunkManagement* record = records.record(i);
    if (record->m_referenceCounter.load(std::memory_order_acquire) != 0) managed.insert(record->m_chunkHeader.get());
  }
  for (iox::mepoo::MemPool& pool : pools) census.orphan_slots += orphan_slots(pool, managed);
  std::size_t at = 0;
  census.still = head_of(free_list_of(records_pool_of(memory))) == heads[at++];
  for (iox::mepoo::MemPool& pool : pools) census.still = census.still && head_of(free_list_of(pool)) == heads[at++];
  return census;
}

}  // namespace statebus::detail
