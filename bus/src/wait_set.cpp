#include "statebus/bus/wait_set.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "arrival_pacer.hpp"
#include "real_time_waits.hpp"
#include "statebus/internal/iceoryx.hpp"
#include "wait_set_impl.hpp"

namespace statebus {

WaitSet::Impl::~Impl() {
  detail::remove_clock_listener(listener);
  for (detail::SubscriberCore* member : members) {
    if (member == nullptr) continue;
    waitset.detachState(member->port, iox::popo::SubscriberState::HAS_DATA);
    member->waiter = nullptr;
  }
}

Result<std::size_t> WaitSet::Impl::add(detail::SubscriberCore& core, std::string_view owner) {
  if (members.size() >= kCapacity) {
    return fail(Errc::out_of_resources, std::string(owner) + " waits on at most " + std::to_string(kCapacity) +
                                            " subscribers; '" + core.channel + "' does not fit");
  }
  // iceoryx would move the state over (with a warning) and leave the other
  // set holding a subscriber it is no longer told about.
  if (core.waiter != nullptr) {
    return fail(Errc::out_of_resources, "cannot wait on channel '" + core.channel +
                                            "': its subscriber is already in a WaitSet or event loop (one at a time)");
  }
  // iceoryx lets a state notify one wait set: take it from the subscriber's own.
  core.own_wait.reset();
  if (waitset.attachState(core.port, iox::popo::SubscriberState::HAS_DATA).has_error()) {
    return fail(Errc::out_of_resources,
                "cannot wait on channel '" + core.channel + "': is its subscriber in another WaitSet or event loop?");
  }
  core.waiter = this;
  members.push_back(&core);
  return members.size() - 1;
}

void WaitSet::Impl::forget(detail::SubscriberCore& core) noexcept {
  for (detail::SubscriberCore*& member : members) {
    if (member != &core) continue;
    waitset.detachState(core.port, iox::popo::SubscriberState::HAS_DATA);
    core.waiter = nullptr;
    member = nullptr;
  }
}

std::vector<std::size_t> WaitSet::Impl::ready() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (members[i] != nullptr && members[i]->port.hasData()) out.push_back(i);
  }
  return out;
}

bool WaitSet::Impl::any_ready() const noexcept {
  return std::any_of(members.begin(), members.end(),
                     [](const detail::SubscriberCore* member) { return member != nullptr && member->port.hasData(); });
}

bool WaitSet::Impl::hear_clock(detail::ClockChanges changes) {
  if (listener != 0) return true;
  if (waitset.attachEvent(clock_changed).has_error()) return false;
  listener = detail::trigger_on_clock_change(clock_changed, changes);
  return true;
}

bool WaitSet::Impl::sleep(std::chrono::nanoseconds slice) {
  return !waitset.timedWait(iox::units::Duration::fromNanoseconds(static_cast<std::uint64_t>(slice.count()))).empty();
}

Result<WaitSet> WaitSet::create(const Node& /*node*/) {
  detail::DaemonRequest request;
  return WaitSet(std::make_unique<Impl>());
}

WaitSet::WaitSet(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
WaitSet::WaitSet(WaitSet&&) noexcept = default;
WaitSet& WaitSet::operator=(WaitSet&&) noexcept = default;
WaitSet::~WaitSet() {
  if (impl_ && detail::bus_lost()) detail::keep_for_good(std::move(impl_));  // its subscribers' locks may be held
}

Result<std::size_t> WaitSet::add(detail::RawSubscriber& subscriber) {
  return impl_->add(*subscriber.core(), "a WaitSet");
}

bool WaitSet::Ready::contains(std::size_t index) const noexcept {
  return std::find(indexes_.begin(), indexes_.end(), index) != indexes_.end();
}

WaitSet::Ready WaitSet::wait(std::chrono::nanoseconds timeout, Spin spin) {
  Impl& impl = *impl_;
  if (auto ready = impl.ready(); !ready.empty()) return {Waited::ready(), std::move(ready)};
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + timeout;
  const auto budget = spin.is_adaptive() ? detail::ArrivalPacer::kLearningSpin : spin.budget();
  if (budget.count() > 0) {
    const auto until = now + std::min<std::chrono::nanoseconds>(budget, timeout);
    while (std::chrono::steady_clock::now() < until) {
      if (auto ready = impl.ready(); !ready.empty()) return {Waited::ready(), std::move(ready)};
    }
  }
  // In slices, each after a look at the bus (a poll(2): small beside a
  // sleep). timedWait() may also wake for data already taken: such a
  // wake-up sleeps again.
  std::vector<std::size_t> ready;
  Waited waited = detail::block_in_slices(deadline, [&](std::chrono::steady_clock::time_point until) {
    for (;;) {
      ready = impl.ready();
      const auto left = until - std::chrono::steady_clock::now();
      if (!ready.empty() || left.count() <= 0) return !ready.empty();
      impl.sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
  });
  return {std::move(waited), std::move(ready)};
}

WaitSet::Ready WaitSet::wait_until(VirtualClock::time_point deadline) {
  Impl& impl = *impl_;
  if (auto ready = impl.ready(); !ready.empty()) return {Waited::ready(), std::move(ready)};
  if (auto gone = detail::bus_lost() ? detail::bus_gone() : std::nullopt) return {std::move(*gone), {}};
  if (!impl.hear_clock()) {
    return {Waited::failed(Error(Errc::out_of_resources, "the WaitSet cannot hear the clock: its daemon has no "
                                                         "event left for it; wait() on real time instead")),
            {}};
  }
  // Every clock change wakes the wait set through the trigger; a slice that
  // passes unwoken (nothing changed for a while) ends with a look at the bus.
  std::vector<std::size_t> ready;
  Waited waited = detail::wait_on_virtual_time_or_fail(
      deadline,
      [&] {
        ready = impl.ready();
        return !ready.empty();
      },
      [&](std::chrono::nanoseconds slice) { return impl.sleep(slice); }, [] { return detail::bus_gone(); });
  return {std::move(waited), std::move(ready)};
}

}  // namespace statebus
