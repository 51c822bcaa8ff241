#include "chunk_reclaimer.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "iceoryx.hpp"
#include "iceoryx_hoofs/internal/concurrent/loffli.hpp"
#include "iceoryx_posh/internal/mepoo/chunk_management.hpp"
#include "iceoryx_posh/internal/mepoo/mem_pool.hpp"
#include "iceoryx_posh/internal/mepoo/memory_manager.hpp"
#include "iceoryx_posh/internal/mepoo/shared_chunk.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/roudi/port_pool.hpp"
#include "file_lock.hpp"
#include "paths.hpp"
#include "statebus/base/process.hpp"

namespace statebus::detail {
namespace {

// iceoryx keeps the chunk bookkeeping the reclaimer must read private (the
// chunk management pool, a pool's memory, a used-chunk list's entries).
// Naming a private member is allowed in an explicit instantiation: `Expose`
// hands out a pointer to it through a friend function of a tag type.
template <class Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type member(Tag) { return Member; }
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

// The same for a member whose type is private too (the free list's head).
template <class Tag, auto Member>
struct ExposeAuto {
  friend auto member(Tag) { return Member; }
};
struct HeadOf {
  friend auto member(HeadOf);
};
template struct ExposeAuto<HeadOf, &iox::concurrent::LoFFLi::m_head>;

struct InvalidIndexOf {
  using type = std::uint32_t iox::concurrent::LoFFLi::*;
  friend type member(InvalidIndexOf);
};
template struct Expose<InvalidIndexOf, &iox::concurrent::LoFFLi::m_invalidIndex>;

// A pool as its bookkeeping stands: the free list marks a slot taken from
// it with its invalid index until the slot is given back.
class PoolView {
 public:
  explicit PoolView(iox::mepoo::MemPool& pool)
      : free_(pool.*member(FreeListOf{})),
        used_(pool.*member(UsedCountOf{})),
        raw_((pool.*member(RawMemoryOf{})).get()),
        next_((free_.*member(NextFreeOf{})).get()),
        invalid_(free_.*member(InvalidIndexOf{})),
        size_(pool.getChunkSize()),
        count_(pool.getChunkCount()) {}
  [[nodiscard]] std::uint32_t count() const noexcept { return count_; }
  [[nodiscard]] bool taken(std::uint32_t i) const noexcept { return __atomic_load_n(&next_[i], __ATOMIC_ACQUIRE) == invalid_; }
  [[nodiscard]] std::uint8_t* slot(std::uint32_t i) const noexcept { return raw_ + static_cast<std::size_t>(i) * size_; }
  [[nodiscard]] bool owns(const void* p) const noexcept {
    const auto* byte = static_cast<const std::uint8_t*>(p);
    return byte >= raw_ && byte < raw_ + static_cast<std::size_t>(count_) * size_;
  }
  [[nodiscard]] std::uint32_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
  // The free list's head with its ABA counter: every take and give-back
  // changes it, so an unchanged head means the pool stood still meanwhile.
  [[nodiscard]] std::uint64_t head() const noexcept {
    const auto node = (free_.*member(HeadOf{})).load(std::memory_order_acquire);
    static_assert(sizeof(node) == sizeof(std::uint64_t));
    std::uint64_t bits = 0;
    std::memcpy(&bits, &node, sizeof bits);
    return bits;
  }
  // The free list refuses a slot it holds already (no double free).
  bool give_back(std::uint32_t i) noexcept {
    if (!free_.push(i)) return false;
    used_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }
  void correct_used(std::int64_t by) noexcept {
    used_.fetch_add(static_cast<std::uint32_t>(by), std::memory_order_relaxed);  // modulo 2^32: also down
  }

