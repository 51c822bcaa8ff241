#pragma once
/// This process's place on its bus: the number the daemon gave it when it
/// joined (its registry, daemon/src/process_registry.cpp). The daemon holds a
/// pidfd of the process behind every place and learns of its death from the
/// kernel, so whatever shared memory records under a place (the holder of a
/// port lock, the clock's publishes in flight, a lockstep row) is cleared
/// exactly when that process has died, and never before. Internal: not
/// installed.

#include <cstdint>

namespace statebus::detail {

/// Places 1 … kProcessSlots−1; 0 is "no place" (a process not on a bus, or
/// a child forked from one: nothing it records can ever be cleared for it).
/// Place 1 is the daemon's own process.
inline constexpr std::uint32_t kProcessSlots = 512;
inline constexpr std::uint32_t kNoSlot = 0;
inline constexpr std::uint32_t kDaemonSlot = 1;

/// The calling process's place (kNoSlot until it joined). Lock-free.
std::uint32_t process_slot() noexcept;
/// Sets the place (the registry's client when the daemon answered; the
/// daemon for itself). A child forked from this process starts with none.
void set_process_slot(std::uint32_t slot) noexcept;

}  // namespace statebus::detail
