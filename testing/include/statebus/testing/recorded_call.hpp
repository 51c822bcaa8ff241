#pragma once
/// The calls of a service as a Recorder captured them: each request with
/// its reply or refusal, who called and who answered, when (virtual and
/// real time) and how long it took.
///
///   auto recorder = Recorder::start(*node, options);        // patterns: "home/heating/boost" or ".../**"
///   // … clients call, the server answers …
///   auto boosts = testkit::calls<Boost, BoostAnswer>(*recorder, "home/heating/boost");
///   ASSERT_TRUE(boosts) << boosts.error().message();
///   for (const auto& call : *boosts)
///     if (call.response) use(call.request.value, call.response->value, call.latency());

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "statebus/base/describe.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/process.hpp"
#include "statebus/bus/sample_header.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/recorder/recorder.hpp"

namespace statebus::testkit {

/// A call's refusal as recorded on `S/_refused`.
struct RecordedRefusal {
  SampleHeader header;          ///< the server's notice: its process, real and virtual time
  bool handler_failed = false;  ///< the handler threw (else it refused the call)
  std::string reason;           ///< the handler's reason, or its exception's text
};

/// One call of a service: `Req` and `Res` are the request and response
/// types, or std::string for their bytes (calls(recorder, service)).
template <class Req, class Res>
struct RecordedCall {
  std::uint32_t id = 0;           ///< low 32 bits of the request's sequence number: the reply's reply_to
  std::uint64_t client_port = 0;  ///< the client's request port; its replies come on `S/_reply/<client_port>`
  Recorded<Req> request;
  std::optional<Recorded<Res>> response;   ///< the reply, if one was recorded
  std::optional<RecordedRefusal> refusal;  ///< or the refusal, if one was recorded
  bool cancelled = false;                  ///< its client dropped it (its cancel was recorded)

  /// A reply or a refusal was recorded.
  [[nodiscard]] bool answered() const noexcept { return response.has_value() || refusal.has_value(); }
  /// The calling process.
  [[nodiscard]] ProcessId caller() const noexcept { return request.header.publisher(); }
  /// The answering process, once answered.
  [[nodiscard]] std::optional<ProcessId> server() const noexcept {
    if (const SampleHeader* a = answer_header()) return a->publisher();
    return std::nullopt;
  }
  /// The bus's virtual time when the request was sent.
  [[nodiscard]] VirtualClock::time_point sent_at() const noexcept { return request.virtual_time(); }
  /// The bus's virtual time when it was answered (reply or refusal).
  [[nodiscard]] std::optional<VirtualClock::time_point> answered_at() const noexcept {
    if (const SampleHeader* a = answer_header()) {
      return VirtualClock::time_point(VirtualClock::duration(a->virtual_time_ns));
    }
    return std::nullopt;
  }
  /// Real (CLOCK_MONOTONIC) time when the request was sent, in ns.
  [[nodiscard]] std::int64_t sent_real_ns() const noexcept { return request.header.real_time_ns; }
  /// Real time when it was answered, in ns.
  [[nodiscard]] std::optional<std::int64_t> answered_real_ns() const noexcept {
    if (const SampleHeader* a = answer_header()) return a->real_time_ns;
    return std::nullopt;
  }
  /// Real time from request to answer.
  [[nodiscard]] std::optional<std::chrono::nanoseconds> latency() const noexcept {
    if (const SampleHeader* a = answer_header()) return std::chrono::nanoseconds(a->real_time_ns - sent_real_ns());
    return std::nullopt;
  }
  /// Virtual time from request to answer (zero on a clock that stood still).
  [[nodiscard]] std::optional<VirtualClock::duration> virtual_latency() const noexcept {
    if (auto at = answered_at()) return *at - sent_at();
    return std::nullopt;
  }

 private:
  [[nodiscard]] const SampleHeader* answer_header() const noexcept {
    if (response) return &response->header;
    if (refusal) return &refusal->header;
    return nullptr;
  }
};

/// A call with its request and response as bytes.
using RecordedCallBytes = RecordedCall<std::string, std::string>;

/// Every call of `service` that `recorder` captured, in the order its
/// requests arrived (per client: the order it sent them), each with the
/// reply or refusal recorded for it (a cancel is no call: it marks the call
/// it cancels `cancelled`). Needs the recorder's patterns to take
/// the service's channels (`S` or `S/**`). A call whose answer was not
/// (yet) recorded has neither. Thread safety: as the recorder's queries
/// (copies, from any thread).
std::vector<RecordedCallBytes> calls(const Recorder& recorder, std::string_view service);

/// Every call of `service` with its request as a Req and its response as a
/// Res. Fails with Errc::type_mismatch, naming both types, when a request
/// or a response recorded is not one (another type, or untyped bytes).
template <class Req, class Res>
Result<std::vector<RecordedCall<Req, Res>>> calls(const Recorder& recorder, std::string_view service);

namespace detail {
/// The type_mismatch of calls<Req, Res>: `what` ("request", "response") of
/// call `id` is fingerprint `found` of `size` bytes, not `expected`.
Error call_type_mismatch(std::string_view service, const char* what, std::uint32_t id, const Schema& expected,
                         std::uint64_t found, std::size_t size);

template <class T>
Result<Recorded<T>> typed(std::string_view service, const char* what, std::uint32_t id,
                          const Recorded<std::string>& bytes) {
  if (bytes.header.fingerprint != schema_of<T>().fingerprint || bytes.value.size() != sizeof(T)) {
    return tl::make_unexpected(
        call_type_mismatch(service, what, id, schema_of<T>(), bytes.header.fingerprint, bytes.value.size()));
  }
  Recorded<T> out{bytes.header, T{}};
  std::memcpy(&out.value, bytes.value.data(), sizeof(T));
  return out;
}
}  // namespace detail

template <class Req, class Res>
Result<std::vector<RecordedCall<Req, Res>>> calls(const Recorder& recorder, std::string_view service) {
  static_assert(std::is_trivially_copyable_v<Req> && is_described_v<Req>, "Req must be a described message");
  static_assert(std::is_trivially_copyable_v<Res> && is_described_v<Res>, "Res must be a described message");
  std::vector<RecordedCall<Req, Res>> out;
  for (RecordedCallBytes& call : calls(recorder, service)) {
    RecordedCall<Req, Res> typed_call;
    typed_call.id = call.id;
    typed_call.client_port = call.client_port;
    auto request = detail::typed<Req>(service, "request", call.id, call.request);
    if (!request) return tl::make_unexpected(std::move(request.error()));
    typed_call.request = std::move(*request);
    if (call.response) {
      auto response = detail::typed<Res>(service, "response", call.id, *call.response);
      if (!response) return tl::make_unexpected(std::move(response.error()));
      typed_call.response = std::move(*response);
    }
    typed_call.refusal = std::move(call.refusal);
    typed_call.cancelled = call.cancelled;
    out.push_back(std::move(typed_call));
  }
  return out;
}

}  // namespace statebus::testkit
