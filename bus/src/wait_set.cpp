#include "statebus/bus/wait_set.hpp"
#include "statebus/internal/virtual_waits.hpp"

#include <algorithm>
#include <optional>

#include "arrival_pacer.hpp"
#include "ports.hpp"
#include "statebus/internal/iceoryx.hpp"

namespace statebus {

struct WaitSet::Impl final : detail::SubscriberWaiter {
  static constexpr std::size_t kCapacity = 64;
  std::vector<detail::SubscriberCore*> members;  // null: died before the wait set (indexes stay)
  iox::popo::WaitSet<kCapacity + 1> waitset;  // + the clock
  iox::popo::UserTrigger clock_changed;
  std::uint64_t listener = 0;  // set at the first wait_until

  ~Impl() {
    detail::remove_clock_listener(listener);
    for (detail::SubscriberCore* member : members) {
      if (member == nullptr) continue;
      waitset.detachState(member->port, iox::popo::SubscriberState::HAS_DATA);
      member->waiter = nullptr;
    }
  }

  void forget(detail::SubscriberCore& core) noexcept override {
    for (detail::SubscriberCore*& member : members) {
      if (member != &core) continue;
      waitset.detachState(core.port, iox::popo::SubscriberState::HAS_DATA);
      core.waiter = nullptr;
      member = nullptr;
    }
  }

  std::vector<std::size_t> ready() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (members[i] != nullptr && members[i]->port.hasData()) out.push_back(i);
    }
    return out;
  }
};

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
  detail::SubscriberCore* core = subscriber.core();
  if (impl_->members.size() >= Impl::kCapacity) {
    return fail(Errc::out_of_resources, "a WaitSet holds at most " + std::to_string(Impl::kCapacity) +
                                            " subscribers; '" + core->channel + "' does not fit");
  }
  // iceoryx lets a state notify one waitset: take it from the subscriber's own.
  core->waitset.reset();
  if (impl_->waitset.attachState(core->port, iox::popo::SubscriberState::HAS_DATA).has_error()) {
    return fail(Errc::out_of_resources, "cannot wait on channel '" + core->channel + "' (is it in another WaitSet?)");
  }
  core->waiter = impl_.get();
  impl_->members.push_back(core);
  return impl_->members.size() - 1;
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
  // Blocks in slices, each ended by a look at the bus (its daemon may stop
  // meanwhile); timedWait() may also wake for data already taken.
  bool look_at_bus = detail::bus_lost();
  for (;;) {
    if (auto ready = impl.ready(); !ready.empty()) return {Waited::ready(), std::move(ready)};
    if (look_at_bus) {
      if (auto gone = detail::bus_gone()) return {std::move(*gone), {}};
    }
    look_at_bus = true;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left.count() <= 0) return {Waited::timed_out(), {}};
    const auto slice = std::min<std::chrono::nanoseconds>(left, detail::RawSubscriber::kBusCheck);
    impl.waitset.timedWait(iox::units::Duration::fromNanoseconds(static_cast<std::uint64_t>(slice.count())));
  }
}

WaitSet::Ready WaitSet::wait_until(VirtualClock::time_point deadline) {
  Impl& impl = *impl_;
  if (auto ready = impl.ready(); !ready.empty()) return {Waited::ready(), std::move(ready)};
  if (auto gone = detail::bus_lost() ? detail::bus_gone() : std::nullopt) return {std::move(*gone), {}};
  if (impl.listener == 0) {
    if (impl.waitset.attachEvent(impl.clock_changed).has_error()) {
      return {Waited::failed(Error(Errc::out_of_resources, "the WaitSet cannot hear the clock: its daemon has no "
                                                           "event left for it; wait() on real time instead")),
              {}};
    }
    impl.listener = detail::trigger_on_clock_change(impl.clock_changed);
  }
  // Every clock change wakes the wait set through the trigger; a slice that
  // passes unwoken (nothing changed for a while) ends with a look at the bus.
  std::vector<std::size_t> ready;
  std::optional<Waited> gone;
  detail::wait_on_virtual_time(
      deadline,
      [&] {
        ready = impl.ready();
        return gone.has_value() || !ready.empty();
      },
      [&](std::chrono::nanoseconds slice) {
        const bool woken =
            !impl.waitset.timedWait(iox::units::Duration::fromNanoseconds(static_cast<std::uint64_t>(slice.count())))
                 .empty();
        if (!woken) gone = detail::bus_gone();
        return woken;
      });
  if (!ready.empty()) return {Waited::ready(), std::move(ready)};
  if (gone) return {std::move(*gone), {}};
  return {Waited::timed_out(), {}};
}

}  // namespace statebus
