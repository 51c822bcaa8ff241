#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "channel_types.hpp"
#include "ports.hpp"
#include "publish_hook.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/internal/lockstep.hpp"

namespace statebus {

std::string_view to_string(PublisherState state) noexcept {
  switch (state) {
    case PublisherState::alive: return "alive";
    case PublisherState::stopped: return "stopped";
    case PublisherState::gone: return "gone";
  }
  return "unknown";
}

namespace detail {
namespace {

std::atomic<PublishHook> g_after_delivery_hook{nullptr};

constexpr std::uint32_t kMaxQueueDepth = 256;  // iceoryx cuts larger queues silently

std::string size_error(std::string_view channel, std::uint32_t size, std::uint32_t max_payload) {
  return "a payload of " + std::to_string(size) + " bytes on channel '" + std::string(channel) +
         "' does not fit the daemon's largest memory pool (" + std::to_string(max_payload) +
         " bytes of payload); send less, or start the daemon with a larger pool";
}

SampleHeader* header_of(void* payload) noexcept {
  return static_cast<SampleHeader*>(iox::mepoo::ChunkHeader::fromUserPayload(payload)->userHeader());
}

// Waits for a condition iceoryx 2.0 has no event for (a subscriber or a
// publisher connected), with a short back-off. Start-up only, never a hot path.
template <class Condition>
bool poll_until(Condition&& condition, std::chrono::nanoseconds timeout) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(100);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(5000));
  }
  return true;
}

// Loans a chunk with a fresh header (chunks are reused: never trust old bytes).
void* loan_chunk(iox::popo::UntypedPublisher& port, std::uint32_t size, std::uint32_t align) noexcept {
  auto loaned = port.loan(size, align, sizeof(SampleHeader), alignof(SampleHeader));
  if (loaned.has_error()) return nullptr;
  // The header and the payload's first line usually sit in different cache
  // lines, last touched by the other process's core: fetch both at once.
  __builtin_prefetch(loaned.value(), 1);
  new (header_of(loaned.value())) SampleHeader();
  return loaned.value();
}

}  // namespace


namespace {

// Counts one sample or loan given back; the last one deletes an orphaned port.
template <class Core>
void given_back(Core* core) noexcept {
  if (--core->lending.out != 0 || !core->lending.orphaned) return;
  if (bus_lost()) return keep_for_good(std::unique_ptr<Core>(core));  // its locks may be held by a killed process
  delete core;
}

}  // namespace

void release_loan(PublisherCore* core, void* payload) noexcept {
  core->port.release(payload);
  given_back(core);
}

void release_sample(SubscriberCore* core, const void* payload) noexcept {
  core->port.release(payload);
  // Samples that reached an orphan before the daemon handled its unsubscribe
  // would wait in its queue until the last held one dies: drop them now.
  if (core->lending.orphaned) core->port.releaseQueuedData();
  given_back(core);
}

namespace {

// Stamps the header and delivers a loaned buffer.
void publish_on(PublisherCore& core, void* payload) noexcept {
  auto* chunk = iox::mepoo::ChunkHeader::fromUserPayload(payload);
  auto* header = static_cast<SampleHeader*>(chunk->userHeader());  // zeroed at loan; flags kept
  header->sequence = ++core.sequence;
  header->publisher_port = core.port_id;
  header->publisher_start_time = core.process.start_time;
  header->publisher_created_ns = core.created_ns;
  const std::uint32_t counted = detail::begin_publish();  // in flight from before its time is read
  header->virtual_time_ns = detail::virtual_and_real_ns(header->real_time_ns);
  header->fingerprint = core.fingerprint;
  header->publisher_pid = core.process.pid;
  header->payload_size = header->flags != 0 ? 0 : chunk->userPayloadSize();
  core.port.publish(payload);
  --core.lending.out;
  if (const detail::PublishHook hook = g_after_delivery_hook.load(std::memory_order_relaxed)) hook();
  detail::end_publish(counted);  // delivered
}

}  // namespace

LoanResult<void> publish_loan(PublisherCore* core, void* payload) noexcept {
  if (core->lending.orphaned) {  // its publisher is gone: no one may stamp its sequence any more
    release_loan(core, payload);
    return tl::make_unexpected(LoanError::publisher_gone);
  }
  publish_on(*core, payload);
  return {};
}

// ---- publisher -------------------------------------------------------------

