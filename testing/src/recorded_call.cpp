#include "statebus/testing/recorded_call.hpp"

#include <map>
#include <set>
#include <utility>

#include "statebus/service/detail/service_wire.hpp"

namespace statebus::testkit {
namespace {

using CallKey = std::pair<std::uint64_t, std::uint32_t>;  // client port, call id

}  // namespace

std::vector<RecordedCallBytes> calls(const Recorder& recorder, std::string_view service) {
  const std::string name(service);
  std::vector<RecordedCallBytes> out;
  std::map<CallKey, std::size_t> by_key;  // a later request of the same key (2^32 calls on) replaces the earlier
  std::set<std::uint64_t> clients;
  std::vector<CallKey> cancels;
  for (RecordedSample& request : recorder.samples(name + "/_call")) {
    if (request.header.reply_to != 0) {  // a cancel of call reply_to (Client's dropped PendingCall)
      cancels.emplace_back(request.header.publisher_port, request.header.reply_to);
      continue;
    }
    RecordedCallBytes call;
    call.id = static_cast<std::uint32_t>(request.header.sequence);
    call.client_port = request.header.publisher_port;
    call.request = Recorded<std::string>{request.header, std::move(request.payload)};
    by_key[{call.client_port, call.id}] = out.size();
    clients.insert(call.client_port);
    out.push_back(std::move(call));
  }
  for (const CallKey& cancel : cancels) {
    if (const auto found = by_key.find(cancel); found != by_key.end()) out[found->second].cancelled = true;
  }
  // Replies and refusals are looked at after the requests were copied: one
  // whose request came after that copy is left for a later look.
  for (const std::uint64_t client : clients) {
    for (RecordedSample& reply : recorder.samples(name + "/_reply/" + std::to_string(client))) {
      const auto found = by_key.find({client, reply.header.reply_to});
      if (found == by_key.end() || out[found->second].answered()) continue;
      out[found->second].response = Recorded<std::string>{reply.header, std::move(reply.payload)};
    }
  }
  for (const RecordedSample& notice : recorder.samples(name + "/_refused")) {
    if (notice.header.fingerprint != schema_of<statebus::detail::CallRefusal>().fingerprint ||
        notice.payload.size() != sizeof(statebus::detail::CallRefusal)) {
      continue;
    }
    statebus::detail::CallRefusal refusal;
    std::memcpy(&refusal, notice.payload.data(), sizeof refusal);
    const auto kind = static_cast<statebus::detail::ServiceNotice>(refusal.notice);
    if (kind != statebus::detail::ServiceNotice::refused && kind != statebus::detail::ServiceNotice::failed) continue;
    const auto found = by_key.find({refusal.client, refusal.call});
    if (found == by_key.end() || out[found->second].answered()) continue;
    out[found->second].refusal =
        RecordedRefusal{notice.header, kind == statebus::detail::ServiceNotice::failed,
                        std::string(refusal.reason, strnlen(refusal.reason, sizeof refusal.reason))};
  }
  return out;
}

namespace detail {

Error call_type_mismatch(std::string_view service, const char* what, std::uint32_t id, const Schema& expected,
                         std::uint64_t found, std::size_t size) {
  return Error(Errc::type_mismatch,
               "the " + std::string(what) + " of call " + std::to_string(id) + " of service '" + std::string(service) +
                   "' is " +
                   (found == 0 ? std::string("untyped bytes") : "of type fingerprint " + fingerprint_hex(found)) +
                   " (" + std::to_string(size) + " bytes), not " + expected.name + " (fingerprint " +
                   fingerprint_hex(expected.fingerprint) + ", " + std::to_string(expected.size) +
                   " bytes): ask for the service's own types");
}

}  // namespace detail
}  // namespace statebus::testkit
