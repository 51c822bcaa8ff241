#pragma once
// Test hooks inside the clock. The change hook is called inside every
// change of the clock, with the writer lock held, the change pending and its
// instant fixed (readers' time stands there), before the new parameters
// are published.
// Tests use it to stop or kill a writer exactly mid-change, or to check that
// no two writers are ever inside at once. Internal: not installed; nothing
// but tests sets it.

namespace statebus::detail {

using ChangeHook = void (*)();

/// Sets the hook for every change of the clock made by this process from now
/// on (nullptr: none). Not for concurrent use with changes of this process.
void set_mid_change_hook(ChangeHook hook) noexcept;

/// The same in the process's clock watcher, once, before its first look at
/// the clock (the watcher starts with the first listener).
void set_watcher_start_hook(ChangeHook hook) noexcept;

/// True while the bus's clock has a change pending (a write of its
/// parameters began and was not published): a writer is inside, or one
/// died there and nobody has finished it yet.
bool clock_change_pending() noexcept;

}  // namespace statebus::detail