 private:
  iox::concurrent::LoFFLi& free_;
  std::atomic<std::uint32_t>& used_;
  std::uint8_t* raw_;
  std::uint32_t* next_;
  std::uint32_t invalid_;
  std::uint32_t size_;
  std::uint32_t count_;
};

using PublisherData = iox::popo::PublisherPortData;
using SubscriberData = iox::popo::SubscriberPortData;
using LoanedList = decltype(PublisherData::m_chunkSenderData.m_chunksInUse);
using HeldList = decltype(SubscriberData::m_chunkReceiverData.m_chunksInUse);

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

using Referenced = std::unordered_set<const void*>;

// The chunk management pool's memory: where every chunk reference must point.
struct ManagementPool {
  const std::uint8_t* begin;
  std::size_t stride;
  std::size_t count;
};

// Adds the chunk an entry refers to, trusting none of the entry's bits: an
// entry of a port being created, destroyed or reused, or one past its
// list's size, may hold anything, and following it (getChunkHeader())
// dereferenced whatever it pointed to. Only a reference to one of the
// management pool's objects is followed.
void add(Referenced& referenced, const ManagementPool& pool, const iox::mepoo::ShmSafeUnmanagedChunk& chunk) {
  const iox::rp::RelativePointerData data = chunk.*member(ManagementOf{});
  if (data.isLogicalNullptr()) return;
  const auto* at = static_cast<const std::uint8_t*>(iox::rp::BaseRelativePointer::getPtr(data.id(), data.offset()));
  if (at < pool.begin || at >= pool.begin + pool.stride * pool.count) return;
  if (static_cast<std::size_t>(at - pool.begin) % pool.stride != 0) return;
  referenced.insert(reinterpret_cast<const iox::mepoo::ChunkManagement*>(at)->m_chunkHeader.get());
}

// Every entry of a used-chunk list that is not null holds a reference (a
// removed one is nulled first): the entries say it all, whatever state the
// list's links are in.
template <class Tag, class List>
void add_entries(Referenced& referenced, const ManagementPool& pool, const List& list) {
  for (const auto& entry : list.*member(Tag{})) add(referenced, pool, entry);
}

// False only if the subscriber's queue surely holds nothing. A port that is
// being created or destroyed may have a queue whose type and contents do not
// agree (VariantQueue::empty() would then dereference null): it may hold.
bool queue_may_hold(SubscriberData& port) {
  auto& fifo = port.m_chunkReceiverData.m_queue.getUnderlyingFiFo();
  if (const auto* queue = fifo.template get_at_index<0>()) return !queue->empty();
  if (const auto* queue = fifo.template get_at_index<1>()) return !queue->empty();
  if (const auto* queue = fifo.template get_at_index<2>()) return !queue->empty();
  if (const auto* queue = fifo.template get_at_index<3>()) return !queue->empty();
  return true;
}

std::string channel_of(const iox::popo::BasePortData& port) {
  const auto& service = port.m_serviceDescription;
  return std::string(service.getServiceIDString().c_str()) + "/" + service.getInstanceIDString().c_str() + "/" +
         service.getEventIDString().c_str();
}

// The process behind an iceoryx runtime name, if it is a statebus node.
std::optional<pid_t> pid_of(const iox::RuntimeName_t& runtime) {
  const std::string name = runtime.c_str();
  const std::string prefix = runtime_name("");
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  return read_pid_file(node_lock_path(name.substr(prefix.size())));
}

bool stopped(const iox::RuntimeName_t& runtime) {
  const auto pid = pid_of(runtime);
  return pid && is_stopped(*pid);
}

}  // namespace

ChunksReclaimed ChunkReclaimer::scan(Clock::time_point now) {
  ChunksReclaimed result;
  auto& pools = memory_.*member(PoolsOf{});
  result.per_pool.assign(pools.size(), 0);
  repair_pools(now, result);

  auto& management = (memory_.*member(ManagementPoolOf{}))[0];
  std::uint8_t* const raw = (management.*member(RawMemoryOf{})).get();
  const std::uint32_t stride = management.getChunkSize();
  const ManagementPool management_pool{raw, stride, management.getChunkCount()};

  // Every chunk something on the bus refers to.
  Referenced referenced;
  const auto publishers = ports_.getPublisherPortDataList();
  const auto subscribers = ports_.getSubscriberPortDataList();
  for (PublisherData* port : publishers) {
    const auto& sender = port->m_chunkSenderData;
    add_entries<LoanedEntries>(referenced, management_pool, sender.m_chunksInUse);
    add(referenced, management_pool, sender.m_lastChunkUnmanaged);
    // A port being created or destroyed may show any size: read no further than the capacity.
    const auto& history = sender.m_history;
    const auto* entries = history.begin();
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(history.size(), history.capacity()); ++i) {
      add(referenced, management_pool, entries[i]);
    }
    channels_.try_emplace(static_cast<std::uint64_t>(port->m_uniqueId), channel_of(*port));
  }
  for (SubscriberData* port : subscribers) {
    add_entries<HeldEntries>(referenced, management_pool, port->m_chunkReceiverData.m_chunksInUse);
  }

