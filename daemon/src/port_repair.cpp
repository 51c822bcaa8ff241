#include "port_repair.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>

#include "iceoryx_internals.hpp"
#include "iceoryx_posh/roudi/port_pool.hpp"
#include "statebus/internal/iceoryx.hpp"
#include "statebus/internal/port_lock.hpp"

namespace statebus::detail {
namespace {

using iceoryx::ManagementPool;

std::atomic<iox::roudi::PortPool*> g_pool{nullptr};

// Not FUTEX_PRIVATE: the waiters are in other processes.
void wake_all(std::uint32_t* word) noexcept { ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0); }

// Frees the lock if the holder at `slot` holds it, as that holder's unlock
// would have (the word's layout: statebus/internal/port_lock.hpp), and wakes
// its waiters. Only once the process at `slot` is proven dead: nothing of it
// can change the word any more, and nobody else can take the lock meanwhile.
bool release_if_held_by(PortLockView lock, std::uint32_t slot) noexcept {
  std::uint32_t* word = lock.word();
  pthread_mutex_t* mutex = lock.mutex();
  for (;;) {
    std::uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    if ((seen & kPortLockHolderMask) == 0 || ((seen & kPortLockHolderMask) >> kPortLockSlotShift) != slot) return false;
    mutex->__data.__count = 0;
    __atomic_store_n(&mutex->__data.__owner, 0, __ATOMIC_RELAXED);
    // Fails only if a waiter set the waiters bit meanwhile: look again.
    // Release order: what the repair set right is visible to the next holder.
    if (__atomic_compare_exchange_n(word, &seen, 0U, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
      if ((seen & kPortLockWaiters) != 0) wake_all(word);
      return true;
    }
  }
}

// Wakes every thread asleep on the lock; each looks at it again (and sleeps
// again if it is still held). After a death: a holder killed between freeing
// the lock and waking its waiters leaves them asleep.
void wake_waiters(PortLockView lock) noexcept { wake_all(lock.word()); }

// Drops the history entries that a release would get wrong: null ones
// (released, not yet erased), ones that are no chunk record in use, and a
// second entry for a chunk (an erase shifts entries one by one). Returns
// how many it dropped.
template <class Distributor>
std::uint64_t repair_history(Distributor& data, const ManagementPool& records) {
  auto& history = data.m_history;
  std::uint64_t dropped = 0;
  for (std::uint64_t i = 0; i < history.size();) {
    const iox::mepoo::ChunkManagement* record = records.record_of(history[i]);
    bool repeated = false;
    for (std::uint64_t j = 0; j < i && record != nullptr && !repeated; ++j) {
      repeated = records.record_of(history[j]) == record;
    }
    if (record == nullptr || repeated) {
      history.erase(history.begin() + i);
      ++dropped;
    } else {
      ++i;
    }
  }
  return dropped;
}

// Drops null and repeated entries of a distributor's list of queues (a
// kill inside its erase or its sort).
template <class Distributor>
std::uint64_t repair_queue_list(Distributor& data) {
  auto& queues = data.m_queues;
  std::uint64_t dropped = 0;
  for (std::uint64_t i = 0; i < queues.size();) {
    const void* queue = queues[i].get();
    bool repeated = false;
    for (std::uint64_t j = 0; j < i && queue != nullptr && !repeated; ++j) repeated = queues[j].get() == queue;
    if (queue == nullptr || repeated) {
      queues.erase(queues.begin() + i);
      ++dropped;
    } else {
      ++i;
    }
  }
  return dropped;
}

template <class Distributor>
std::string repair_distributor(Distributor& data, const ManagementPool& records) {
  const std::uint64_t history = repair_history(data, records);
  const std::uint64_t queues = repair_queue_list(data);
  std::string repaired;
  if (history != 0) repaired = "dropped " + std::to_string(history) + " stale or repeated history entries";
  if (queues != 0) {
    repaired += (repaired.empty() ? "dropped " : ", and ") + std::to_string(queues) + " repeated queue entries";
  }
  return repaired;
}

// A wait-set link set without its index (a kill inside attaching).
template <class Queue>
std::string repair_queue(Queue& data) {
  if (data.m_conditionVariableDataPtr.get() == nullptr || data.m_conditionVariableNotificationIndex.has_value()) {
    return {};
  }
  data.m_conditionVariableDataPtr = nullptr;
  return "cleared a half-attached wait set";
}

std::string describe(const char* kind, const iox::popo::BasePortData& port) {
  const auto& service = port.m_serviceDescription;
  std::string channel = service.getServiceIDString().c_str();
  for (const auto* part : {&service.getInstanceIDString(), &service.getEventIDString()}) {
    if (std::string(part->c_str()) != ".") channel += "/" + std::string(part->c_str());
  }
  return std::string("the ") + kind + " of channel " + channel + " (process " + port.m_runtimeName.c_str() + ")";
}

}  // namespace

std::vector<PortRelease> release_port_locks_of(std::uint32_t slot, iox::roudi::PortPool& ports,
                                               iox::mepoo::MemoryManager& memory) {
  const ManagementPool records(memory);
  std::vector<PortRelease> released;
  auto release = [&](const iox::popo::ThreadSafePolicy& policy, const char* kind, const iox::popo::BasePortData& port,
                     auto&& repair) {
    PortLockView lock = PortLockView::of(policy);
    const auto holder = lock.holder();
    if (!holder || holder->slot != slot) return;
    std::string repaired = repair();
    if (release_if_held_by(lock, slot)) released.push_back({describe(kind, port), holder->tid, std::move(repaired)});
  };
  // Queues first: while the dead process still holds a publisher's lock,
  // RouDi cannot take a queue out of that publisher's list, so no port
  // whose queue this repairs can be destroyed (and its memory reused) meanwhile.
  for (auto* port : ports.getSubscriberPortDataList()) {
    auto& receiver = port->m_chunkReceiverData;
    release(receiver, "subscriber", *port, [&] { return repair_queue(receiver); });
  }
  for (auto* port : ports.getClientPortDataList()) {
    auto& receiver = port->m_chunkReceiverData;
    release(receiver, "client", *port, [&] { return repair_queue(receiver); });
  }
  for (auto* port : ports.getServerPortDataList()) {
    auto& receiver = port->m_chunkReceiverData;
    release(receiver, "server", *port, [&] { return repair_queue(receiver); });
  }
  for (auto* port : ports.getPublisherPortDataList()) {
    auto& sender = port->m_chunkSenderData;
    release(sender, "publisher", *port, [&] { return repair_distributor(sender, records); });
  }
  for (auto* port : ports.getClientPortDataList()) {
    auto& sender = port->m_chunkSenderData;
    release(sender, "client", *port, [&] { return repair_distributor(sender, records); });
  }
  for (auto* port : ports.getServerPortDataList()) {
    auto& sender = port->m_chunkSenderData;
    release(sender, "server", *port, [&] { return repair_distributor(sender, records); });
  }
  // A process killed between freeing a lock and waking its waiters (or a
  // waiter woken, then killed before it took the lock) leaves threads asleep
  // on a free lock: wake every port lock's waiters; each looks again.
  for (auto* port : ports.getSubscriberPortDataList()) wake_waiters(PortLockView::of(port->m_chunkReceiverData));
  for (auto* port : ports.getPublisherPortDataList()) wake_waiters(PortLockView::of(port->m_chunkSenderData));
  for (auto* port : ports.getClientPortDataList()) {
    wake_waiters(PortLockView::of(port->m_chunkReceiverData));
    wake_waiters(PortLockView::of(port->m_chunkSenderData));
  }
  for (auto* port : ports.getServerPortDataList()) {
    wake_waiters(PortLockView::of(port->m_chunkReceiverData));
    wake_waiters(PortLockView::of(port->m_chunkSenderData));
  }
  return released;
}

iox::popo::PublisherPortData* publisher_port_of(std::string_view channel) noexcept {
  iox::roudi::PortPool* pool = g_pool.load(std::memory_order_acquire);
  if (pool == nullptr) return nullptr;
  const auto wanted = to_service_description(channel);
  for (auto* port : pool->getPublisherPortDataList()) {
    if (port->m_serviceDescription == wanted) return port;
  }
  return nullptr;
}

pthread_mutex_t* publisher_lock_of(std::string_view channel) noexcept {
  iox::popo::PublisherPortData* port = publisher_port_of(channel);
  return port == nullptr ? nullptr : PortLockView::of(port->m_chunkSenderData).mutex();
}

pthread_mutex_t* subscriber_lock_of(std::string_view channel) noexcept {
  iox::roudi::PortPool* pool = g_pool.load(std::memory_order_acquire);
  if (pool == nullptr) return nullptr;
  const auto wanted = to_service_description(channel);
  for (auto* port : pool->getSubscriberPortDataList()) {
    if (port->m_serviceDescription == wanted) return PortLockView::of(port->m_chunkReceiverData).mutex();
  }
  return nullptr;
}

void register_port_pool(iox::roudi::PortPool* pool) noexcept { g_pool.store(pool, std::memory_order_release); }

}  // namespace statebus::detail
