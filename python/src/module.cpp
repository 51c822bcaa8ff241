// The module statebus._statebus: its exception type and its parts.

#include <pybind11/pybind11.h>

#include <cmath>
#include <string>

#include "bindings.hpp"

namespace statebus::python {
namespace {
PyObject* error_type = nullptr;       // statebus.Error, made at import, kept for the process
PyObject* call_error_type = nullptr;  // statebus.CallError, a statebus.Error

[[noreturn]] void raise_as(PyObject* type_object, std::string_view code, const std::string& message) {
  py::object type = py::reinterpret_borrow<py::object>(type_object);
  py::object instance = type(message);
  instance.attr("code") = std::string(code);
  instance.attr("message") = message;
  PyErr_SetObject(type_object, instance.ptr());
  throw py::error_already_set();
}
}  // namespace

void raise(const Error& error) { raise(error.code(), error.message()); }

void raise(Errc code, const std::string& message) { raise_as(error_type, to_string(code), message); }

void raise_call(const CallError& error) { raise_as(call_error_type, to_string(error.code()), error.message()); }

std::chrono::nanoseconds duration_arg(py::handle value, const char* what) {
  double seconds = 0;
  py::object timedelta = py::module_::import("datetime").attr("timedelta");
  if (py::isinstance(value, timedelta)) {
    seconds = value.attr("total_seconds")().cast<double>();
  } else if (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) {
    seconds = value.cast<double>();
  } else {
    raise(Errc::invalid_argument, std::string(what) +
                                      " must be seconds (an int or a float) or a datetime.timedelta, not " +
                                      std::string(py::str(value.get_type().attr("__name__"))));
  }
  if (std::isnan(seconds) || seconds < 0)
    raise(Errc::invalid_argument, std::string(what) + " must be 0 or more seconds, not " + std::to_string(seconds));
  constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;  // the clock's end of time
  if (seconds > kMaxSeconds) seconds = kMaxSeconds;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9)));
}

}  // namespace statebus::python

PYBIND11_MODULE(_statebus, m) {
  using namespace statebus::python;
  m.doc() = "statebus: shared state, messages and time for processes on one machine (python/README.md)";
  error_type = PyErr_NewExceptionWithDoc(
      "statebus.Error",
      "A statebus call failed: .code names what kind of failure (the C++ Errc), .message says what to do.",
      PyExc_Exception, nullptr);
  m.attr("Error") = py::reinterpret_borrow<py::object>(error_type);
  call_error_type = PyErr_NewExceptionWithDoc(
      "statebus.CallError",
      "A call to a service brought no response: .code says why (no_server, server_gone, timed_out, refused …), "
      ".message names the service and the server's process or reason.",
      error_type, nullptr);
  m.attr("CallError") = py::reinterpret_borrow<py::object>(call_error_type);
  bind_types(m);
  bind_node(m);
  bind_channels(m);
  bind_bytes(m);
  bind_cells(m);
  bind_clock(m);
  bind_recorder(m);
  bind_processes(m);
  bind_services(m);
}
