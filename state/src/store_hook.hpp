#pragma once
// Test hooks inside Cell::store and Cell::load. The store hook is called once the spare copy is half
// written, with the cell's writer lock held and its sequence odd. Tests use
// it to stop or kill a writer exactly mid-store (a chosen interleaving
// instead of luck). Internal: not installed; nothing but tests sets it.

#include "statebus/state/cell.hpp"

namespace statebus::detail {

using StoreHook = void (*)();

/// Sets the hook for every store of this process from now on (nullptr:
/// none). Not for concurrent use with stores of this process.
void set_mid_store_hook(StoreHook hook) noexcept;

/// The same inside Cell::load, between reading the version and reading the
/// copy it names: a reader preempted there, as long as the hook runs (it may
/// store, from the same thread).
void set_mid_load_hook(StoreHook hook) noexcept;

/// The same inside a store's wake-up of waiters, once the store is counted
/// and before sleepers are woken.
void set_mid_wake_hook(StoreHook hook) noexcept;

/// The same inside Cell::wait_for_change, once the waiter found nothing new
/// and before it sleeps.
void set_before_sleep_hook(StoreHook hook) noexcept;

/// True while a waiter may sleep on `cell` (a store then pays a futex
/// wake-up).
bool cell_may_have_sleepers(const UntypedCell& cell) noexcept;

}  // namespace statebus::detail
