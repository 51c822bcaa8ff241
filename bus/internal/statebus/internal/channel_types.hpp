#pragma once
// The bus's table of channel types: which message type each channel carries.
//
// One file per channel and type in the run directory's `types/` folder,
// holding the type's schema. Every process with a typed port on a channel
// (publisher or subscriber) holds a shared flock on its type's file for as
// long as it has such a port; the kernel drops it when the process dies,
// however it dies. So a file nobody holds is a type nobody uses any more,
// proven by the kernel, and a held one is in use, whether its holder runs,
// is stopped or lives in another PID namespace.
//
// What it gives:
// - a port of another type than the one in use is refused at create,
//   naming both types and a holder;
// - the type of a channel is known while any typed port uses it, even a
//   subscriber alone (a bridge can then write to it from plain JSON);
// - no companion port per publisher.
//
// The folder's lock (a flock on the folder, taken for at most a bounded
// time) orders claims, releases and reads; a frozen holder of it delays
// others' port creation by that bound, then they fail with an error naming
// it. Thread safety: every function may be called from any thread.
// Internal to the bus and the daemon (bus/internal).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "statebus/base/error.hpp"
#include "statebus/base/schema.hpp"

namespace statebus::detail {

/// This process's use of one type on one channel; shared by all of the
/// process's ports of that type on it. The last owner's end releases it;
/// the file stays, unheld, for samples still on their way, until a claim of
/// another type on the channel or the next daemon's start removes it.
class TypeClaim;

/// Claims `schema` as the type of `channel` for this process. Fails with
/// type_mismatch when a live process holds another type on it (the message
/// names both types, a holder and `role`, e.g. "publisher"), or with
/// system_error / not_permitted / timeout when the table cannot be used
/// (saying why).
Result<std::shared_ptr<const TypeClaim>> claim_channel_type(std::string_view channel, const Schema& schema,
                                                            std::string_view role);

/// The type some live process holds on `channel` now, if any.
Result<std::optional<Schema>> channel_type(std::string_view channel);
// (channel_type and known_channel_type look a service's reply channel,
// `S/_reply/<digits>`, up under `S/_reply` when it has no entry of its own:
// its server declares the type there once for all its clients.)

/// The schema of type `fingerprint` on `channel` if the table has it (held,
/// or left by ports that ended): to name a sample's type.
std::optional<Schema> known_channel_type(std::string_view channel, std::uint64_t fingerprint);

/// Removes the entries no process holds (a daemon starting: no port is left
/// from before but those of processes that still run).
void sweep_channel_types();
/// sweep_channel_types(), then the folder itself if that emptied it (a
/// daemon stopping leaves /tmp as it found it).
void remove_channel_types();

}  // namespace statebus::detail
