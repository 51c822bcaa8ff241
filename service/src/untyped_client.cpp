#include "statebus/service/untyped_client.hpp"

#include <utility>

namespace statebus {

Result<UntypedClient> UntypedClient::create(const Node& node, std::string_view service, const Schema& request) {
  auto channels = detail::service_channels(service);
  if (!channels) return tl::make_unexpected(std::move(channels.error()));
  auto requests = UntypedPublisher::create(node, channels->call, &request);
  if (!requests) return tl::make_unexpected(std::move(requests.error()));
  auto desk = detail::CallDesk<BytesReply>::open(node, std::move(*channels), requests->port_id());
  if (!desk) return tl::make_unexpected(std::move(desk.error()));
  return UntypedClient(request, std::move(*requests), std::move(*desk));
}

UntypedClient::UntypedClient(Schema request, UntypedPublisher requests,
                             std::shared_ptr<detail::CallDesk<BytesReply>> desk) noexcept
    : request_(std::move(request)), requests_(std::move(requests)), desk_(std::move(desk)) {}

std::string UntypedClient::response_channel() const { return service() + "/_reply"; }

std::optional<ProcessId> UntypedClient::server() const {
  const auto& seen = desk_->server();
  if (!seen) return std::nullopt;
  return seen->id.process;
}

CallError UntypedClient::size_error(std::size_t size) const {
  return CallError(CallErrc::type_mismatch, "a request of " + std::to_string(size) + " bytes for service '" +
                                                service() + "', whose request type " + request_.name + " has " +
                                                std::to_string(request_.size));
}

}  // namespace statebus
