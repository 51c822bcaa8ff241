// Subscribers: create, take (gaps, goodbyes, refused types), the status of
// the publishers they heard, and their orphaned ports. Their waits:
// subscriber_wait.cpp.
#include <algorithm>

#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "ports.hpp"
#include "real_time_waits.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/channel_types.hpp"

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

constexpr std::uint32_t kMaxQueueDepth = 256;  // iceoryx cuts larger queues silently

}  // namespace

void release_sample(SubscriberCore* core, const void* payload) noexcept {
  core->port.release(payload);
  // Samples that reached an orphan before the daemon handled its unsubscribe
  // would wait in its queue until the last held one dies: drop them now.
  if (core->lending.orphaned) core->port.releaseQueuedData();
  given_back(core);
}

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
  // Its own wait set now, from the daemon this call talks to anyway (OwnWait).
  core->own_wait = std::make_unique<OwnWait>();
  if (core->own_wait->waitset.attachState(core->port, iox::popo::SubscriberState::HAS_DATA).has_error()) {
    core->own_wait.reset();  // its waits poll
  }
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
  core.own_wait.reset();
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

Waited RawSubscriber::wait_connected(std::chrono::nanoseconds timeout) const noexcept {
  return poll_until([this] { return impl_->port.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED; }, timeout);
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
}  // namespace detail
}  // namespace statebus