Result<RawPublisher> RawPublisher::create(const Node& node, std::string_view channel, std::uint32_t payload_size,
                                          std::uint32_t payload_align, const Schema* schema,
                                          const PublisherOptions& options) {
  if (auto valid = validate_channel_name(channel); !valid) return tl::make_unexpected(valid.error());
  if (options.history > kMaxHistory) {
    return fail(Errc::invalid_argument, "publisher history of " + std::to_string(options.history) +
                                            " on channel '" + std::string(channel) + "' is over the maximum of " +
                                            std::to_string(kMaxHistory));
  }
  if (payload_size != 0) {
    const auto chunk = required_chunk_size(payload_size, payload_align);
    if (!chunk || *chunk > node.max_chunk()) {
      return fail(Errc::payload_too_large, size_error(channel, payload_size, node.max_payload()));
    }
  }
  // A replaced or stopped daemon would answer iceoryx with an abort: say so instead.
  if (auto health = bus_health(); !health) return tl::make_unexpected(health.error());
  std::shared_ptr<const TypeClaim> type_claim;
  if (schema != nullptr) {
    auto claimed = claim_channel_type(channel, *schema, "publisher");
    if (!claimed) return tl::make_unexpected(claimed.error());
    type_claim = std::move(*claimed);
  }
  const std::int64_t created = monotonic_ns();
  iox::popo::PublisherOptions iox_options;
  iox_options.historyCapacity = options.history;
  // Waiting publishers also serve subscribers that do not ask for it; only
  // lossless subscribers make them wait.
  iox_options.subscriberTooSlowPolicy = options.never_block ? iox::popo::ConsumerTooSlowPolicy::DISCARD_OLDEST_DATA
                                                            : iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  DaemonRequest request;
  auto core = std::make_unique<PublisherCore>(to_service_description(channel), iox_options);
  core->channel = std::string(channel);
  core->max_chunk = node.max_chunk();
  core->max_payload = node.max_payload();
  core->fixed_size = payload_size;
  core->fixed_align = payload_align;
  core->port_id = static_cast<std::uint64_t>(core->port.getUid());
  core->process = this_process();
  core->created_ns = created;
  if (schema != nullptr) core->fingerprint = schema->fingerprint;
  core->type_claim = std::move(type_claim);
  return RawPublisher(std::move(core));
}

RawPublisher::RawPublisher(std::unique_ptr<PublisherCore> impl) noexcept : impl_(std::move(impl)) {}
RawPublisher::RawPublisher(RawPublisher&&) noexcept = default;
RawPublisher& RawPublisher::operator=(RawPublisher&& other) noexcept {
  if (this != &other) {
    RawPublisher old(std::move(*this));  // says goodbye for the port it replaces
    impl_ = std::move(other.impl_);
  }
  return *this;
}

RawPublisher::~RawPublisher() {
  if (!impl_) return;
  if (bus_lost()) {
    keep_for_good(std::move(impl_));  // its locks may be held by a killed process: leave it
    return;
  }
  // Goodbye: subscribers learn that this publisher stopped, not crashed.
  if (void* payload = loan(1, 1)) {
    header_of(payload)->flags = SampleHeader::kGoodbye;  // kept: publish() stamps the rest
    publish(payload);
  }
  if (impl_->lending.out == 0) return;
  // Loans still held keep their chunks: the port lives on, unoffered, until
  // the last one is given back (release_loan deletes it).
  impl_->port.stopOffer();
  impl_->lending.orphaned = true;
  (void)impl_.release();
}

void* RawPublisher::loan(std::uint32_t size, std::uint32_t align) noexcept {
  PublisherCore& core = *impl_;
  // iceoryx aborts the process on a loan larger than its largest pool:
  // check here unless create() already checked this very size.
  if (size != core.fixed_size || align != core.fixed_align) {
    const auto chunk = required_chunk_size(size, align);
    if (!chunk || *chunk > core.max_chunk) return nullptr;
  }
  void* payload = loan_chunk(core.port, size, align);
  if (payload != nullptr) ++core.lending.out;
  return payload;
}

void RawPublisher::publish(void* payload) noexcept { publish_on(*impl_, payload); }

bool RawPublisher::has_subscribers() const noexcept { return impl_->port.hasSubscribers(); }

bool RawPublisher::wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept {
  return poll_until([this] { return impl_->port.hasSubscribers(); }, timeout);
}