  // The chunks in use that nothing refers to: leaked, or carried by a live
  // process between two places right now.
  std::vector<iox::mepoo::ChunkManagement*> unreferenced;
  for (std::uint32_t i = 0; i < management.getChunkCount(); ++i) {
    auto* chunk = reinterpret_cast<iox::mepoo::ChunkManagement*>(raw + static_cast<std::size_t>(i) * stride);
    if (chunk->m_referenceCounter.load(std::memory_order_acquire) == 0) continue;  // free
    const iox::mepoo::ChunkHeader* header = chunk->m_chunkHeader.get();
    if (header != nullptr && referenced.count(header) == 0) unreferenced.push_back(chunk);
  }
  if (unreferenced.empty()) {
    suspects_.clear();
    reclaimed_.fetch_add(result.chunks, std::memory_order_relaxed);
    return result;
  }

  // Where such a chunk could still be without being seen: in a subscriber
  // queue that is not empty, or with a process that is stopped.
  std::unordered_set<std::string> busy_channels;
  bool any_busy = false;
  for (PublisherData* port : publishers) {
    if (stopped(port->m_runtimeName)) busy_channels.insert(channel_of(*port));
  }
  for (SubscriberData* port : subscribers) {
    if (queue_may_hold(*port) || stopped(port->m_runtimeName)) {
      busy_channels.insert(channel_of(*port));
      any_busy = true;
    }
  }

  for (auto& entry : suspects_) entry.second.seen = false;
  for (iox::mepoo::ChunkManagement* chunk : unreferenced) {
    const iox::mepoo::ChunkHeader* header = chunk->m_chunkHeader.get();
    const auto origin = static_cast<std::uint64_t>(header->originId());
    const auto known = channels_.find(origin);
    // A chunk from a publisher never seen could be queued anywhere.
    if (known == channels_.end() ? any_busy : busy_channels.count(known->second) != 0) continue;
    const Suspect now_seen{origin, header->sequenceNumber(), now, true};
    auto [suspect, fresh] = suspects_.try_emplace(header, now_seen);
    if (!fresh && (suspect->second.origin != origin || suspect->second.sequence != now_seen.sequence)) {
      suspect->second = now_seen;  // the chunk was freed and used again meanwhile
    }
    suspect->second.seen = true;
    if (now - suspect->second.since < kGrace) continue;
    // Leaked: free it as the owner of its last reference would have.
    suspects_.erase(suspect);
    for (std::uint32_t pool = 0; pool < pools.size(); ++pool) {
      if (&pools[pool] == chunk->m_mempool.get()) ++result.per_pool[pool];
    }
    chunk->m_referenceCounter.store(1, std::memory_order_relaxed);
    { iox::mepoo::SharedChunk last(chunk); }  // count to 0: the chunk and its bookkeeping are freed
    ++result.chunks;
  }
  // A suspect not seen again was referenced or freed meanwhile.
  for (auto it = suspects_.begin(); it != suspects_.end();) it = it->second.seen ? std::next(it) : suspects_.erase(it);
  // Forget the channels of publishers that are gone, once they pile up.
  if (channels_.size() > 2 * publishers.size() + 256) {
    std::unordered_set<std::uint64_t> keep;
    for (PublisherData* port : publishers) keep.insert(static_cast<std::uint64_t>(port->m_uniqueId));
    for (const auto& entry : suspects_) keep.insert(entry.second.origin);
    for (auto it = channels_.begin(); it != channels_.end();) it = keep.count(it->first) ? std::next(it) : channels_.erase(it);
  }
  reclaimed_.fetch_add(result.chunks, std::memory_order_relaxed);
  return result;
}

