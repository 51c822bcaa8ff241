#include "statebus/bus/wait_set.hpp"
#include "statebus/internal/virtual_waits.hpp"

#include "ports.hpp"

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

std::vector<std::size_t> WaitSet::wait(std::chrono::nanoseconds timeout, std::chrono::nanoseconds spin) {
  auto ready = impl_->ready();
  if (!ready.empty()) return ready;
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + timeout;
  if (spin.count() > 0) {
    const auto until = now + std::min(spin, timeout);
    while (std::chrono::steady_clock::now() < until) {
      ready = impl_->ready();
      if (!ready.empty()) return ready;
    }
  }
  // timedWait() may wake for data already taken: wait for the rest of the time.
  for (;;) {
    ready = impl_->ready();
    const auto left = deadline - std::chrono::steady_clock::now();
    if (!ready.empty() || left.count() <= 0) return ready;
    impl_->waitset.timedWait(iox::units::Duration::fromNanoseconds(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(left).count())));
  }
}

std::vector<std::size_t> WaitSet::wait_until(VirtualClock::time_point deadline) {
  Impl& impl = *impl_;
  if (impl.listener == 0) {
    if (impl.waitset.attachEvent(impl.clock_changed).has_error()) return impl.ready();
    impl.listener = detail::trigger_on_clock_change(impl.clock_changed);
  }
  std::vector<std::size_t> ready;
  detail::wait_on_virtual_time(
      deadline,
      [&] {
        ready = impl.ready();
        return !ready.empty();
      },
      [&](std::chrono::nanoseconds slice) {
        return !impl.waitset.timedWait(iox::units::Duration::fromNanoseconds(static_cast<std::uint64_t>(slice.count())))
                    .empty();
      });
  return ready;
}

}  // namespace statebus