const std::string& RawPublisher::channel() const noexcept { return impl_->channel; }
std::uint32_t RawPublisher::max_payload() const noexcept { return impl_->max_payload; }
std::uint64_t RawPublisher::published() const noexcept { return impl_->sequence; }
std::uint64_t RawPublisher::port_id() const noexcept { return impl_->port_id; }
void RawPublisher::skip(std::uint64_t n) noexcept { impl_->sequence += n; }

// ---- subscriber ------------------------------------------------------------

Result<RawSubscriber> RawSubscriber::create(const Node& /*node*/, std::string_view channel, const Schema* expected,
                                            const SubscriberOptions& options) {
  if (auto valid = validate_channel_name(channel); !valid) return tl::make_unexpected(valid.error());
  if (options.queue_depth < 1 || options.queue_depth > kMaxQueueDepth) {
    return fail(Errc::invalid_argument, "queue depth " + std::to_string(options.queue_depth) + " on channel '" +
                                            std::string(channel) + "' is outside 1–" +
                                            std::to_string(kMaxQueueDepth));
  }
  if (options.history > kMaxHistory) {
    return fail(Errc::invalid_argument, "subscriber history of " + std::to_string(options.history) +
                                            " on channel '" + std::string(channel) + "' is over the maximum of " +
                                            std::to_string(kMaxHistory));
  }
  if (auto health = bus_health(); !health) return tl::make_unexpected(health.error());  // as a publisher's
  std::shared_ptr<const TypeClaim> type_claim;
  if (expected != nullptr) {
    auto claimed = claim_channel_type(channel, *expected, "subscriber");
    if (!claimed) return tl::make_unexpected(claimed.error());
    type_claim = std::move(*claimed);
  }
  const std::int64_t created = monotonic_ns();
  iox::popo::SubscriberOptions iox_options;
  iox_options.queueCapacity = options.queue_depth;
  iox_options.historyRequest = options.history;
  iox_options.queueFullPolicy =
      options.lossless ? iox::popo::QueueFullPolicy::BLOCK_PRODUCER : iox::popo::QueueFullPolicy::DISCARD_OLDEST_DATA;
  DaemonRequest request;
  auto core = std::make_unique<SubscriberCore>(to_service_description(channel), iox_options);
  core->channel = std::string(channel);
  core->history = options.history;
  core->created_ns = created;
  if (expected != nullptr) {
    core->expected_fingerprint = expected->fingerprint;
    core->expected_name = expected->name;
  }
  core->type_claim = std::move(type_claim);
  return RawSubscriber(std::move(core));
}

RawSubscriber::RawSubscriber(std::unique_ptr<SubscriberCore> impl) noexcept : impl_(std::move(impl)) {}
RawSubscriber::RawSubscriber(RawSubscriber&&) noexcept = default;
RawSubscriber& RawSubscriber::operator=(RawSubscriber&& other) noexcept {
  if (this != &other) {
    RawSubscriber old(std::move(*this));  // retires the port it replaces
    impl_ = std::move(other.impl_);
  }
  return *this;
}

RawSubscriber::~RawSubscriber() {
  if (!impl_) return;
  if (bus_lost()) {
    keep_for_good(std::move(impl_));  // its locks may be held by a killed process: leave it
    return;
  }
  SubscriberCore& core = *impl_;
  if (core.waiter != nullptr) core.waiter->forget(core);
  if (core.lending.out == 0) return;
  // Samples still held keep their chunks: the port lives on, deaf to its
  // channel (a lossless one holds no publisher up), until the last one is
  // given back (release_sample deletes it).
  core.waitset.reset();
  core.virtual_wait.reset();
  core.port.unsubscribe();
  core.port.releaseQueuedData();
  core.lending.orphaned = true;
  (void)impl_.release();
}

RawSample RawSubscriber::take() noexcept { return take_sample(impl_.get()); }

