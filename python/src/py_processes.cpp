// The bus and the processes on it: the daemon, a private bus, child processes.

#include <pybind11/stl.h>

#include <csignal>
#include <optional>

#include "bindings.hpp"
#include "statebus/bus/daemon_info.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/internal/subprocess.hpp"
#include "statebus/testing/private_bus.hpp"

namespace statebus::python {
namespace {

std::chrono::milliseconds millis(const py::object& value, const char* what) {
  if (value.is_none()) return detail::kForever;
  return std::chrono::ceil<std::chrono::milliseconds>(duration_arg(value, what));
}

// A real-time span from Python, None for ever (wait_in_slices: a year or more).
std::chrono::nanoseconds span_or_forever(const py::object& value, const char* what) {
  if (value.is_none()) return std::chrono::hours(24 * 365 * 10);
  return duration_arg(value, what);
}

struct DaemonPy {
  std::optional<Daemon> daemon;
};

}  // namespace

void bind_processes(py::module_& m) {
  py::class_<DaemonPy>(m, "Daemon", "The bus's daemon, run inside this process.")
      .def_static(
          "start",
          [] {
            Result<Daemon> daemon = [] {
              py::gil_scoped_release unlocked;
              return Daemon::start();
            }();
            return std::make_unique<DaemonPy>(DaemonPy{unwrap(std::move(daemon))});
          },
          "Starts the daemon; statebus.Error(already_running) naming the running one's pid.")
      .def(
          "stop",
          [](DaemonPy& self) {
            py::gil_scoped_release unlocked;
            self.daemon.reset();
          },
          "Stops it (every process on the bus learns at once that it stopped).")
      .def_property_readonly("pid", [](const DaemonPy& self) { return self.daemon ? self.daemon->pid() : 0; })
      .def_property_readonly("running", [](const DaemonPy& self) { return self.daemon.has_value(); })
      .def("health", [](const DaemonPy& self) {
        if (!self.daemon) raise(Errc::no_daemon, "this daemon was stopped");
        unwrap(self.daemon->health());
      });

  m.def(
      "isolate_bus",
      [] {
        auto isolation = unwrap(testkit::isolate_bus());
        return isolation == testkit::Isolation::private_namespace ? "private_namespace" : "shared_machine";
      },
      "Moves this single-threaded process (and its children to come) onto a private bus: private user and mount "
      "namespaces with fresh /tmp and /dev/shm. 'shared_machine' where the system permits none (or "
      "STATEBUS_ISOLATION=off): then this process uses the machine's bus.");
  m.def("isolation_reason", &testkit::isolation_reason,
        "How isolate_bus() isolated this process, or why not, in words.");
  m.def(
      "find_daemon_pid",
      []() -> std::optional<int> {
        auto info = find_daemon();
        if (!info) return std::nullopt;
        return info->pid;
      },
      "The pid of the daemon running on this bus, or None.");
  m.def(
      "remove_stale_bus", [] { return unwrap(remove_stale_bus()); },
      "Removes what dead daemons and nodes left on this bus; returns what it removed.");

  py::class_<detail::Subprocess>(m, "Child", "A child process with stdin, stdout and stderr on pipes.")
      .def_property_readonly("pid", &detail::Subprocess::pid)
      .def_property_readonly("executable", &detail::Subprocess::executable)
      .def(
          "read_line",
          [](detail::Subprocess& self, py::object timeout) {
            bool ended = false;  // read_line returned nothing before its slice passed: the end of the output
            return wait_in_slices(
                span_or_forever(timeout, "timeout"),
                [&](std::chrono::nanoseconds slice) {
                  const auto began = std::chrono::steady_clock::now();
                  auto line = self.read_line(std::chrono::ceil<std::chrono::milliseconds>(slice));
                  ended = !line && std::chrono::steady_clock::now() - began < slice;
                  return line;
                },
                [&](const std::optional<std::string>& line) { return line.has_value() || ended; });
          },
          py::kw_only(), py::arg("timeout"),
          "The next line it writes to stdout (without the newline), or None after `timeout` seconds or at its end.")
      .def(
          "read_stderr",
          [](detail::Subprocess& self, py::object timeout) {
            const auto span = millis(timeout, "timeout");
            py::gil_scoped_release unlocked;
            return self.read_stderr(span);
          },
          py::kw_only(), py::arg("timeout"), "Its stderr so far and until it closes it or `timeout` passes.")
      .def("unread_stdout", &detail::Subprocess::unread_stdout, "What it wrote to stdout that no read_line returned.")
      .def("write", &detail::Subprocess::write, py::arg("text"), "Writes to its stdin; False if it closed it.")
      .def("close_stdin", &detail::Subprocess::close_stdin)
      .def("signal", &detail::Subprocess::signal, py::arg("signal"), "Sends a signal; False once it was reaped.")
      .def(
          "wait",
          [](detail::Subprocess& self, py::object timeout) {
            return wait_in_slices(
                span_or_forever(timeout, "timeout"),
                [&](std::chrono::nanoseconds slice) {
                  return self.wait(std::chrono::ceil<std::chrono::milliseconds>(slice));
                },
                [](const std::optional<int>& status) { return status.has_value(); });
          },
          py::kw_only(), py::arg("timeout") = py::none(),
          "Its wait status once it ended (os.waitstatus_to_exitcode reads it), or None after `timeout` seconds.")
      .def(
          "terminate",
          [](detail::Subprocess& self, py::object grace) {
            const auto span = millis(grace, "grace");
            py::gil_scoped_release unlocked;
            return self.terminate(span, std::chrono::seconds(5));
          },
          py::kw_only(), py::arg("grace") = 2.0, "SIGTERM, then SIGKILL after `grace` seconds; its wait status.")
      .def_static("describe_status", &detail::describe_wait_status, py::arg("status"),
                  "A wait status in words: 'exit 0', 'SIGKILL'.");

  m.def(
      "spawn",
      [](std::vector<std::string> argv, std::optional<std::string> stderr_path, bool pipe_stdin) {
        detail::SpawnOptions options;
        options.pipe_stdin = pipe_stdin;
        if (stderr_path) options.stderr_path = *stderr_path;
        Result<detail::Subprocess> child = [&] {
          py::gil_scoped_release unlocked;
          return detail::Subprocess::spawn(std::move(argv), options);
        }();
        return unwrap(std::move(child));
      },
      py::arg("argv"), py::kw_only(), py::arg("stderr_path") = py::none(), py::arg("pipe_stdin") = true,
      "Starts argv[0] (a path) with its arguments; stdout on a pipe, stderr on a pipe or appended to `stderr_path`. "
      "A child still running when its Child object goes is stopped (SIGTERM, then SIGKILL).");
}

}  // namespace statebus::python
