#pragma once
// The one place that includes iceoryx for the bus, plus small conversions.

#include <cstdint>
#include <optional>
#include <string_view>

#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/capro/service_description.hpp"
#include "iceoryx_posh/mepoo/chunk_settings.hpp"

namespace statebus::detail {

/// Maps a validated channel name onto iceoryx's service/instance/event:
/// part 1, part 2 (or "."), the rest joined by '/' (or "."). '.' never occurs
/// in a valid part, so "a" and "a/b" cannot collide.
iox::capro::ServiceDescription to_service_description(std::string_view channel);

/// Bytes of chunk a payload of `size` and `align` needs with statebus's
/// sample header, or nothing if iceoryx refuses the combination.
std::optional<std::uint32_t> required_chunk_size(std::uint32_t size, std::uint32_t align) noexcept;

/// Quiets iceoryx's console logging to warnings (or keeps info if `verbose`).
void set_iceoryx_log_level(bool verbose) noexcept;

/// True once this process has connected a Node: its iceoryx runtime then
/// works on the shared memory for the rest of the process's life.
bool runtime_in_process() noexcept;

}  // namespace statebus::detail
