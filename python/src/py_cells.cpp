// State cells from Python: named values in shared memory, by field name.

#include <pybind11/stl.h>

#include <exception>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"

namespace statebus::python {
namespace {

// True in a thread while it runs a Cell.update function under a writer lock.
thread_local bool updating = false;

void refuse_inside_update() {
  if (updating) {
    raise(Errc::invalid_argument, "Cell.update's function called a cell's update or store: it runs under the cell's "
                                  "writer lock, so it must only compute the new value and return it");
  }
}

py::object load_value(const UntypedCell& cell) {
  std::vector<std::byte> bytes(cell.size());
  cell.load(bytes.data());
  return value_to_python(cell.schema(), bytes.data());
}

}  // namespace

void bind_cells(py::module_& m) {
  py::class_<UntypedCell>(m, "Cell", "A named value in the bus's shared memory: lock-free reads, crash-safe writes.")
      .def_property_readonly("name", &UntypedCell::name)
      .def_property_readonly("type", [](const UntypedCell& self) { return Message{self.schema()}; })
      .def_property_readonly("version", &UntypedCell::version, "Completed stores since creation (creation is 1).")
      .def("load", &load_value, "The current value as a dict (never torn).")
      .def(
          "store",
          [](const UntypedCell& self, py::object value, py::kwargs fields) {
            // Read-modify-write under the cell's writer lock: the fields given
            // change, the others keep what the last store left.
            refuse_inside_update();
            const std::string first = value.is_none() ? std::string() : value_json(self.schema(), value);
            const std::string second = fields.empty() ? std::string() : value_json(self.schema(), fields);
            std::optional<Error> refused;
            Result<std::uint64_t> stored = [&] {
              py::gil_scoped_release unlocked;
              return self.update([&](void* data) {
                for (const std::string* text : {&first, &second}) {
                  if (text->empty()) continue;
                  if (auto applied = self.schema().apply_json(*text, data); !applied) {
                    refused = applied.error();
                    return false;
                  }
                }
                return true;
              });
            }();
            if (refused) raise(*refused);
            return unwrap(std::move(stored));
          },
          py::arg("value") = py::none(),
          "Stores the fields given (a dict and/or keywords; the others keep their values) under the writer lock; "
          "returns the new version. statebus.Error(invalid_argument) naming a bad field, and the cell unchanged then.")
      .def(
          "update",
          [](const UntypedCell& self, const py::function& change) {
            // Read-modify-write under the cell's writer lock. The lock is
            // taken without the GIL and the GIL inside it (always in that
            // order, as store() does), so another Python thread waiting for
            // the lock never holds the GIL this callback needs. What
            // `change` raises reaches the caller, and nothing is stored.
            refuse_inside_update();
            std::exception_ptr raised;
            std::optional<Error> refused;
            Result<std::uint64_t> version = [&] {
              py::gil_scoped_release unlocked;
              return self.update([&](void* data) {
                py::gil_scoped_acquire locked;
                updating = true;
                struct Reset {
                  ~Reset() { updating = false; }
                } reset;
                try {
                  py::object result = change(value_to_python(self.schema(), data));
                  if (result.is_none()) return false;
                  if (auto applied = self.schema().apply_json(value_json(self.schema(), result), data); !applied) {
                    refused = applied.error();
                    return false;
                  }
                  return true;
                } catch (...) {
                  raised = std::current_exception();
                  return false;
                }
              });
            }();
            if (raised) std::rethrow_exception(raised);
            if (refused) raise(*refused);
            return unwrap(std::move(version));
          },
          py::arg("change"),
          "Read-modify-write under the writer lock: change(value) returns the fields to store (a dict), or None to "
          "store nothing; returns the version after. What change raises is raised here, and nothing is stored. "
          "change must not store into a cell (statebus.Error: it would wait for the lock it runs under).")
      .def(
          "wait_for_change",
          [](const UntypedCell& self, std::uint64_t seen, py::object virtual_timeout) {
            const auto deadline = VirtualClock::now() + duration_arg(virtual_timeout, "virtual_timeout");
            Waited waited = [&] {
              py::gil_scoped_release unlocked;
              return self.wait_for_change_until(seen, deadline);
            }();
            if (waited.failed()) raise(waited.error());
            return static_cast<bool>(waited);
          },
          py::arg("seen"), py::kw_only(), py::arg("virtual_timeout"),
          "True once a store newer than version `seen` happened; False once the bus's clock passed now + "
          "virtual_timeout.")
      .def_property_readonly("last_writer_pid", [](const UntypedCell& self) { return self.last_writer().pid; })
      .def("__repr__", [](const UntypedCell& self) { return "Cell(" + self.name() + ": " + self.schema().name + ")"; });

  m.def(
      "cell",
      [](const std::string& name, const Message& type, py::object initial) {
        std::vector<std::byte> bytes(type.schema.size);
        value_from_python(type.schema, initial, bytes.data());
        Result<UntypedCell> opened = [&] {
          py::gil_scoped_release unlocked;
          return UntypedCell::open_or_create(name, type.schema, bytes.data());
        }();
        return unwrap(std::move(opened));
      },
      py::arg("name"), py::arg("type"), py::arg("initial") = py::none(),
      "Opens the cell `name`, creating it with `initial` (a dict; fields left out are zero) if it does not exist. "
      "statebus.Error(type_mismatch) if it holds another type.");
  m.def(
      "open_cell",
      [](const std::string& name) {
        Result<UntypedCell> opened = [&] {
          py::gil_scoped_release unlocked;
          return UntypedCell::open(name);
        }();
        return unwrap(std::move(opened));
      },
      py::arg("name"),
      "Opens an existing cell (its type comes with it); statebus.Error(not_found) naming those there are.");
}

}  // namespace statebus::python
