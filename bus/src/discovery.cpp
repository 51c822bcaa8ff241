#include "statebus/bus/discovery.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <memory>
#include <thread>

#include "iceoryx_posh/popo/subscriber.hpp"
#include "iceoryx_posh/popo/user_trigger.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/roudi/introspection_types.hpp"
#include "iceoryx_posh/runtime/service_discovery.hpp"
#include "ports.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/internal/channel_types.hpp"
#include "statebus/internal/paths.hpp"

namespace statebus {
namespace {

using Clock = std::chrono::steady_clock;

// iceoryx's three strings back to a channel name; nothing for ports that are
// not statebus channels (iceoryx's own).
std::optional<std::string> channel_of(const std::string& service, const std::string& instance,
                                      const std::string& event) {
  std::string name = service;
  if (instance != ".") name += "/" + instance;
  if (event != ".") name += "/" + event;
  if (instance == "." && event != ".") return std::nullopt;
  if (!validate_channel_name(name)) return std::nullopt;
  return name;
}

std::optional<std::string> channel_of(const iox::capro::ServiceDescription& service) {
  return channel_of(service.getServiceIDString().c_str(), service.getInstanceIDString().c_str(),
                    service.getEventIDString().c_str());
}

std::string node_of(const iox::RuntimeName_t& runtime) {
  const std::string name = runtime.c_str();
  return name.rfind("sb.", 0) == 0 ? name.substr(3) : name;
}

// Waits for data on an iceoryx subscriber until `deadline`, polling: used
// once per CLI call, where a WaitSet per port would cost more than it saves.
template <class Port>
bool wait_for_data(Port& port, Clock::time_point deadline) {
  while (!port.hasData()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

bool channel_offered(const Node& /*node*/, std::string_view channel) {
  if (!validate_channel_name(channel)) return false;
  const auto service = detail::to_service_description(channel);
  bool found = false;
  iox::runtime::ServiceDiscovery discovery;
  discovery.findService(service.getServiceIDString(), service.getInstanceIDString(), service.getEventIDString(),
                        [&](const iox::capro::ServiceDescription&) { found = true; },
                        iox::popo::MessagingPattern::PUB_SUB);
  return found;
}

Result<Schema> fetch_schema(const Node& /*node*/, std::string_view channel, std::chrono::milliseconds timeout) {
  if (auto valid = validate_channel_name(channel); !valid) return tl::make_unexpected(valid.error());
  // The bus's table of channel types; polled, since a port may be on its way.
  const auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    auto type = detail::channel_type(channel);
    if (!type) return tl::make_unexpected(type.error());
    if (*type) return std::move(**type);
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  return fail(Errc::timeout, "no port on channel '" + std::string(channel) + "' declares its type (none runs, or " +
                                 "they send untyped bytes); `statebus ls` lists the channels");
}

std::optional<Schema> find_schema(const Node& /*node*/, std::string_view channel, std::uint64_t fingerprint) {
  if (!validate_channel_name(channel)) return std::nullopt;
  return detail::known_channel_type(channel, fingerprint);
}

Result<std::vector<ChannelInfo>> list_channels(const Node& /*node*/, std::chrono::milliseconds schema_timeout) {
  std::map<std::string, ChannelInfo> channels;
  detail::DaemonRequest request;
  iox::runtime::ServiceDiscovery discovery;
  discovery.findService(iox::cxx::nullopt, iox::cxx::nullopt, iox::cxx::nullopt,
                        [&](const iox::capro::ServiceDescription& service) {
                          if (auto name = channel_of(service)) channels[*name].name = *name;
                        },
                        iox::popo::MessagingPattern::PUB_SUB);

  // Port counts come from the daemon's port introspection (history 1: the
  // latest list arrives at once; the daemon refreshes it about once a second).
  iox::popo::SubscriberOptions options;
  options.historyRequest = 1;
  options.queueCapacity = 1;
  iox::popo::Subscriber<iox::roudi::PortIntrospectionFieldTopic> ports(iox::roudi::IntrospectionPortService, options);
  // The first list arrives as history and may be up to a second old: wait
  // for the next one, which includes every port that exists now.
  bool fresh = false;
  if (wait_for_data(ports, Clock::now() + std::chrono::milliseconds(1500))) {
    ports.take().and_then([](const auto&) {});
    fresh = wait_for_data(ports, Clock::now() + std::chrono::milliseconds(1500));
  }
  if (fresh) {
    ports.take().and_then([&](const auto& sample) {
      auto note = [&](const iox::roudi::PortData& port, bool publisher) {
        auto name = channel_of(port.m_caproServiceID.c_str(), port.m_caproInstanceID.c_str(),
                               port.m_caproEventMethodID.c_str());
        if (!name) return;
        ChannelInfo& info = channels[*name];
        info.name = *name;
        (publisher ? info.publishers : info.subscribers) += 1;
        const std::string owner = node_of(port.m_name);
        if (std::find(info.nodes.begin(), info.nodes.end(), owner) == info.nodes.end()) info.nodes.push_back(owner);
      };
      for (const auto& port : sample->m_publisherList) note(port, true);
      for (const auto& port : sample->m_subscriberList) note(port, false);
    });
  }

  std::vector<ChannelInfo> out;
  out.reserve(channels.size());
  for (auto& [name, info] : channels) out.push_back(std::move(info));
  if (schema_timeout.count() > 0) {
    for (ChannelInfo& info : out) {
      if (auto type = detail::channel_type(info.name); type && *type) info.schema = std::move(**type);
    }
  }
  return out;
}

struct ChannelWatch::Impl {
  iox::runtime::ServiceDiscovery discovery;
  iox::popo::WaitSet<2> waitset;
  iox::popo::UserTrigger woken;
  std::set<std::string> known;

  std::vector<std::string> scan() {
    std::vector<std::string> fresh;
    discovery.findService(iox::cxx::nullopt, iox::cxx::nullopt, iox::cxx::nullopt,
                          [&](const iox::capro::ServiceDescription& service) {
                            auto name = channel_of(service);
                            if (name && known.insert(*name).second) fresh.push_back(std::move(*name));
                          },
                          iox::popo::MessagingPattern::PUB_SUB);
    std::sort(fresh.begin(), fresh.end());
    return fresh;
  }
};

Result<ChannelWatch> ChannelWatch::create(const Node& /*node*/) {
  detail::DaemonRequest request;
  auto impl = std::make_unique<Impl>();
  if (impl->waitset.attachEvent(impl->discovery, iox::runtime::ServiceDiscoveryEvent::SERVICE_REGISTRY_CHANGED)
          .has_error() ||
      impl->waitset.attachEvent(impl->woken).has_error()) {
    return fail(Errc::out_of_resources, "cannot wait for the daemon's channel announcements (no condition variable "
                                        "left in the daemon)");
  }
  return ChannelWatch(std::move(impl));
}

ChannelWatch::ChannelWatch(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ChannelWatch::ChannelWatch(ChannelWatch&&) noexcept = default;
ChannelWatch& ChannelWatch::operator=(ChannelWatch&&) noexcept = default;
ChannelWatch::~ChannelWatch() {
  if (impl_ && detail::bus_lost()) {
    detail::keep_for_good(std::move(impl_));  // the old bus's locks may be held: leave it
    return;
  }
  if (impl_) {
    impl_->waitset.detachEvent(impl_->discovery, iox::runtime::ServiceDiscoveryEvent::SERVICE_REGISTRY_CHANGED);
    impl_->waitset.detachEvent(impl_->woken);
  }
}

std::vector<std::string> ChannelWatch::next(std::chrono::nanoseconds timeout) {
  auto fresh = impl_->scan();
  if (!fresh.empty() || timeout.count() <= 0) return fresh;
  // timedWait may return early (seen with iceoryx 2.0): the caller loops anyway.
  impl_->waitset.timedWait(iox::units::Duration::fromNanoseconds(static_cast<std::uint64_t>(timeout.count())));
  return impl_->scan();
}

void ChannelWatch::wake() noexcept { impl_->woken.trigger(); }

}  // namespace statebus
