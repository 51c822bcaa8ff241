// `statebus call`: calls a service from the shell, its request built from
// FIELD=VALUE pairs or JSON against the schema its server declared.

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/clock/duration.hpp"
#include "statebus/service/untyped_client.hpp"

namespace statebus::cli {
namespace {

using namespace std::chrono_literals;

struct CallArgs {
  std::string service;
  std::vector<std::string> request;  // one JSON object, or FIELD=VALUE pairs
  std::string timeout = "5s";
  bool json = false;
};

// The exit status of a failed call: 2 when the command named no service
// that runs (fix the command), 1 when the server failed or refused.
int report_call(const CallError& error) {
  std::fprintf(stderr, "statebus call: %s (%s)\n", error.message().c_str(),
               std::string(to_string(error.code())).c_str());
  return error.code() == CallErrc::no_server ? kUsageError : 1;
}

int run_call(const CallArgs& args) {
  const auto timeout = parse_duration(args.timeout);
  if (!timeout) return usage_error("call", "--timeout: " + timeout.error().message());
  auto node = connect_cli();
  if (!node) return report("call", node.error());
  auto request_schema = fetch_schema(*node, args.service + "/_call", 1000ms);
  if (!request_schema) {
    if (request_schema.error().code() != Errc::timeout) return report("call", request_schema.error());
    return report("call", Error(Errc::not_found, "no service '" + args.service +
                                                     "' declared its request type: is it served? (`statebus ls` "
                                                     "lists the services)"));
  }
  std::vector<unsigned char> request(request_schema->size);
  if (args.request.size() == 1 && !args.request[0].empty() && args.request[0][0] == '{') {
    if (auto applied = request_schema->apply_json(args.request[0], request.data()); !applied) {
      return usage_error("call", applied.error().message() + "; nothing sent");
    }
  } else {
    for (const std::string& assignment : args.request) {
      const auto equals = assignment.find('=');
      if (equals == std::string::npos || equals == 0) {
        return usage_error("call", "'" + assignment + "' is neither FIELD=VALUE nor a JSON object; nothing sent");
      }
      if (auto assigned =
              request_schema->assign(request.data(), assignment.substr(0, equals), assignment.substr(equals + 1));
          !assigned) {
        return usage_error("call", assigned.error().message() + "; nothing sent");
      }
    }
  }
  auto client = UntypedClient::create(*node, args.service, *request_schema);
  if (!client) return report("call", client.error());
  auto reply = client->call(request.data(), request.size(), *timeout);
  if (!reply) return report_call(reply.error());
  const auto schema = find_schema(*node, client->response_channel(), reply->fingerprint);
  if (!schema || schema->size != reply->data.size()) {
    return report("call",
                  Error(Errc::type_mismatch, "the reply's type (fingerprint " + fingerprint_hex(reply->fingerprint) +
                                                 ") is not declared on " + client->response_channel()));
  }
  const std::string text =
      args.json ? schema->render_json(reply->data.data()) : schema->render_text(reply->data.data());
  std::printf("%s\n", text.c_str());
  return 0;
}

}  // namespace

void add_service_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CallArgs>();
  CLI::App* call = app.add_subcommand("call", "Call a service: print its response, or why there is none");
  call->add_option("SERVICE", args->service, "The service, like home/heating/boost")->required();
  call->add_option("REQUEST", args->request,
                   "The request: FIELD=VALUE pairs (minutes=30) or one JSON object ('{\"minutes\":30}'); fields "
                   "not given are zero");
  call->add_option("--timeout", args->timeout, "How long to wait for the answer, real time (default 5s)");
  call->add_flag("--json", args->json, "Print the response as one JSON object");
  call->callback([args, &exit_code] { exit_code = run_call(*args); });
}

}  // namespace statebus::cli