RawSample take_sample(SubscriberCore* subscriber) noexcept {
  SubscriberCore& core = *subscriber;
  for (;;) {
    auto taken = core.port.take();
    if (taken.has_error()) return {};
    const void* payload = taken.value();
    __builtin_prefetch(payload);  // overlaps the payload's cache line with reading the header
    const auto* chunk = iox::mepoo::ChunkHeader::fromUserPayload(payload);
    // A chunk without statebus's header (a foreign iceoryx publisher) is
    // never handed out as a statebus sample.
    if (chunk->userHeaderSize() != sizeof(SampleHeader)) {
      ++core.refused;
      core.port.release(payload);
      continue;
    }
    const auto* header = static_cast<const SampleHeader*>(chunk->userHeader());

    auto entry = std::find_if(core.publishers.begin(), core.publishers.end(),
                              [&](const PublisherStatus& p) { return p.port == header->publisher_port; });
    const bool first_from_publisher = entry == core.publishers.end();
    if (first_from_publisher) {
      PublisherStatus status;
      status.process = header->publisher();
      status.port = header->publisher_port;
      status.fingerprint = header->fingerprint;
      core.publishers.push_back(status);
      entry = core.publishers.end() - 1;
    }
    // A publisher older than this subscriber sent samples that were never
    // meant for it: count gaps only from the first sample it got.
    if (first_from_publisher && header->publisher_created_ns < core.created_ns) {
      entry->last_sequence = header->sequence - 1;
    }
    if (header->sequence > entry->last_sequence + 1) {
      const std::uint64_t gap = header->sequence - entry->last_sequence - 1;
      entry->lost += gap;
      core.lost += gap;
    }
    entry->last_sequence = std::max(entry->last_sequence, header->sequence);

    if ((header->flags & SampleHeader::kGoodbye) != 0) {
      entry->state = PublisherState::stopped;
      core.port.release(payload);
      continue;
    }
    if (core.expected_fingerprint != 0 && header->fingerprint != core.expected_fingerprint) {
      ++core.refused;
      if (!core.mismatch) core.mismatch = *entry;
      core.port.release(payload);
      continue;
    }
    if (core.paced) core.pacer.published(header->real_time_ns);
    ++core.lending.out;
    return {header, payload};
  }
}

bool RawSubscriber::has_data() const noexcept { return impl_->port.hasData(); }

bool RawSubscriber::wait_connected(std::chrono::nanoseconds timeout) const noexcept {
  return poll_until([this] { return impl_->port.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED; }, timeout);
}

namespace {

// A sleep's end within a µs of its deadline, not the default 50 µs later.
void set_fine_timer_slack() noexcept {
  thread_local bool done = false;
  if (!done) {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    done = true;
  }
}

template <class Ready>
bool busy_poll_until(std::chrono::steady_clock::time_point until, Ready&& ready) noexcept {
  while (std::chrono::steady_clock::now() < until) {
    if (ready()) return true;
  }
  return false;
}

// Polls for data until `deadline` (real time, or the bus's virtual time),
// sleeping 50 µs at first, then longer, up to 1 ms: for a subscriber whose
// state iceoryx lets notify one wait set only (it is in a WaitSet or an
// EventLoop), or when no wait set could be had.
template <class Clock>
bool poll_for_data(SubscriberCore& core, typename Clock::time_point deadline) noexcept {
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    if (core.port.hasData()) return true;
    if (Clock::now() >= deadline) return core.port.hasData();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

}  // namespace

bool RawSubscriber::wait(std::chrono::nanoseconds timeout, Spin spin) noexcept {
  SubscriberCore& core = *impl_;
  if (core.port.hasData()) return true;
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + timeout;
  const auto ready = [&core] { return core.port.hasData(); };
  std::chrono::nanoseconds budget = spin.budget();
  if (spin.is_adaptive()) {
    core.paced = true;
    const auto due = core.pacer.due();
    budget = due ? std::chrono::nanoseconds(0) : ArrivalPacer::kLearningSpin;
    if (due && now < core.pacer.spin_until(*due)) {
      // Sleep through the gap (a sample that comes early wakes us), then
      // spin from just before the sample is due until a little after.
      const auto from = core.pacer.spin_from(*due);
      if (from > now) {
        set_fine_timer_slack();
        const bool data = block_until(std::min(from, deadline));
        const auto woke = std::chrono::steady_clock::now();
        if (data) {
          // The sample came first: early (nothing to learn), or while this
          // thread overslept, which the next spin must start earlier for.
          if (woke > from) core.pacer.overslept();
          return true;
        }
        if (woke >= deadline) return ready();
        core.pacer.woke_late(woke - from);
      }
      if (busy_poll_until(std::min(core.pacer.spin_until(*due), deadline), ready)) return true;
    }
  }
  // Spin-then-block: a wake-up through the kernel costs tens of µs on a VM;
  // data that arrives within the spin is seen without it.
  if (budget.count() > 0 && busy_poll_until(now + std::min(budget, timeout), ready)) return true;
  return block_until(deadline);
}

bool RawSubscriber::block_until(std::chrono::steady_clock::time_point deadline) noexcept {
  SubscriberCore& core = *impl_;
  // In a WaitSet or EventLoop, the state notifies that one: poll.
  if (core.waiter != nullptr) return poll_for_data<std::chrono::steady_clock>(core, deadline);
  if (core.virtual_wait) core.virtual_wait.reset();  // one waitset at a time per state
  if (!core.waitset) {
    DaemonRequest request;
    core.waitset = std::make_unique<iox::popo::WaitSet<1>>();
    if (core.waitset->attachState(core.port, iox::popo::SubscriberState::HAS_DATA).has_error()) {
      core.waitset.reset();
      return poll_for_data<std::chrono::steady_clock>(core, deadline);
    }
  }
  // timedWait() may return before data is there (a notification for data
  // already taken): wait again for the rest of the time.
  for (;;) {
    if (core.port.hasData()) return true;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left.count() <= 0) return false;
    core.waitset->timedWait(iox::units::Duration::fromNanoseconds(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(left).count())));
  }
}

