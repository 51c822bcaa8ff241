#pragma once
// The parts of iceoryx 2.0.3's shared memory that the daemon's repairs and
// its chunk census read and write, and the layout they rely on.
//
// Some of it is private in iceoryx (a memory manager's pools, a pool's free
// list, a used-chunk list's entries): iceoryx_internals.cpp reaches it. Every size and offset read is pinned below
// to what iceoryx 2.0.3 has on x86_64 (the CMake project asks for exactly
// that version too): another iceoryx fails to build here instead of having
// its memory misread. Internal to daemon/src.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "iceoryx_hoofs/internal/concurrent/loffli.hpp"
#include "iceoryx_posh/internal/mepoo/chunk_management.hpp"
#include "iceoryx_posh/internal/mepoo/mem_pool.hpp"
#include "iceoryx_posh/internal/mepoo/memory_manager.hpp"
#include "iceoryx_posh/internal/mepoo/shm_safe_unmanaged_chunk.hpp"
#include "iceoryx_posh/internal/popo/ports/client_port_data.hpp"
#include "iceoryx_posh/internal/popo/ports/publisher_port_data.hpp"
#include "iceoryx_posh/internal/popo/ports/server_port_data.hpp"
#include "iceoryx_posh/internal/popo/ports/subscriber_port_data.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"

