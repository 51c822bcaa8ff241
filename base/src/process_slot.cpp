#include "statebus/internal/process_slot.hpp"

#include <pthread.h>

#include <atomic>

namespace statebus::detail {
namespace {

std::atomic<std::uint32_t> g_slot{kNoSlot};
// A forked child is another process: the daemon knows nothing of it, so it
// must not act under its parent's place (its parent's death would clear
// what the child holds).
const int g_fork_hook = ::pthread_atfork(nullptr, nullptr, [] { g_slot.store(kNoSlot, std::memory_order_relaxed); });

}  // namespace

std::uint32_t process_slot() noexcept { return g_slot.load(std::memory_order_relaxed); }

void set_process_slot(std::uint32_t slot) noexcept {
  (void)g_fork_hook;
  g_slot.store(slot < kProcessSlots ? slot : kNoSlot, std::memory_order_relaxed);
}

}  // namespace statebus::detail