bool RawSubscriber::wait_until(VirtualClock::time_point deadline) noexcept {
  SubscriberCore& core = *impl_;
  if (core.port.hasData()) return true;
  if (core.waiter != nullptr) return poll_for_data<VirtualClock>(core, deadline);  // as in block_until()
  if (!core.virtual_wait) {
    core.waitset.reset();  // iceoryx lets a state notify one waitset
    auto wait = std::make_unique<VirtualWait>();
    if (wait->waitset.attachState(core.port, iox::popo::SubscriberState::HAS_DATA).has_error() ||
        wait->waitset.attachEvent(wait->clock_changed).has_error()) {
      return poll_for_data<VirtualClock>(core, deadline);
    }
    wait->listener = trigger_on_clock_change(wait->clock_changed);
    core.virtual_wait = std::move(wait);
  }
  // Every clock change wakes the wait set through the trigger.
  return wait_on_virtual_time(
      deadline, [&] { return core.port.hasData(); },
      [&](std::chrono::nanoseconds slice) {
        return !core.virtual_wait->waitset
                    .timedWait(iox::units::Duration::fromNanoseconds(static_cast<std::uint64_t>(slice.count())))
                    .empty();
      });
}

const std::string& RawSubscriber::channel() const noexcept { return impl_->channel; }
std::uint64_t RawSubscriber::refused() const noexcept { return impl_->refused; }
std::uint64_t RawSubscriber::lost() const noexcept { return impl_->lost; }

std::vector<PublisherStatus> RawSubscriber::publishers() const {
  std::vector<PublisherStatus> out = impl_->publishers;
  for (PublisherStatus& p : out) {
    // A process that ended without a goodbye crashed or was killed; the
    // kernel knows at once, long before iceoryx's 1.5 s monitoring would.
    if (p.state == PublisherState::alive && !is_alive(p.process)) p.state = PublisherState::gone;
  }
  return out;
}

std::optional<Error> RawSubscriber::type_error() const {
  SubscriberCore& core = *impl_;
  if (!core.mismatch) return std::nullopt;
  // Name the other type from the table, if a port of it declared it there.
  if (!core.mismatch_schema && core.mismatch->fingerprint != 0) {
    core.mismatch_schema = known_channel_type(core.channel, core.mismatch->fingerprint);
  }
  const std::string theirs = core.mismatch->fingerprint == 0 ? std::string("untyped bytes")
                             : core.mismatch_schema      ? "'" + core.mismatch_schema->name + "'"
                                                         : std::string("an unknown type");
  return Error(Errc::type_mismatch,
               "channel '" + core.channel + "' carries " + theirs + " (fingerprint " +
                   fingerprint_hex(core.mismatch->fingerprint) + ") from pid " +
                   std::to_string(core.mismatch->process.pid) + ", but this subscriber reads '" + core.expected_name +
                   "' (fingerprint " + fingerprint_hex(core.expected_fingerprint) +
                   "); its samples are refused: use the same message type on both sides");
}

void set_after_delivery_hook(PublishHook hook) noexcept { g_after_delivery_hook.store(hook, std::memory_order_relaxed); }

}  // namespace detail
}  // namespace statebus
