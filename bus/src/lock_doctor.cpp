#include "lock_doctor.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <optional>

#include "iceoryx.hpp"
#include "iceoryx_posh/internal/popo/building_blocks/locking_policy.hpp"
#include "iceoryx_posh/roudi/port_pool.hpp"
#include "statebus/base/process.hpp"

namespace statebus::detail {
namespace {

std::atomic<iox::roudi::PortPool*> g_pool{nullptr};

// iceoryx's ThreadSafePolicy holds one posix::mutex, whose first member is
// the pthread_mutex_t; the policy is the first (only) base of the port's
// chunk distributor and chunk queue data. Checked here as far as the types
// let us; the layout was verified against iceoryx 2.0.3's headers.
static_assert(sizeof(iox::popo::ThreadSafePolicy) >= sizeof(pthread_mutex_t));
static_assert(alignof(iox::popo::ThreadSafePolicy) >= alignof(pthread_mutex_t));

pthread_mutex_t* mutex_of(const iox::popo::ThreadSafePolicy& policy) noexcept {
  return reinterpret_cast<pthread_mutex_t*>(const_cast<iox::popo::ThreadSafePolicy*>(&policy));
}

pthread_mutex_t* lock_of(iox::popo::PublisherPortData& port) noexcept {
  return mutex_of(static_cast<const iox::popo::ThreadSafePolicy&>(port.m_chunkSenderData));
}

pthread_mutex_t* lock_of(iox::popo::SubscriberPortData& port) noexcept {
  return mutex_of(static_cast<const iox::popo::ThreadSafePolicy&>(port.m_chunkReceiverData));
}

bool held(pthread_mutex_t* mutex) noexcept { return __atomic_load_n(&mutex->__data.__lock, __ATOMIC_ACQUIRE) != 0; }

// The owner of a held glibc mutex, if any is recorded (a thread killed
// between taking the lock word and storing itself as owner leaves 0).
pid_t owner_of(pthread_mutex_t* mutex) noexcept {
  if (!held(mutex)) return 0;
  return __atomic_load_n(&mutex->__data.__owner, __ATOMIC_ACQUIRE);
}

// Frees `mutex`, whose holder is dead, counting it in `released` first.
void release(pthread_mutex_t* mutex, std::atomic<std::uint64_t>& released) {
  // glibc's fields, as pthread_mutex_unlock leaves them: no owner, no
  // recursion, no users (a user count left at 1 makes the later
  // pthread_mutex_destroy fail with EBUSY, and iceoryx asserts on that).
  __atomic_store_n(&mutex->__data.__count, 0U, __ATOMIC_RELAXED);
  __atomic_store_n(&mutex->__data.__owner, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&mutex->__data.__nusers, 0U, __ATOMIC_RELAXED);
  released.fetch_add(1, std::memory_order_relaxed);
  // Release order: the fields and the count above are written before the lock is free.
  const int previous = __atomic_exchange_n(&mutex->__data.__lock, 0, __ATOMIC_RELEASE);
  if (previous > 1) {  // 2: threads wait in the kernel; a shared (not private) wake-up
    ::syscall(SYS_futex, &mutex->__data.__lock, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
}

// Releases `mutex` if its owner thread is dead; returns that thread.
std::optional<pid_t> release_if_owner_dead(pthread_mutex_t* mutex, std::atomic<std::uint64_t>& released) {
  const pid_t owner = owner_of(mutex);
  // A thread has a /proc/<tid>/stat entry as a process does; a SIGKILLed
  // process's threads are gone or zombies awaiting their reaping.
  if (owner <= 0 || process_start_time(owner)) return std::nullopt;
  // The owner is dead. Had it let go before dying, the owner field would
  // now be 0 or another thread: only if it still reads `owner` does the
  // dead thread hold the lock, and then nobody else can take it meanwhile.
  if (owner_of(mutex) != owner) return std::nullopt;
  release(mutex, released);
  return owner;
}

std::string describe(const char* kind, const iox::popo::BasePortData& port) {
  const auto& service = port.m_serviceDescription;
  std::string channel = service.getServiceIDString().c_str();
  for (const auto* part : {&service.getInstanceIDString(), &service.getEventIDString()}) {
    if (std::string(part->c_str()) != ".") channel += "/" + std::string(part->c_str());
  }
  return std::string("the ") + kind + " of channel " + channel + " (process " + port.m_runtimeName.c_str() + ")";
}

// The lock of the first port in `ports` on `channel`.
template <class Ports>
pthread_mutex_t* first_lock_on(const Ports& ports, std::string_view channel) noexcept {
  const auto wanted = to_service_description(channel);
  for (auto* port : ports) {
    if (port->m_serviceDescription == wanted) return lock_of(*port);
  }
  return nullptr;
}

}  // namespace

std::vector<LockRepair> LockDoctor::scan() {
  const auto now = std::chrono::steady_clock::now();
  const auto within = now - previous_scan_;
  previous_scan_ = now;
  std::vector<LockRepair> repairs;
  for (auto& entry : anonymous_) entry.second.seen = false;
  auto look_at = [&](pthread_mutex_t* lock, const char* kind, const iox::popo::BasePortData& port) {
    if (const auto dead = release_if_owner_dead(lock, released_)) {
      repairs.push_back({*dead, describe(kind, port), within});
      return;
    }
    if (!held(lock) || owner_of(lock) != 0) return;
    auto [anonymous, fresh] = anonymous_.try_emplace(lock, Anonymous{now, true});
    anonymous->second.seen = true;
    const auto held_for = now - anonymous->second.since;
    if (fresh || held_for < kAnonymousGrace) return;
    anonymous_.erase(anonymous);
    release(lock, released_);
    repairs.push_back({0, describe(kind, port), held_for + within});
  };
  for (auto* port : pool_.getPublisherPortDataList()) look_at(lock_of(*port), "publisher", *port);
  for (auto* port : pool_.getSubscriberPortDataList()) look_at(lock_of(*port), "subscriber", *port);
  for (auto it = anonymous_.begin(); it != anonymous_.end();) it = it->second.seen ? std::next(it) : anonymous_.erase(it);
  return repairs;
}

pthread_mutex_t* publisher_lock_of(std::string_view channel) noexcept {
  iox::roudi::PortPool* pool = g_pool.load(std::memory_order_acquire);
  return pool == nullptr ? nullptr : first_lock_on(pool->getPublisherPortDataList(), channel);
}

pthread_mutex_t* subscriber_lock_of(std::string_view channel) noexcept {
  iox::roudi::PortPool* pool = g_pool.load(std::memory_order_acquire);
  return pool == nullptr ? nullptr : first_lock_on(pool->getSubscriberPortDataList(), channel);
}

void register_port_pool(iox::roudi::PortPool* pool) noexcept { g_pool.store(pool, std::memory_order_release); }

}  // namespace statebus::detail
