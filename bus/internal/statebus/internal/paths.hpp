#pragma once
// Where the bus lives in the file system. iceoryx 2.0 fixes its own names
// (no domains), so one daemon serves one machine or one mount namespace.

#include <string>
#include <string_view>

namespace statebus::detail {

/// statebus's own run directory: daemon lock and info, node name locks.
inline constexpr const char* kRunDir = "/tmp/statebus";
inline constexpr const char* kDaemonLock = "/tmp/statebus/daemon.lock";
inline constexpr const char* kDaemonInfo = "/tmp/statebus/daemon.info";
/// The daemon's registry: every process joins the bus here first (process_registry.hpp).
inline constexpr const char* kRegistrySocket = "/tmp/statebus/registry.sock";

/// iceoryx's fixed names.
inline constexpr const char* kRoudiSocket = "/tmp/roudi";
inline constexpr const char* kRoudiLock = "/tmp/roudi.lock";
inline constexpr const char* kRoudiUniqueLock = "/tmp/iox-unique-roudi.lock";
inline constexpr const char* kIceoryxMgmtShm = "/dev/shm/iceoryx_mgmt";

/// iceoryx runtime name of a node: a prefix keeps node names away from
/// iceoryx's own files in /tmp (a node called "roudi" must not clash).
inline std::string runtime_name(std::string_view node) { return "sb." + std::string(node); }
inline std::string node_lock_path(std::string_view node) {
  return std::string(kRunDir) + "/node-" + std::string(node) + ".lock";
}
/// A service's claim, held by its server (service/): `service-<name, '/' as '+'>.lock`.
inline constexpr const char* kServiceLockPrefix = "service-";
inline std::string service_lock_path(std::string_view service) {
  std::string name(service);
  for (char& c : name) c = c == '/' ? '+' : c;
  return std::string(kRunDir) + "/" + kServiceLockPrefix + name + ".lock";
}

}  // namespace statebus::detail
