#pragma once
/// What a service's server and clients share on the bus: its channels'
/// names, the message of its `_refused` channel, the server's claim on the
/// service. Internal: use Server and Client (service/README.md).

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/describe.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/process.hpp"
#include "statebus/base/schema.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/publisher_status.hpp"
#include "statebus/service/call_error.hpp"

namespace statebus::detail {

/// What a message on `S/_refused` says.
enum class ServiceNotice : std::uint32_t {
  announce = 0,  ///< the server is up (kept as the channel's history for clients that come later)
  refused = 1,   ///< the handler refused call `call` of client `client`
  failed = 2,    ///< the handler threw while answering it
};

/// The message of a service's `S/_refused` channel, from its server to
/// every client (each keeps what is addressed to it).
struct CallRefusal {
  std::uint64_t client = 0;  ///< the client's request port (SampleHeader::publisher_port); 0 for an announce
  std::uint32_t call = 0;    ///< the refused call's id (low 32 bits of its sequence number)
  std::uint32_t notice = 0;  ///< a ServiceNotice
  /// An announce: the fingerprint of the server's response type (its name
  /// is the reason), so a client expecting another learns it at its call.
  std::uint64_t response = 0;
  /// An announce: the server's PID namespace (0: unknown); its pid means
  /// something only to clients in the same one.
  std::uint64_t pid_namespace = 0;
  char reason[224] = {};  ///< NUL-terminated, cut to fit

  void set_reason(std::string_view text) noexcept {
    const std::size_t n = std::min(text.size(), sizeof reason - 1);
    std::memcpy(reason, text.data(), n);
    reason[n] = '\0';
  }
};
STATEBUS_MESSAGE(CallRefusal, "statebus/CallRefusal", client, call, notice, response, pid_namespace, reason);

/// The largest response a reply channel keeps as its history (one reply),
/// for a recorder that connects after the server answered (service/README.md).
inline constexpr std::size_t kKeptReplyLimit = 1024;

/// The channels of service `S`: `S/_call`, `S/_reply/<client port>`, `S/_refused`.
struct ServiceChannels {
  std::string service;
  std::string call;
  std::string refused;
  [[nodiscard]] std::string reply(std::uint64_t client_port) const {
    return service + "/_reply/" + std::to_string(client_port);
  }
};

/// The channels of `service`, or Errc::invalid_argument if the name (or a
/// channel made from it) is not a valid channel name, or has a part that
/// starts with '_' (those are the service's own).
Result<ServiceChannels> service_channels(std::string_view service);

/// The server's claim on its service: an exclusive lock in the bus's run
/// directory that the kernel drops when the server's process dies, and its
/// response type declared in the table of channel types under `S/_reply`
/// (its reply channels, one per client, are not declared one by one).
class ServiceClaim {
 public:
  /// Claims `service` for this process. Fails with Errc::already_running
  /// naming the process that serves it, type_mismatch when the service
  /// answers with another type (a live server, or a recorder reading it),
  /// or not_permitted / system_error when the lock file cannot be made.
  static Result<ServiceClaim> take(std::string_view service, const Schema& response);
  ServiceClaim(ServiceClaim&&) noexcept;
  ServiceClaim& operator=(ServiceClaim&&) noexcept;
  ~ServiceClaim();

 private:
  struct Impl;
  explicit ServiceClaim(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// "pid 1234 (statebus-heating)": a process for messages.
std::string describe_process(pid_t pid);

/// Which server a call went to: its `S/_refused` publisher and process.
struct ServerId {
  std::uint64_t port = 0;
  ProcessId process;
  std::uint64_t pid_namespace = 0;  ///< 0: unknown
};

/// True if `server`'s pid means a process of this PID namespace: its
/// namespace is known and this process's. Only then may its pid be judged.
bool same_pid_namespace(const ServerId& server);
/// A server for messages: describe_process() of its pid in this PID
/// namespace; else "pid 2 in another PID namespace" (or "of a PID
/// namespace not known here"): its pid names another process here, or
/// none, and is not looked up.
std::string describe_server(const ServerId& server);

/// A server as its announce on `S/_refused` named it.
struct ServerSeen {
  ServerId id;
  std::uint64_t response = 0;  ///< its response type's fingerprint
  std::string response_name;   ///< and name
  std::int64_t created_ns = 0;  ///< when its announcing port was made (CLOCK_MONOTONIC): the newer wins
};

/// The CallError of a refusal addressed to a client.
CallError refusal_error(const std::string& service, const CallRefusal& refusal);
/// Why a call found no server (`last`: the one that was there before, if any).
std::string no_server_message(const std::string& service, const ServerSeen* last);
/// The server answers with `server.response_name`, the client expects `expected`.
std::string type_mismatch_message(const std::string& service, const ServerSeen& server, const Schema& expected);
/// server_gone if `server` stopped (its goodbye came) or its process is
/// proven dead, as `notices` (the client's view of `S/_refused`) sees it. A
/// server in another PID namespace than this process (or where either is
/// unknown) is never judged dead by its pid: only its goodbye ends a call.
std::optional<CallError> server_gone(const std::string& service, const ServerId& server,
                                     const std::vector<PublisherStatus>& notices);
/// A call's timed_out message: the server is alive (stopped or busy); one
/// in another PID namespace may be dead too (no death there is seen).
std::string timed_out_message(const std::string& service, const std::string& timeout,
                              const std::optional<ServerSeen>& server);
/// "1.5 s", "20 ms": a timeout for messages.
std::string duration_text(std::chrono::nanoseconds span);

}  // namespace statebus::detail