namespace statebus::detail::iceoryx {

using PublisherData = iox::popo::PublisherPortData;
using SubscriberData = iox::popo::SubscriberPortData;
using ClientData = iox::popo::ClientPortData;
using ServerData = iox::popo::ServerPortData;
using LoanedList = decltype(PublisherData::m_chunkSenderData.m_chunksInUse);
using HeldList = decltype(SubscriberData::m_chunkReceiverData.m_chunksInUse);

// Private members, reached through the accessors of iceoryx_internals.cpp.
iox::cxx::vector<iox::mepoo::MemPool, iox::MAX_NUMBER_OF_MEMPOOLS>& pools_of(
    iox::mepoo::MemoryManager& memory) noexcept;
iox::mepoo::MemPool& records_pool_of(iox::mepoo::MemoryManager& memory) noexcept;
std::uint8_t* raw_memory_of(iox::mepoo::MemPool& pool) noexcept;
std::atomic<std::uint32_t>& used_count_of(iox::mepoo::MemPool& pool) noexcept;
iox::concurrent::LoFFLi& free_list_of(iox::mepoo::MemPool& pool) noexcept;
/// The free list's "next" array: a slot taken from the list holds its invalid index.
std::uint32_t* next_free_of(iox::concurrent::LoFFLi& list) noexcept;
std::uint32_t invalid_index_of(const iox::concurrent::LoFFLi& list) noexcept;
/// The free list's head with its ABA counter, as one word: every take and
/// give-back changes it, so an unchanged head means the pool stood still.
std::uint64_t head_of(const iox::concurrent::LoFFLi& list) noexcept;
/// A used-chunk list's entries, all of them (a removed one is null).
const iox::mepoo::ShmSafeUnmanagedChunk* entries_of(const LoanedList& list, std::uint32_t& count) noexcept;
const iox::mepoo::ShmSafeUnmanagedChunk* entries_of(const HeldList& list, std::uint32_t& count) noexcept;
iox::rp::RelativePointerData reference_of(const iox::mepoo::ShmSafeUnmanagedChunk& entry) noexcept;

// What iceoryx 2.0.3 has on x86_64, read and written by the repairs and the
// census. The port types are not standard-layout (they have base classes
// with members); GCC computes offsetof for them all the same, as none has a
// virtual base.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
using SenderData = PublisherData::ChunkSenderData_t;
using ReceiverData = SubscriberData::ChunkReceiverData_t;
static_assert(sizeof(iox::popo::BasePortData) == 600 && offsetof(iox::popo::BasePortData, m_runtimeName) == 360,
              "iceoryx 2.0.3's BasePortData");
static_assert(sizeof(PublisherData) == 5184 && offsetof(PublisherData, m_chunkSenderData) == 600,
              "iceoryx 2.0.3's PublisherPortData");
static_assert(sizeof(SenderData) == 4448 && offsetof(SenderData, m_queues) == 48 &&
                  offsetof(SenderData, m_history) == 4152 && offsetof(SenderData, m_chunksInUse) == 4320 &&
                  offsetof(SenderData, m_lastChunkUnmanaged) == 4440,
              "iceoryx 2.0.3's publisher ChunkSenderData");
static_assert(sizeof(SubscriberData) == 12216 && offsetof(SubscriberData, m_chunkReceiverData) == 600,
              "iceoryx 2.0.3's SubscriberPortData");
static_assert(sizeof(ReceiverData) == 11472 && offsetof(ReceiverData, m_queue) == 48 &&
                  offsetof(ReceiverData, m_conditionVariableDataPtr) == 8328 &&
                  offsetof(ReceiverData, m_conditionVariableNotificationIndex) == 8344 &&
                  offsetof(ReceiverData, m_chunksInUse) == 8376,
              "iceoryx 2.0.3's subscriber ChunkReceiverData");
static_assert(sizeof(ClientData) == 1720 && offsetof(ClientData, m_chunkSenderData) == 600 &&
                  offsetof(ClientData, m_chunkReceiverData) == 800,
              "iceoryx 2.0.3's ClientPortData");
static_assert(sizeof(ServerData) == 37912 && offsetof(ServerData, m_chunkSenderData) == 600 &&
                  offsetof(ServerData, m_chunkReceiverData) == 4880,
              "iceoryx 2.0.3's ServerPortData");
static_assert(sizeof(iox::mepoo::ChunkManagement) == 56 && offsetof(iox::mepoo::ChunkManagement, m_chunkHeader) == 0 &&
                  offsetof(iox::mepoo::ChunkManagement, m_referenceCounter) == 16 &&
                  offsetof(iox::mepoo::ChunkManagement, m_mempool) == 24,
              "iceoryx 2.0.3's ChunkManagement");
static_assert(sizeof(iox::mepoo::MemPool) == 64 && sizeof(iox::mepoo::MemoryManager) == 2136 &&
                  sizeof(iox::concurrent::LoFFLi) == 32 && sizeof(iox::mepoo::ShmSafeUnmanagedChunk) == 8,
              "iceoryx 2.0.3's memory pools");
#pragma GCC diagnostic pop

// The chunk management pool's memory: where every chunk reference must point.
class ManagementPool {
 public:
  explicit ManagementPool(iox::mepoo::MemoryManager& memory) noexcept {
    auto& pool = records_pool_of(memory);
    begin_ = raw_memory_of(pool);
    stride_ = pool.getChunkSize();
    count_ = pool.getChunkCount();
  }
  [[nodiscard]] std::uint32_t count() const noexcept { return static_cast<std::uint32_t>(count_); }
  [[nodiscard]] iox::mepoo::ChunkManagement* record(std::uint32_t i) const noexcept {
    return reinterpret_cast<iox::mepoo::ChunkManagement*>(begin_ + static_cast<std::size_t>(i) * stride_);
  }
  // The chunk record an entry refers to, trusting none of the entry's bits:
  // an entry of a port being created, destroyed or reused, or one past its
  // list's size, may hold anything. Only a reference to one of the pool's
  // records, and one that counts references, is followed.
  [[nodiscard]] iox::mepoo::ChunkManagement* record_of(const iox::mepoo::ShmSafeUnmanagedChunk& entry) const noexcept {
    const iox::rp::RelativePointerData data = reference_of(entry);
    if (data.isLogicalNullptr()) return nullptr;
    auto* at = static_cast<std::uint8_t*>(iox::rp::BaseRelativePointer::getPtr(data.id(), data.offset()));
    if (at < begin_ || at >= begin_ + stride_ * count_) return nullptr;
    if (static_cast<std::size_t>(at - begin_) % stride_ != 0) return nullptr;
    auto* record = reinterpret_cast<iox::mepoo::ChunkManagement*>(at);
    return record->m_referenceCounter.load(std::memory_order_acquire) == 0 ? nullptr : record;
  }

 private:
  std::uint8_t* begin_ = nullptr;
  std::size_t stride_ = 1;
  std::size_t count_ = 0;
};

}  // namespace statebus::detail::iceoryx
