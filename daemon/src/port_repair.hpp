#pragma once
// What the daemon does with the port locks of a process whose death the
// kernel reported (process_registry.hpp): each lock that process held is
// released, after what the lock guards is set right. The process died
// inside its critical section, maybe halfway through an update:
//
// - a publisher's (client's, server's) list of subscriber queues and its
//   history of samples: a kill inside iceoryx's vector erase, insert or sort
//   leaves an entry twice, or a null one, and the port's removal would then
//   release a chunk twice. Null, foreign and repeated entries are dropped
//   (a reference dropped so is a chunk lost, never one freed twice);
// - a subscriber's (client's, server's) queue: a kill inside attaching a
//   wait set leaves its link without its index, on which every publisher's
//   next delivery would abort. The link is cleared.
//
// The lock is still held by the dead process while this runs, so nobody
// else can look at or change what it guards until it is released.
//
// Thread safety: one thread (the daemon's janitor). The port lists are read
// without RouDi's lock (RouDi may wait for one of these very locks); the
// ports live in a fixed pool that stays mapped. Internal to daemon/src.

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace iox::roudi {
class PortPool;
}
namespace iox::mepoo {
class MemoryManager;
}
namespace iox::popo {
struct PublisherPortData;
}

namespace statebus::detail {

/// One lock released.
struct PortRelease {
  std::string port;      ///< "the publisher of channel home/x (process sb.web)"
  pid_t thread = 0;      ///< the dead holder's thread (as its PID namespace numbered it)
  std::string repaired;  ///< what was set right before (empty: nothing was half done)
};

/// Releases every port lock held by the process at `slot`, once its death
/// is proven, each after setting right what it guards (above).
std::vector<PortRelease> release_port_locks_of(std::uint32_t slot, iox::roudi::PortPool& ports,
                                               iox::mepoo::MemoryManager& memory);

/// For tests that make a process die holding a lock: the first publisher
/// port on `channel` of the daemon running in this process, and the lock of
/// the first publisher (or subscriber) port there (nullptr if there is
/// none). Not thread-safe with the daemon's stop.
iox::popo::PublisherPortData* publisher_port_of(std::string_view channel) noexcept;
pthread_mutex_t* publisher_lock_of(std::string_view channel) noexcept;
pthread_mutex_t* subscriber_lock_of(std::string_view channel) noexcept;
/// The daemon in this process registers its port pool here (nullptr on stop).
void register_port_pool(iox::roudi::PortPool* pool) noexcept;

}  // namespace statebus::detail
