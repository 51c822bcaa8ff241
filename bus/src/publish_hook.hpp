#pragma once
// A test hook inside every publish of this process: called once the sample
// is delivered to the subscribers' queues, before lockstep counts it as
// arrived. Tests use it to act exactly in that window (a chosen interleaving
// instead of luck). Internal: not installed; nothing but tests sets it.

namespace statebus::detail {

using PublishHook = void (*)();

/// Sets the hook for every publish of this process from now on (nullptr:
/// none). Not for concurrent use with publishes of this process.
void set_after_delivery_hook(PublishHook hook) noexcept;

}  // namespace statebus::detail
