#pragma once
// The iceoryx side of statebus's ports, shared by raw_publisher.cpp,
// raw_subscriber.cpp, subscriber_wait.cpp, wait_set.cpp
// and discovery.cpp.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arrival_pacer.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/user_trigger.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/channel_types.hpp"
#include "statebus/internal/iceoryx.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus::detail {

/// A port destroyed while samples or loans it handed out are still held is
/// orphaned rather than deleted: it stops offering (hearing) its channel,
/// keeps its chunks, and the last one given back deletes it. Not atomic:
/// samples and loans follow their port's one-thread-at-a-time rule.
struct Lending {
  std::uint32_t out = 0;  // samples or loans handed out, not yet given back
  bool orphaned = false;
};

/// Counts one sample or loan given back; the last one deletes an orphaned port.
template <class Core>
void given_back(Core* core) noexcept {
  if (--core->lending.out != 0 || !core->lending.orphaned) return;
  if (bus_lost()) return keep_for_good(std::unique_ptr<Core>(core));  // its locks may be held by a killed process
  delete core;
}

struct PublisherCore {
  PublisherCore(const iox::capro::ServiceDescription& service, const iox::popo::PublisherOptions& options)
      : port(service, options) {}
  iox::popo::UntypedPublisher port;
  std::shared_ptr<const TypeClaim> type_claim;  // the channel's type, held in the bus's table
  std::string channel;
  std::uint32_t max_chunk = 0;
  std::uint32_t max_payload = 0;
  std::uint32_t fixed_size = 0;  // size checked at create(); 0 = check at each loan
  std::uint32_t fixed_align = 0;
  std::uint64_t sequence = 0;
  std::uint64_t port_id = 0;
  std::uint64_t fingerprint = 0;
  std::int64_t created_ns = 0;
  ProcessId process;
  Lending lending;  // loans
};

/// A subscriber's own wait set: its data wakes it and, once it has waited
/// on virtual time, every clock change. Made at create(), while the daemon
/// is asked anyway: a wait never asks the daemon for one (a stopped daemon
/// would hold that wait past its timeout).
struct OwnWait {
  iox::popo::WaitSet<2> waitset;
  iox::popo::UserTrigger clock_changed;
  std::uint64_t listener = 0;  // removed first: no trigger after destruction
  ~OwnWait() { remove_clock_listener(listener); }
};

/// Registers `trigger` to fire on every change of the clock (so that a
/// WaitSet holding it wakes); remove with remove_clock_listener().
inline std::uint64_t trigger_on_clock_change(iox::popo::UserTrigger& trigger,
                                             ClockChanges changes = ClockChanges::all) {
  return add_clock_listener([](void* context) { static_cast<iox::popo::UserTrigger*>(context)->trigger(); },
                            &trigger, changes);
}

struct SubscriberCore;

/// What a subscriber is waited on through (a WaitSet or an EventLoop): it
/// stops waiting on a subscriber that dies first.
class SubscriberWaiter {
 public:
  virtual void forget(SubscriberCore& core) noexcept = 0;

 protected:
  ~SubscriberWaiter() = default;
};

struct SubscriberCore {
  SubscriberCore(const iox::capro::ServiceDescription& service, const iox::popo::SubscriberOptions& options)
      : port(service, options) {}
  iox::popo::UntypedSubscriber port;
  // Declared after the port: destroyed first, detaching from it.
  std::unique_ptr<OwnWait> own_wait;   // null: in a WaitSet or EventLoop, or none could be had (waits poll)
  SubscriberWaiter* waiter = nullptr;  // set: wait() goes through the user's WaitSet or EventLoop
  bool paced = false;            // an adaptive wait ran: take() feeds the pacer
  ArrivalPacer pacer;
  std::string channel;
  std::uint64_t expected_fingerprint = 0;  // 0: any
  std::string expected_name;
  std::uint32_t history = 0;  // what the user asked for
  std::int64_t created_ns = 0;
  std::uint64_t refused = 0;
  std::uint64_t lost = 0;
  std::vector<PublisherStatus> publishers;
  std::optional<PublisherStatus> mismatch;  // first publisher of another type
  std::shared_ptr<const TypeClaim> type_claim;  // the channel's type, held in the bus's table
  mutable std::optional<Schema> mismatch_schema;  // the other type, once named
  Lending lending;  // samples
};

}  // namespace statebus::detail
