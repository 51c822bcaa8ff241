#pragma once
// What a process and the daemon's registry say to each other when the
// process joins the bus (bus/src/bus_membership.cpp,
// daemon/src/process_registry.cpp): one
// request with a pidfd of the joining process attached (SCM_RIGHTS), one
// reply with its place. The connection then stays open for the life of the
// process: its end tells each side that the other has gone. Internal to
// the bus and the daemon; both sides are built from this one header.

#include <sys/types.h>

#include <cstdint>

namespace statebus::detail {

inline constexpr std::uint32_t kRegistryMagic = 0x53424a4e;  // "NJBS"
inline constexpr std::uint32_t kRegistryVersion = 1;

struct JoinRequest {
  std::uint32_t magic = kRegistryMagic;
  std::uint32_t version = kRegistryVersion;
  std::int32_t pid = 0;  ///< as the joining process's own PID namespace numbers it
  std::uint32_t reserved = 0;
  std::uint64_t start_time = 0;  ///< its start time (clock ticks after boot)
  char node[72] = {};            ///< the node's name, NUL-terminated
};

enum class JoinStatus : std::uint32_t { joined = 0, refused = 1 };

struct JoinReply {
  std::uint32_t magic = kRegistryMagic;
  JoinStatus status = JoinStatus::refused;
  std::uint32_t slot = 0;  ///< the process's place (process_slot.hpp)
  std::uint32_t code = 0;  ///< when refused: the statebus::Errc to report
  char message[240] = {};  ///< why it was refused, NUL-terminated
};

static_assert(sizeof(JoinRequest) == 96 && sizeof(JoinReply) == 256, "the registry's messages are a wire format");

}  // namespace statebus::detail
