#include "statebus/service/detail/service_wire.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include "statebus/bus/names.hpp"
#include "statebus/internal/channel_types.hpp"
#include "statebus/internal/file_lock.hpp"
#include "statebus/internal/paths.hpp"

namespace statebus::detail {
namespace {

// The longest port number a reply channel's name can end with.
constexpr std::string_view kLongestPort = "18446744073709551615";

}  // namespace

Result<ServiceChannels> service_channels(std::string_view service) {
  if (auto valid = validate_channel_name(service); !valid) {
    return fail(Errc::invalid_argument, "service name: " + valid.error().message());
  }
  if (is_internal_channel(service)) {
    return fail(Errc::invalid_argument, "service name '" + std::string(service) +
                                            "' has a part starting with '_': those are the service's own channels");
  }
  ServiceChannels channels{std::string(service), std::string(service) + "/_call", std::string(service) + "/_refused"};
  const std::string longest = channels.service + "/_reply/" + std::string(kLongestPort);
  if (auto valid = validate_channel_name(longest); !valid) {
    return fail(Errc::invalid_argument, "service name '" + std::string(service) +
                                            "' is too long for its reply channels (" + valid.error().message() +
                                            "): use at most 6 parts and 70 characters after the second");
  }
  return channels;
}

struct ServiceClaim::Impl {
  FileLock lock;
  std::shared_ptr<const TypeClaim> response;
};

ServiceClaim::ServiceClaim(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ServiceClaim::ServiceClaim(ServiceClaim&&) noexcept = default;
ServiceClaim& ServiceClaim::operator=(ServiceClaim&&) noexcept = default;
ServiceClaim::~ServiceClaim() {
  if (impl_) impl_->lock.release(/*remove=*/true);
}

Result<ServiceClaim> ServiceClaim::take(std::string_view service, const Schema& response) {
  const std::string path = service_lock_path(service);
  auto impl = std::make_unique<Impl>();
  pid_t holder = 0;
  int error = 0;
  switch (FileLock::try_acquire(path, impl->lock, holder, error)) {
    case FileLock::Outcome::acquired: {
      auto declared = claim_channel_type(std::string(service) + "/_reply", response, "server");
      if (!declared) return tl::make_unexpected(std::move(declared.error()));
      impl->response = std::move(*declared);
      return ServiceClaim(std::move(impl));
    }
    case FileLock::Outcome::held_by_other:
      return fail(Errc::already_running,
                  "service '" + std::string(service) + "' already has its server: " +
                      (holder != 0 ? describe_process(holder) : std::string("a process that is starting")) +
                      "; a service has one server (stop that one first, or serve another name)");
    case FileLock::Outcome::failed: break;
  }
  return fail(error == EACCES || error == EPERM ? Errc::not_permitted : Errc::system_error,
              "cannot claim service '" + std::string(service) + "': " + lock_failure(path, error));
}

std::string describe_process(pid_t pid) {
  std::string out = "pid " + std::to_string(pid);
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (std::getline(comm, name) && !name.empty()) out += " (" + name + ")";
  return out;
}

CallError refusal_error(const std::string& service, const CallRefusal& refusal) {
  const std::string reason(refusal.reason, strnlen(refusal.reason, sizeof refusal.reason));
  return CallError(CallErrc::refused, "service '" + service + "' refused the call: " + reason);
}

bool same_pid_namespace(const ServerId& server) {
  const auto ours = pid_namespace();
  return server.pid_namespace != 0 && ours && *ours == server.pid_namespace;
}

std::string describe_server(const ServerId& server) {
  if (same_pid_namespace(server)) return describe_process(server.process.pid);
  const bool known = server.pid_namespace != 0 && pid_namespace();
  return "pid " + std::to_string(server.process.pid) +
         (known ? " in another PID namespace" : " of a PID namespace not known here");
}

std::string no_server_message(const std::string& service, const ServerSeen* last) {
  std::string text = "no server of service '" + service + "' answered";
  if (last != nullptr) text += " (its last server, " + describe_server(last->id) + ", is gone)";
  return text + ": start the process that serves it (`statebus ls` lists the services and their servers)";
}

std::string type_mismatch_message(const std::string& service, const ServerSeen& server, const Schema& expected) {
  return "service '" + service + "' answers with " + server.response_name + " (fingerprint " +
         fingerprint_hex(server.response) + "), but this client expects " + expected.name + " (fingerprint " +
         fingerprint_hex(expected.fingerprint) + "): use the server's response type";
}

std::optional<CallError> server_gone(const std::string& service, const ServerId& server,
                                     const std::vector<PublisherStatus>& notices) {
  for (const PublisherStatus& status : notices) {
    if (status.port != server.port) continue;
    if (status.state == PublisherState::alive) return std::nullopt;
    // Judged by its pid: only where that pid means that process.
    if (status.state == PublisherState::gone && !same_pid_namespace(server)) return std::nullopt;
    return CallError(CallErrc::server_gone,
                     "the server of service '" + service + "', " + describe_server(server) +
                         (status.state == PublisherState::stopped ? ", stopped serving" : ", died") +
                         " before answering the call");
  }
  return std::nullopt;  // not heard from through this subscriber yet: taken as there
}

std::string timed_out_message(const std::string& service, const std::string& timeout,
                              const std::optional<ServerSeen>& server) {
  std::string text = "service '" + service + "' did not answer within " + timeout + "; its server";
  if (server && !same_pid_namespace(server->id)) {
    return text + ", " + describe_server(server->id) +
           ", is stopped, busy, slow, or dead (a death there cannot be proven from here: only its clean stop "
           "ends a call early)";
  }
  return text + (server ? ", " + describe_process(server->id.process.pid) + "," : std::string()) +
         " is alive (stopped, busy, or slow)";
}

std::string duration_text(std::chrono::nanoseconds span) {
  using namespace std::chrono;
  char text[32];
  if (span >= seconds(1)) {
    std::snprintf(text, sizeof text, "%g s", duration<double>(span).count());
  } else if (span >= milliseconds(1)) {
    std::snprintf(text, sizeof text, "%g ms", duration<double, std::milli>(span).count());
  } else {
    std::snprintf(text, sizeof text, "%g µs", duration<double, std::micro>(span).count());
  }
  return text;
}

}  // namespace statebus::detail
