// Services from Python: calls to an object that lives in another process,
// by field name through the service's declared request and response types.

#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <vector>

#include "bindings.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/clock/virtual_timeout.hpp"
#include "statebus/service/untyped_client.hpp"

namespace statebus::python {
namespace {

struct ClientPy {
  NodePtr node;
  std::optional<UntypedClient> client;
  std::map<std::uint64_t, Schema> responses;  // fingerprint → the response type, as the server declared it

  py::object call(const py::object& request, const py::object& timeout, const py::object& virtual_timeout_s,
                  const py::kwargs& fields) {
    const Schema& schema = client->request();
    std::vector<std::byte> bytes(schema.size);
    value_from_python(schema, request, bytes.data());
    if (!fields.empty()) value_from_python(schema, fields, bytes.data());
    if (!timeout.is_none() && !virtual_timeout_s.is_none()) {
      raise(Errc::invalid_argument,
            "give call() a timeout (real time) or a virtual_timeout (the bus's clock), not both");
    }
    CallResult<BytesReply> reply = [&] {
      if (!virtual_timeout_s.is_none()) {
        const auto span = virtual_timeout(duration_arg(virtual_timeout_s, "virtual_timeout"));
        py::gil_scoped_release unlocked;
        return client->call(bytes.data(), bytes.size(), span);
      }
      const auto span =
          timeout.is_none() ? std::chrono::nanoseconds(std::chrono::seconds(1)) : duration_arg(timeout, "timeout");
      py::gil_scoped_release unlocked;
      return client->call(bytes.data(), bytes.size(), span);
    }();
    if (!reply) raise_call(reply.error());
    auto known = responses.find(reply->fingerprint);
    if (known == responses.end()) {
      auto found = find_schema(*node, client->response_channel(), reply->fingerprint);
      if (!found || found->size != reply->data.size()) {
        raise(Errc::type_mismatch, "the reply's type (fingerprint " + fingerprint_hex(reply->fingerprint) +
                                       ") is not declared on " + client->response_channel());
      }
      known = responses.emplace(reply->fingerprint, std::move(*found)).first;
    }
    return value_to_python(known->second, reply->data.data());
  }
};

}  // namespace

void bind_services(py::module_& m) {
  py::class_<ClientPy>(m, "Client", "Calls a service: a method of an object that lives in another process.")
      .def("call", &ClientPy::call, py::arg("request") = py::none(), py::kw_only(), py::arg("timeout") = py::none(),
           py::arg("virtual_timeout") = py::none(),
           "Sends the request (a dict and/or fields as keywords; fields left out are zero) and returns the response "
           "as a dict, waiting up to `timeout` seconds of real time (1 s) or `virtual_timeout` of the bus's clock. "
           "Raises statebus.CallError: .code no_server, server_gone, timed_out, refused (.message: the server's "
           "reason), type_mismatch, out_of_resources, bus_gone.")
      .def_property_readonly("service", [](const ClientPy& self) { return self.client->service(); })
      .def_property_readonly("request_type", [](const ClientPy& self) { return Message{self.client->request()}; })
      .def_property_readonly("server_pid", [](const ClientPy& self) -> std::optional<int> {
        auto server = self.client->server();
        if (!server) return std::nullopt;
        return server->pid;
      });

  py::object node = m.attr("Node");
  node.attr("client") = py::cpp_function(
      [](NodePtr self, const std::string& service, py::object timeout) {
        const auto wait =
            timeout.is_none() ? std::chrono::nanoseconds(std::chrono::seconds(1)) : duration_arg(timeout, "timeout");
        Result<Schema> request = [&] {
          py::gil_scoped_release unlocked;
          return fetch_schema(*self, service + "/_call", std::chrono::duration_cast<std::chrono::milliseconds>(wait));
        }();
        if (!request && request.error().code() == Errc::timeout) {
          raise(Errc::not_found, "no service '" + service +
                                     "' declared its request type: is it served? (`statebus ls` lists the services)");
        }
        const Schema schema = unwrap(std::move(request));
        Result<UntypedClient> client = [&] {
          py::gil_scoped_release unlocked;
          return UntypedClient::create(*self, service, schema);
        }();
        auto out = std::make_unique<ClientPy>();
        out->client.emplace(unwrap(std::move(client)));
        out->node = std::move(self);
        return out;
      },
      py::name("client"), py::is_method(node), py::arg("service"), py::kw_only(), py::arg("timeout") = py::none(),
      "A client of `service` (`home/heating/plan`), typed by the request type its server declared; waits up to "
      "`timeout` (1 s) for one, else statebus.Error(not_found).");
}

}  // namespace statebus::python
