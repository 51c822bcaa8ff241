// The MqttBridge handle: start() puts the bridge's parts together (bridge_impl.hpp),
// the rest reads their state. The contract is bridge/README.md.
#include <unistd.h>

#include <string>
#include <thread>
#include <utility>

#include "bridge_impl.hpp"
#include "topics.hpp"

namespace statebus {
namespace {

std::string default_client_id() {
  char host[64] = "host";
  ::gethostname(host, sizeof host - 1);
  std::string id = std::string("statebus-") + host + "-" + std::to_string(::getpid());
  return id;
}

}  // namespace

Result<MqttBridge> MqttBridge::start(const Node& node, MqttOptions options) {
  if (auto checked = check_options(options); !checked) return tl::make_unexpected(checked.error());
  auto impl = std::make_unique<Impl>();
  impl->node = node;
  const auto broker = bridge_detail::parse_broker_url(options.broker);
  if (options.client_id.empty()) options.client_id = default_client_id();
  impl->out_routes = *bridge_detail::parse_routes(options.out, "--out");
  impl->in_routes = *bridge_detail::parse_routes(options.in, "--in");
  impl->state_routes = *bridge_detail::parse_routes(options.state, "--state");
  impl->mirror_routes = *bridge_detail::parse_routes(options.mirror, "--mirror");
  for (const std::string& text : options.settable) impl->settable.push_back(*ChannelPattern::parse(text));
  impl->options = std::move(options);
  const MqttOptions& o = impl->options;
  impl->discovery = {o.homeassistant_prefix, o.prefix, o.client_id};
  // The target: the broker as written (scheme, host, port) and the prefix.
  auto registry = bridge_detail::BridgeRegistry::join(
      std::string(broker->tls ? "mqtts://" : "mqtt://") + broker->host + ":" + std::to_string(broker->port) + "\n" +
          o.prefix,
      o.client_id);
  if (!registry) return tl::make_unexpected(registry.error());
  impl->registry = std::move(*registry);
  if (!impl->out_routes.empty()) {
    auto waitset = WaitSet::create(node);
    if (!waitset) return tl::make_unexpected(waitset.error());
    impl->waitset = std::move(*waitset);
    auto watch = ChannelWatch::create(node);
    if (!watch) return tl::make_unexpected(watch.error());
    impl->watch = std::move(*watch);
  }
  bridge_detail::LinkSettings settings;
  settings.broker = *broker;
  settings.ca_file = o.ca_file;
  settings.cert_file = o.cert_file;
  settings.key_file = o.key_file;
  settings.username = o.username;
  settings.password = o.password;
  settings.client_id = o.client_id;
  settings.keepalive_seconds = o.keepalive_seconds;
  settings.will_topic = bridge_detail::status_topic(o.prefix, o.client_id);
  settings.will_payload = "offline";
  settings.max_in_flight = o.max_in_flight;
  settings.keep_trying = o.keep_trying;
  Impl* self = impl.get();
  bridge_detail::LinkHandlers handlers;
  handlers.message = [self](std::string_view topic, std::string_view payload, bool) {
    self->on_message(topic, payload);
  };
  handlers.connected = [self] { self->on_connected(); };
  handlers.disconnected = [self](const std::string& why, std::chrono::seconds next_try) {
    self->on_disconnected(why, next_try);
  };
  handlers.gave_up = [self](const std::string& why) { self->on_gave_up(why); };
  auto link = bridge_detail::MqttLink::start(settings, std::move(handlers));
  if (!link) return tl::make_unexpected(link.error());
  impl->link = std::move(*link);
  impl->link->connect();
  impl->bus_thread = std::thread([self] { self->run_bus_thread(); });
  return MqttBridge(std::move(impl));
}

MqttBridge::MqttBridge(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
MqttBridge::MqttBridge(MqttBridge&&) noexcept = default;
MqttBridge& MqttBridge::operator=(MqttBridge&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
MqttBridge::~MqttBridge() { stop(); }

void MqttBridge::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->changed.notify_all();
  if (impl_->bus_thread.joinable()) impl_->bus_thread.join();
  impl_->link->stop("offline");
  impl_->registry.reset();  // its claims go to the bus's other bridges at their next look
}

Result<void> MqttBridge::bus_health() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->bus_lost) return tl::make_unexpected(*impl_->bus_lost);
  return {};
}

Result<void> MqttBridge::link_health() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->link_lost) return tl::make_unexpected(*impl_->link_lost);
  return {};
}

MqttBridgeStats MqttBridge::stats() const {
  std::lock_guard lock(impl_->mutex);
  MqttBridgeStats copy = impl_->stats;
  copy.connected = impl_->link->connected();
  return copy;
}

const std::string& MqttBridge::client_id() const noexcept { return impl_->options.client_id; }

bool MqttBridge::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->stats.connects > 0 && impl_->link->connected(); });
}

bool MqttBridge::wait_for(const std::function<bool(const MqttBridgeStats&)>& done,
                          std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] {
    MqttBridgeStats now = impl_->stats;
    now.connected = impl_->link->connected();
    return done(now);
  });
}

bool MqttBridge::wait_ready(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->ready; });
}

}  // namespace statebus
