// Publishers: create, loan, stamp and deliver, say goodbye; the loans they
// hand out and their orphaned ports (bus/README.md: "Ports").
#include <algorithm>

#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "ports.hpp"
#include "publish_hook.hpp"
#include "real_time_waits.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/channel_types.hpp"
#include "statebus/internal/lockstep.hpp"

namespace statebus::detail {
namespace {

std::atomic<PublishHook> g_after_delivery_hook{nullptr};

std::string size_error(std::string_view channel, std::uint32_t size, std::uint32_t max_payload) {
  return "a payload of " + std::to_string(size) + " bytes on channel '" + std::string(channel) +
         "' does not fit the daemon's largest memory pool (" + std::to_string(max_payload) +
         " bytes of payload); send less, or start the daemon with a larger pool";
}

SampleHeader* header_of(void* payload) noexcept {
  return static_cast<SampleHeader*>(iox::mepoo::ChunkHeader::fromUserPayload(payload)->userHeader());
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

void release_loan(PublisherCore* core, void* payload) noexcept {
  core->port.release(payload);
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

Result<RawPublisher> RawPublisher::create(const Node& node, std::string_view channel, std::uint32_t payload_size,
                                          std::uint32_t payload_align, const Schema* schema,
                                          const PublisherOptions& options, bool declare) {
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
  if (schema != nullptr && declare) {
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

SampleHeader& loaned_header(void* payload) noexcept { return *header_of(payload); }

bool RawPublisher::has_subscribers() const noexcept { return impl_->port.hasSubscribers(); }

Waited RawPublisher::wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept {
  return poll_until([this] { return impl_->port.hasSubscribers(); }, timeout);
}

const std::string& RawPublisher::channel() const noexcept { return impl_->channel; }
std::uint32_t RawPublisher::max_payload() const noexcept { return impl_->max_payload; }
std::uint64_t RawPublisher::published() const noexcept { return impl_->sequence; }
std::uint64_t RawPublisher::port_id() const noexcept { return impl_->port_id; }
void RawPublisher::skip(std::uint64_t n) noexcept { impl_->sequence += n; }

void set_after_delivery_hook(PublishHook hook) noexcept { g_after_delivery_hook.store(hook, std::memory_order_relaxed); }

}  // namespace statebus::detail
