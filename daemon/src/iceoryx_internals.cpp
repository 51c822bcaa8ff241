#include "iceoryx_internals.hpp"

#include <cstring>

namespace statebus::detail::iceoryx {
namespace {

// Naming a private member is allowed in an explicit instantiation: `Expose`
// hands out a pointer to it through a friend function of a tag type. Only
// this file instantiates them.
template <class Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type member(Tag) { return Member; }
};
// The same for a member whose type is private too (the free list's head).
template <class Tag, auto Member>
struct ExposeAuto {
  friend auto member(Tag) { return Member; }
};

struct ManagementPoolOf {
  using type = iox::cxx::vector<iox::mepoo::MemPool, 1> iox::mepoo::MemoryManager::*;
  friend type member(ManagementPoolOf);
};
template struct Expose<ManagementPoolOf, &iox::mepoo::MemoryManager::m_chunkManagementPool>;

struct PoolsOf {
  using type = iox::cxx::vector<iox::mepoo::MemPool, iox::MAX_NUMBER_OF_MEMPOOLS> iox::mepoo::MemoryManager::*;
  friend type member(PoolsOf);
};
template struct Expose<PoolsOf, &iox::mepoo::MemoryManager::m_memPoolVector>;

struct RawMemoryOf {
  using type = iox::rp::RelativePointer<std::uint8_t> iox::mepoo::MemPool::*;
  friend type member(RawMemoryOf);
};
template struct Expose<RawMemoryOf, &iox::mepoo::MemPool::m_rawMemory>;

struct FreeListOf {
  using type = iox::concurrent::LoFFLi iox::mepoo::MemPool::*;
  friend type member(FreeListOf);
};
template struct Expose<FreeListOf, &iox::mepoo::MemPool::m_freeIndices>;

struct UsedCountOf {
  using type = std::atomic<std::uint32_t> iox::mepoo::MemPool::*;
  friend type member(UsedCountOf);
};
template struct Expose<UsedCountOf, &iox::mepoo::MemPool::m_usedChunks>;

struct NextFreeOf {
  using type = iox::rp::RelativePointer<std::uint32_t> iox::concurrent::LoFFLi::*;
  friend type member(NextFreeOf);
};
template struct Expose<NextFreeOf, &iox::concurrent::LoFFLi::m_nextFreeIndex>;

struct HeadOf {
  friend auto member(HeadOf);
};
template struct ExposeAuto<HeadOf, &iox::concurrent::LoFFLi::m_head>;

struct InvalidIndexOf {
  using type = std::uint32_t iox::concurrent::LoFFLi::*;
  friend type member(InvalidIndexOf);
};
template struct Expose<InvalidIndexOf, &iox::concurrent::LoFFLi::m_invalidIndex>;

template <class List>
struct CapacityOf;
template <std::uint32_t Capacity>
struct CapacityOf<iox::popo::UsedChunkList<Capacity>> {
  static constexpr std::uint32_t value = Capacity;
};
template <class List>
using EntriesOf = iox::mepoo::ShmSafeUnmanagedChunk (List::*)[CapacityOf<List>::value];

struct LoanedEntries {
  using type = EntriesOf<LoanedList>;
  friend type member(LoanedEntries);
};
template struct Expose<LoanedEntries, &LoanedList::m_listData>;

struct HeldEntries {
  using type = EntriesOf<HeldList>;
  friend type member(HeldEntries);
};
template struct Expose<HeldEntries, &HeldList::m_listData>;

struct ManagementOf {
  using type = iox::rp::RelativePointerData iox::mepoo::ShmSafeUnmanagedChunk::*;
  friend type member(ManagementOf);
};
template struct Expose<ManagementOf, &iox::mepoo::ShmSafeUnmanagedChunk::m_chunkManagement>;

}  // namespace

iox::cxx::vector<iox::mepoo::MemPool, iox::MAX_NUMBER_OF_MEMPOOLS>& pools_of(
    iox::mepoo::MemoryManager& memory) noexcept {
  return memory.*member(PoolsOf{});
}

iox::mepoo::MemPool& records_pool_of(iox::mepoo::MemoryManager& memory) noexcept {
  return (memory.*member(ManagementPoolOf{}))[0];
}

std::uint8_t* raw_memory_of(iox::mepoo::MemPool& pool) noexcept { return (pool.*member(RawMemoryOf{})).get(); }

std::atomic<std::uint32_t>& used_count_of(iox::mepoo::MemPool& pool) noexcept { return pool.*member(UsedCountOf{}); }

iox::concurrent::LoFFLi& free_list_of(iox::mepoo::MemPool& pool) noexcept { return pool.*member(FreeListOf{}); }

std::uint32_t* next_free_of(iox::concurrent::LoFFLi& list) noexcept { return (list.*member(NextFreeOf{})).get(); }

std::uint32_t invalid_index_of(const iox::concurrent::LoFFLi& list) noexcept { return list.*member(InvalidIndexOf{}); }

std::uint64_t head_of(const iox::concurrent::LoFFLi& list) noexcept {
  const auto node = (list.*member(HeadOf{})).load(std::memory_order_acquire);
  static_assert(sizeof(node) == sizeof(std::uint64_t), "iceoryx 2.0.3's free list head is one word");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &node, sizeof bits);
  return bits;
}

const iox::mepoo::ShmSafeUnmanagedChunk* entries_of(const LoanedList& list, std::uint32_t& count) noexcept {
  count = CapacityOf<LoanedList>::value;
  return list.*member(LoanedEntries{});
}

const iox::mepoo::ShmSafeUnmanagedChunk* entries_of(const HeldList& list, std::uint32_t& count) noexcept {
  count = CapacityOf<HeldList>::value;
  return list.*member(HeldEntries{});
}

iox::rp::RelativePointerData reference_of(const iox::mepoo::ShmSafeUnmanagedChunk& entry) noexcept {
  return entry.*member(ManagementOf{});
}

}  // namespace statebus::detail::iceoryx
