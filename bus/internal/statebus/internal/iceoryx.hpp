#pragma once
// The one place that includes iceoryx for the bus, plus small conversions.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/capro/service_description.hpp"
#include "iceoryx_posh/mepoo/chunk_settings.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/waited.hpp"

namespace statebus::detail {

/// Maps a validated channel name onto iceoryx's service/instance/event:
/// part 1, part 2 (or "."), the rest joined by '/' (or "."). '.' never occurs
/// in a valid part, so "a" and "a/b" cannot collide.
iox::capro::ServiceDescription to_service_description(std::string_view channel);

/// Bytes of chunk a payload of `size` and `align` needs with statebus's
/// sample header, or nothing if iceoryx refuses the combination.
std::optional<std::uint32_t> required_chunk_size(std::uint32_t size, std::uint32_t align) noexcept;

/// Quiets iceoryx's console logging to errors (or keeps info if `verbose`).
void set_iceoryx_log_level(bool verbose) noexcept;

/// True once this process has connected a Node: its iceoryx runtime then
/// works on the shared memory for the rest of the process's life.
bool runtime_in_process() noexcept;

/// Node::bus_health() for this process's node; success without a node.
Result<void> bus_health();

/// True once Node::bus_health() found this process's daemon gone or
/// replaced. Its ports may then guard locks that a killed process left held
/// (iceoryx #1711), so destructors leave them alone (leak) instead of
/// waiting forever: the old bus is of no use to anyone any more.
bool bus_lost() noexcept;

/// A failed wait if this process's bus is gone (bus_health()'s error),
/// else nothing: what a wait that found nothing looks at before it goes on
/// waiting or says it timed out. One poll(2) while the daemon is there.
std::optional<Waited> bus_gone() noexcept;

/// Keeps `object`, an object of a lost bus left undestroyed on purpose (its
/// locks may be held by a process killed while the daemon was gone), for the
/// rest of the process: reachable, so leak checkers know it is kept. Takes
/// ownership; never frees it.
void keep_for_good_raw(const void* object) noexcept;
template <class T>
void keep_for_good(std::unique_ptr<T> object) noexcept {
  keep_for_good_raw(object.release());
}

/// Marks a request to the daemon in progress (creating a port, a wait set).
/// iceoryx waits for the daemon's answer without a timeout: a daemon that
/// wedged or was replaced meanwhile would hang the caller forever. While any
/// request is pending longer than 2 s, a watchdog thread checks the bus; once
/// the daemon is gone or replaced it says so on stderr and ends the process
/// with status 75 (EX_TEMPFAIL), for its supervisor to start it again.
class DaemonRequest {
 public:
  DaemonRequest() noexcept;
  ~DaemonRequest();
  DaemonRequest(const DaemonRequest&) = delete;
  DaemonRequest& operator=(const DaemonRequest&) = delete;
};

}  // namespace statebus::detail
