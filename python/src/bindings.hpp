#pragma once
// What the binding files share: errors as Python exceptions, values between
// schemas and Python objects, durations from Python, and the parts' entry points.

#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "statebus/base/error.hpp"
#include "statebus/base/schema.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/sample_header.hpp"
#include "statebus/service/call_error.hpp"

namespace statebus::python {

namespace py = pybind11;

/// Raises statebus.Error (code, message) in Python. Only with the GIL held:
/// a call that released it keeps its result and raises after re-taking it.
[[noreturn]] void raise(const Error& error);
[[noreturn]] void raise(Errc code, const std::string& message);
/// Raises statebus.CallError (a statebus.Error) for a call that brought no response.
[[noreturn]] void raise_call(const CallError& error);

/// The value of a Result, or statebus.Error.
template <class T>
T unwrap(Result<T> result) {
  if (!result) raise(result.error());
  return std::move(*result);
}
inline void unwrap(const Result<void>& result) {
  if (!result) raise(result.error());
}

/// A duration from Python: seconds as int or float, or a datetime.timedelta.
/// invalid_argument for a negative one, NaN or another type; `what` names the argument.
std::chrono::nanoseconds duration_arg(py::handle value, const char* what);

/// Waits that Ctrl-C can end: calls `wait(slice)` without the GIL in slices
/// of at most 100 ms of real time until `done(result)` (ready, or failed)
/// or `total` has passed (returning the last result), and lets Python run
/// its signal handlers between slices, so a KeyboardInterrupt (or what a
/// handler raises) ends the wait by being raised. A `total` of a year or
/// more waits for ever. Only for waits that can be repeated (a take, a
/// wait for a sample, a child's line), not for calls that send something.
template <class Wait, class Done>
auto wait_in_slices(std::chrono::nanoseconds total, Wait wait, Done done) {
  using namespace std::chrono_literals;
  const bool forever = total >= std::chrono::hours(24 * 365);
  const auto deadline = std::chrono::steady_clock::now() + (forever ? std::chrono::nanoseconds(0) : total);
  for (;;) {
    const auto left = forever ? std::chrono::nanoseconds(100ms) : deadline - std::chrono::steady_clock::now();
    const auto slice = std::clamp<std::chrono::nanoseconds>(left, 0ns, 100ms);
    auto result = [&] {
      py::gil_scoped_release unlocked;
      return wait(slice);
    }();
    if (done(result) || (!forever && left <= slice)) return result;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

/// `size` bytes laid out by `schema` as a dict by field name (nested dicts,
/// lists for arrays, enum names as strings).
py::object value_to_python(const Schema& schema, const void* data);
/// Writes the fields of `value` (a dict, or None for none) onto the
/// schema->size bytes at `data`; fields left out keep their bytes. Checked
/// whole: statebus.Error(invalid_argument) naming the first bad field, and
/// `data` unchanged then.
void value_from_python(const Schema& schema, py::handle value, void* data);

/// `value` (a dict, or a bare value for a one-field type) as the JSON text
/// Schema::apply_json takes; statebus.Error(invalid_argument) if it is not plain data.
std::string value_json(const Schema& schema, py::handle value);

/// A type of channel or cell, as Python sees it (statebus.Message).
struct Message {
  Schema schema;
};

/// A received or recorded sample: its channel, header and value (typed) or bytes.
struct Sample {
  std::string channel;
  SampleHeader header;
  py::object value;  // dict of a typed sample; bytes of an untyped one
};
py::dict header_to_python(const SampleHeader& header);

/// The process's node, shared by its ports (they keep it alive).
using NodePtr = std::shared_ptr<Node>;

void bind_types(py::module_& m);
void bind_node(py::module_& m);
void bind_channels(py::module_& m);
void bind_bytes(py::module_& m);
void bind_cells(py::module_& m);
void bind_clock(py::module_& m);
void bind_recorder(py::module_& m);
void bind_processes(py::module_& m);
void bind_services(py::module_& m);

}  // namespace statebus::python
