// statebus.connect and statebus.Node: the process's place on the bus.

#include <pybind11/stl.h>

#include <spdlog/spdlog.h>
#include <memory>

#include "bindings.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/log_sink.hpp"

namespace statebus::python {

void bind_node(py::module_& m) {
  py::class_<Node, NodePtr>(m, "Node", "This process's connection to the bus (one per process).")
      .def_property_readonly("name", &Node::name)
      .def_property_readonly("max_payload", &Node::max_payload, "The largest payload a channel carries, in bytes.")
      .def(
          "bus_health", [](const Node& self) { unwrap(self.bus_health()); },
          "Raises statebus.Error (no_daemon, stale_bus) once the bus is gone.")
      .def(
          "log_to_bus", [](const Node& self, const std::string& process) { unwrap(log_to_bus(self, process)); },
          py::arg("process") = "", "Sends this process's log records (statebus.log) to the bus's log.")
      .def(
          "message_of",
          [](const Node& self, const std::string& channel, py::object timeout) {
            const auto wait = timeout.is_none() ? std::chrono::nanoseconds(std::chrono::seconds(1))
                                                : duration_arg(timeout, "timeout");
            Result<Schema> schema = [&] {
              py::gil_scoped_release unlocked;
              return fetch_schema(self, channel, std::chrono::duration_cast<std::chrono::milliseconds>(wait));
            }();
            return Message{unwrap(std::move(schema))};
          },
          py::arg("channel"), py::kw_only(), py::arg("timeout") = py::none(),
          "The type of a channel as its typed ports declared it, waiting up to `timeout` (1 s) of real time.")
      .def("__repr__", [](const Node& self) { return "Node(" + self.name() + ")"; });

  m.def(
      "connect",
      [](const std::string& name, py::object timeout) {
        NodeOptions options;
        if (!timeout.is_none()) {
          options.connect_timeout =
              std::chrono::duration_cast<std::chrono::milliseconds>(duration_arg(timeout, "timeout"));
        }
        Result<Node> node = [&] {
          py::gil_scoped_release unlocked;
          return Node::connect(name, options);
        }();
        return std::make_shared<Node>(unwrap(std::move(node)));
      },
      py::arg("name"), py::kw_only(), py::arg("timeout") = py::none(),
      "Joins the bus as `name` (1–64 of [A-Za-z0-9_-]); statebus.Error(no_daemon) within `timeout` (1 s) without one.");

  m.def(
      "log",
      [](const std::string& level, const std::string& text) {
        const auto parsed = spdlog::level::from_str(level);
        if (parsed == spdlog::level::off && level != "off") {
          raise(Errc::invalid_argument,
                "log level '" + level + "' is not one of trace, debug, info, warning, error, critical");
        }
        spdlog::log(parsed, "{}", text);
      },
      py::arg("level"), py::arg("text"),
      "Logs through the process's default spdlog logger (to the bus after Node.log_to_bus).");
}

}  // namespace statebus::python
