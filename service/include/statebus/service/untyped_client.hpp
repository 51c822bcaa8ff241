#pragma once
/// UntypedClient: calls a service whose types are known only as schemas
/// (the `statebus call` tool, bridges), with the same waits and errors as
/// Client<Req, Res>.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/schema.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/service/client.hpp"
#include "statebus/service/detail/call_desk.hpp"

namespace statebus {

/// A response as bytes, with its type's fingerprint: its schema is
/// find_schema(node, client.response_channel(), fingerprint).
struct BytesReply {
  std::uint64_t fingerprint = 0;
  std::vector<std::byte> data;
};

namespace detail {
template <>
struct ReplyCodec<BytesReply> {
  static std::uint64_t fingerprint() noexcept { return 0; }  // whatever the server announced
  static const Schema* schema() noexcept { return nullptr; }
  static bool fits(const BytesSample&) noexcept { return true; }
  static BytesReply decode(BytesSample&& reply) {
    return BytesReply{reply.header().fingerprint, std::vector<std::byte>(reply.data(), reply.data() + reply.size())};
  }
};
}  // namespace detail

/// Thread safety, waits and errors as Client<Req, Res>.
class UntypedClient {
 public:
  /// A client of `service` sending requests of type `request` (the schema
  /// the server declared: fetch_schema(node, "S/_call")). Fails with
  /// Errc::type_mismatch when the service's calls carry another type,
  /// Errc::invalid_argument for a bad name; without a bus, as
  /// Subscriber::create does.
  static Result<UntypedClient> create(const Node& node, std::string_view service, const Schema& request);

  /// Calls with `request` (request().size bytes) and waits up to `timeout`
  /// (real time, or virtual_timeout(…)): as Client::call; a request of
  /// another size fails with type_mismatch before anything is sent.
  template <class Timeout>
  CallResult<BytesReply> call(const void* request, std::size_t size, Timeout timeout) {
    if (size != request_.size) return tl::make_unexpected(size_error(size));
    const detail::CallDeadline deadline = detail::CallDeadline::after(timeout);
    auto id = desk_->send(
        requests_, [&] { return requests_.publish(request, size); }, deadline.left);
    if (!id) return tl::make_unexpected(std::move(id.error()));
    return desk_->finish(*id, deadline.left, deadline.slice, Spin{}, detail::timeout_text(timeout));
  }

  [[nodiscard]] const std::string& service() const noexcept { return desk_->service(); }
  [[nodiscard]] const Schema& request() const noexcept { return request_; }
  /// `S/_reply`: where the server declared its response type (in the
  /// bus's table of channel types; no port uses that name).
  [[nodiscard]] std::string response_channel() const;
  /// The server's process as the last announce named it, if one came.
  [[nodiscard]] std::optional<ProcessId> server() const;

 private:
  UntypedClient(Schema request, UntypedPublisher requests, std::shared_ptr<detail::CallDesk<BytesReply>> desk) noexcept;
  [[nodiscard]] CallError size_error(std::size_t size) const;
  Schema request_;
  UntypedPublisher requests_;
  std::shared_ptr<detail::CallDesk<BytesReply>> desk_;
};

}  // namespace statebus
