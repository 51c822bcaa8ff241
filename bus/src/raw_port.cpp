#include <time.h>
#include <unistd.h>

#include <thread>

#include "iceoryx.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/bus/names.hpp"

namespace statebus::detail {
namespace {

constexpr std::uint32_t kMaxHistory = 16;     // iceoryx MAX_PUBLISHER_HISTORY
constexpr std::uint32_t kMaxQueueDepth = 256;  // iceoryx cuts larger queues silently

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

iox::popo::PublisherOptions to_iceoryx(const PublisherOptions& options) {
  iox::popo::PublisherOptions out;
  out.historyCapacity = options.history;
  return out;
}

iox::popo::SubscriberOptions to_iceoryx(const SubscriberOptions& options) {
  iox::popo::SubscriberOptions out;
  out.queueCapacity = options.queue_depth;
  out.historyRequest = options.history;
  return out;
}

std::string size_error(std::string_view channel, std::uint32_t size, std::uint32_t max_payload) {
  return "a payload of " + std::to_string(size) + " bytes on channel '" + std::string(channel) +
         "' does not fit the daemon's largest memory pool (" + std::to_string(max_payload) +
         " bytes of payload); send less, or start the daemon with a larger pool";
}

}  // namespace

struct PublisherCore {
  PublisherCore(const iox::capro::ServiceDescription& service, const iox::popo::PublisherOptions& options)
      : port(service, options) {}
  iox::popo::UntypedPublisher port;
  std::string channel;
  std::uint32_t max_chunk = 0;
  std::uint32_t max_payload = 0;
  std::uint32_t fixed_size = 0;  // size checked at create(); 0 = check at each loan
  std::uint32_t fixed_align = 0;
  std::uint64_t sequence = 0;
  std::uint64_t port_id = 0;
  std::int32_t pid = 0;
};

struct SubscriberCore {
  SubscriberCore(const iox::capro::ServiceDescription& service, const iox::popo::SubscriberOptions& options)
      : port(service, options) {}
  iox::popo::UntypedSubscriber port;
  // Declared after the port: destroyed first, detaching from it.
  std::unique_ptr<iox::popo::WaitSet<1>> waitset;
  std::string channel;
  std::uint64_t refused = 0;
};

void release_loan(PublisherCore* core, void* payload) noexcept { core->port.release(payload); }
void release_sample(SubscriberCore* core, const void* payload) noexcept { core->port.release(payload); }

// ---- publisher -------------------------------------------------------------

Result<RawPublisher> RawPublisher::create(const Node& node, std::string_view channel, std::uint32_t payload_size,
                                          std::uint32_t payload_align, const PublisherOptions& options) {
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
  auto core = std::make_unique<PublisherCore>(to_service_description(channel), to_iceoryx(options));
  core->channel = std::string(channel);
  core->max_chunk = node.max_chunk();
  core->max_payload = node.max_payload();
  core->fixed_size = payload_size;
  core->fixed_align = payload_align;
  core->port_id = static_cast<std::uint64_t>(core->port.getUid());
  core->pid = static_cast<std::int32_t>(::getpid());
  return RawPublisher(std::move(core));
}

RawPublisher::RawPublisher(std::unique_ptr<PublisherCore> impl) noexcept : impl_(std::move(impl)) {}
RawPublisher::RawPublisher(RawPublisher&&) noexcept = default;
RawPublisher& RawPublisher::operator=(RawPublisher&&) noexcept = default;
RawPublisher::~RawPublisher() = default;

void* RawPublisher::loan(std::uint32_t size, std::uint32_t align) noexcept {
  PublisherCore& core = *impl_;
  // iceoryx aborts the process on a loan larger than its largest pool:
  // check here unless create() already checked this very size.
  if (size != core.fixed_size || align != core.fixed_align) {
    const auto chunk = required_chunk_size(size, align);
    if (!chunk || *chunk > core.max_chunk) return nullptr;
  }
  auto loaned = core.port.loan(size, align, sizeof(SampleHeader), alignof(SampleHeader));
  if (loaned.has_error()) return nullptr;
  return loaned.value();
}

void RawPublisher::publish(void* payload) noexcept {
  PublisherCore& core = *impl_;
  auto* chunk = iox::mepoo::ChunkHeader::fromUserPayload(payload);
  auto* header = new (chunk->userHeader()) SampleHeader();
  header->sequence = ++core.sequence;
  header->publisher_port = core.port_id;
  header->real_time_ns = monotonic_ns();
  header->publisher_pid = core.pid;
  header->payload_size = chunk->userPayloadSize();
  core.port.publish(payload);
}

bool RawPublisher::has_subscribers() const noexcept { return impl_->port.hasSubscribers(); }

bool RawPublisher::wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept {
  // iceoryx 2.0 has no event for "a subscriber connected": poll with a short
  // back-off. Used at start-up, never on a hot path.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(100);
  while (!impl_->port.hasSubscribers()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(5000));
  }
  return true;
}

const std::string& RawPublisher::channel() const noexcept { return impl_->channel; }
std::uint32_t RawPublisher::max_payload() const noexcept { return impl_->max_payload; }

// ---- subscriber ------------------------------------------------------------

Result<RawSubscriber> RawSubscriber::create(const Node& /*node*/, std::string_view channel,
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
  auto core = std::make_unique<SubscriberCore>(to_service_description(channel), to_iceoryx(options));
  core->channel = std::string(channel);
  return RawSubscriber(std::move(core));
}

RawSubscriber::RawSubscriber(std::unique_ptr<SubscriberCore> impl) noexcept : impl_(std::move(impl)) {}
RawSubscriber::RawSubscriber(RawSubscriber&&) noexcept = default;
RawSubscriber& RawSubscriber::operator=(RawSubscriber&&) noexcept = default;
RawSubscriber::~RawSubscriber() = default;

RawSample RawSubscriber::take() noexcept {
  SubscriberCore& core = *impl_;
  for (;;) {
    auto taken = core.port.take();
    if (taken.has_error()) return {};
    const void* payload = taken.value();
    const auto* chunk = iox::mepoo::ChunkHeader::fromUserPayload(payload);
    // A chunk without statebus's header (a foreign iceoryx publisher) is
    // never handed out as a statebus sample.
    if (chunk->userHeaderSize() != sizeof(SampleHeader)) {
      ++core.refused;
      core.port.release(payload);
      continue;
    }
    return {static_cast<const SampleHeader*>(chunk->userHeader()), payload};
  }
}

bool RawSubscriber::has_data() const noexcept { return impl_->port.hasData(); }

bool RawSubscriber::wait(std::chrono::nanoseconds timeout) noexcept {
  SubscriberCore& core = *impl_;
  if (core.port.hasData()) return true;
  if (!core.waitset) {
    core.waitset = std::make_unique<iox::popo::WaitSet<1>>();
    if (core.waitset->attachState(core.port, iox::popo::SubscriberState::HAS_DATA).has_error()) {
      core.waitset.reset();
      return false;
    }
  }
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(timeout.count(), 0));
  core.waitset->timedWait(iox::units::Duration::fromNanoseconds(ns));
  return core.port.hasData();
}

const std::string& RawSubscriber::channel() const noexcept { return impl_->channel; }
std::uint64_t RawSubscriber::refused() const noexcept { return impl_->refused; }
void RawSubscriber::count_refused() noexcept { ++impl_->refused; }

}  // namespace statebus::detail