void ChunkReclaimer::repair_pools(Clock::time_point now, ChunksReclaimed& result) {
  auto& pools = memory_.*member(PoolsOf{});
  auto& management_pool = (memory_.*member(ManagementPoolOf{}))[0];
  PoolView records(management_pool);
  // A look proves something about a pool only if the pool, and the chunk
  // records read for it, stood still meanwhile (their free lists' heads and
  // ABA counters unchanged): under churn a slot can be taken after the
  // records were read, or between reading the count and counting. A look
  // that is not still proves nothing either way: what was found before keeps
  // its place and its time, and nothing is given back on it.
  auto check_count = [&](iox::mepoo::MemPool& pool, PoolView& view) {
    const std::uint64_t head = view.head();
    const std::uint32_t used = view.used();
    if (look_hook_) look_hook_(LookPoint::counting);
    std::int64_t taken = 0;
    for (std::uint32_t i = 0; i < view.count(); ++i) taken += view.taken(i) ? 1 : 0;
    if (view.head() != head || view.used() != used) return;
    const std::int64_t error = taken - static_cast<std::int64_t>(used);
    auto drift = drifts_.find(&pool);
    if (error == 0) {
      if (drift != drifts_.end()) drifts_.erase(drift);
      return;
    }
    if (drift == drifts_.end() || drift->second.value != error) {
      drifts_[&pool] = Since{now, error, true};
    } else if (now - drift->second.since >= kGrace) {
      view.correct_used(error);
      drifts_.erase(drift);
      ++result.counters;
    }
  };
  // Taken slots of `view` that `orphaned` says nothing manages; `still`
  // tells after the look whether it counts. Returns false if it did not.
  auto find_orphans = [&](PoolView& view, auto still, auto orphaned, auto on_given_back) {
    if (look_hook_) look_hook_(LookPoint::finding);
    std::vector<std::uint32_t> found;
    for (std::uint32_t i = 0; i < view.count(); ++i) {
      if (view.taken(i) && orphaned(view.slot(i))) found.push_back(i);
    }
    if (!still()) {
      for (auto& entry : orphans_) {
        if (view.owns(entry.first)) entry.second.seen = true;  // kept as they are
      }
      return;
    }
    for (const std::uint32_t i : found) {
      auto [orphan, fresh] = orphans_.try_emplace(view.slot(i), Since{now, 0, true});
      orphan->second.seen = true;
      if (fresh || now - orphan->second.since < kGrace) continue;
      orphans_.erase(orphan);
      if (view.give_back(i)) on_given_back();
    }
  };
  for (auto& entry : orphans_) entry.second.seen = false;
  for (std::uint32_t p = 0; p < pools.size(); ++p) {
    PoolView view(pools[p]);
    check_count(pools[p], view);
    // The records read for this pool alone, so that a look spans one pool.
    const std::uint64_t records_head = records.head();
    const std::uint64_t head = view.head();
    std::unordered_set<const void*> recorded;  // where each record that counts references points
    for (std::uint32_t i = 0; i < records.count(); ++i) {
      const auto* record = reinterpret_cast<const iox::mepoo::ChunkManagement*>(records.slot(i));
      if (record->m_referenceCounter.load(std::memory_order_acquire) != 0) recorded.insert(record->m_chunkHeader.get());
    }
    find_orphans(
        view, [&] { return view.head() == head && records.head() == records_head; },
        [&](const std::uint8_t* slot) { return recorded.count(slot) == 0; },
        [&] {
          ++result.per_pool[p];
          ++result.chunks;
        });
  }
  // The records last: giving back a chunk above does not move them.
  check_count(management_pool, records);
  const std::uint64_t records_head = records.head();
  find_orphans(
      records, [&] { return records.head() == records_head; },
      [](const std::uint8_t* slot) {
        return reinterpret_cast<const iox::mepoo::ChunkManagement*>(slot)->m_referenceCounter.load(
                   std::memory_order_acquire) == 0;
      },
      [&] { ++result.bookkeeping; });
  for (auto it = orphans_.begin(); it != orphans_.end();) it = it->second.seen ? std::next(it) : orphans_.erase(it);
}

std::uint64_t ChunkReclaimer::reclaimed() const noexcept { return reclaimed_.load(std::memory_order_relaxed); }

}  // namespace statebus::detail
