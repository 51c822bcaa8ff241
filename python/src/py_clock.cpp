// statebus.clock: the bus's virtual clock from Python.

#include <pybind11/stl.h>

#include <optional>

#include "bindings.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus::python {
namespace {

VirtualClock::time_point at(std::int64_t ns) { return VirtualClock::time_point(VirtualClock::duration(ns)); }

}  // namespace

void bind_clock(py::module_& m) {
  py::module_ clock = m.def_submodule("clock", "The bus's virtual clock: one per bus, shared by all its processes.");
  clock.def(
      "now_ns", [] { return VirtualClock::now().time_since_epoch().count(); },
      "Virtual time now, in nanoseconds (lock-free; never goes backwards).");
  clock.def(
      "status",
      [] {
        const ClockStatus status = VirtualClock::status();
        py::dict d;
        d["shared"] = status.shared;
        d["mode"] = std::string(to_string(status.mode));
        d["rate"] = status.rate;
        d["now_ns"] = status.now.time_since_epoch().count();
        d["participants"] = status.participants;
        d["until_ns"] = status.until ? py::cast(status.until->time_since_epoch().count()) : py::none();
        return d;
      },
      "Mode, rate, time now, the event loops that hold lockstep time, and lockstep's stop mark.");
  clock.def(
      "set_rate", [](double rate) { unwrap(VirtualClock::set_rate(rate)); }, py::arg("rate"),
      "Scaled mode at `rate` (0 pauses, else 0.001 to 1e6).");
  clock.def(
      "set_real", [] { unwrap(VirtualClock::set_real()); }, "Real mode (rate 1, from the current virtual time).");
  clock.def("pause", [] { unwrap(VirtualClock::pause()); });
  clock.def("resume", [] { unwrap(VirtualClock::resume()); });
  clock.def(
      "set_stepped", [] { unwrap(VirtualClock::set_stepped()); }, "Stepped mode: time moves only by advance().");
  clock.def(
      "set_lockstep",
      [](std::optional<std::int64_t> until_ns) {
        unwrap(VirtualClock::set_lockstep(until_ns ? std::optional(at(*until_ns)) : std::nullopt));
      },
      py::arg("until_ns") = py::none(),
      "Lockstep mode: time jumps to the next timer once every event loop is idle; never past `until_ns`.");
  clock.def(
      "advance",
      [](py::object seconds) {
        const auto span = duration_arg(seconds, "seconds");
        Result<void> moved = [&] {
          py::gil_scoped_release unlocked;
          return VirtualClock::advance(span);
        }();
        unwrap(moved);
      },
      py::arg("seconds"), "Moves stepped (or lockstep) time forward by `seconds` (a float or a timedelta).");
  clock.def(
      "advance_to",
      [](std::int64_t ns) {
        Result<void> moved = [&] {
          py::gil_scoped_release unlocked;
          return VirtualClock::advance_to(at(ns));
        }();
        unwrap(moved);
      },
      py::arg("ns"), "Moves stepped (or lockstep) time to `ns`.");
  clock.def(
      "sleep",
      [](py::object seconds) {
        const auto span = duration_arg(seconds, "seconds");
        py::gil_scoped_release unlocked;
        VirtualClock::sleep_for(span);
      },
      py::arg("seconds"), "Sleeps `seconds` of virtual time (woken by every clock change, never polling).");
  clock.def(
      "sleep_until",
      [](std::int64_t ns) {
        py::gil_scoped_release unlocked;
        VirtualClock::sleep_until(at(ns));
      },
      py::arg("ns"));
}

}  // namespace statebus::python
