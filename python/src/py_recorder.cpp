// The recorder from Python: samples as Sample objects, waits on virtual time, logs.

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>

#include "bindings.hpp"
#include "statebus/bus/log_record.hpp"
#include "statebus/clock/virtual_timeout.hpp"
#include "statebus/recorder/recorder.hpp"

namespace statebus::python {
namespace {

struct RecorderPy {
  NodePtr node;
  std::optional<Recorder> recorder;
  std::string mcap_path;
  mutable std::map<std::uint64_t, Schema> schemas;  // fingerprint → schema, from the recorder's channels

  const Recorder& get() const {
    if (!recorder) raise(Errc::invalid_argument, "this recorder was stopped");
    return *recorder;
  }

  const Schema* schema_of(std::uint64_t fingerprint) const {
    if (fingerprint == 0) return nullptr;
    auto known = schemas.find(fingerprint);
    if (known != schemas.end()) return &known->second;
    for (const auto& channel : get().channels())
      if (channel.schema) schemas.emplace(channel.schema->fingerprint, *channel.schema);
    known = schemas.find(fingerprint);
    return known == schemas.end() ? nullptr : &known->second;
  }

  Sample convert(const RecordedSample& recorded) const {
    Sample out{recorded.channel, recorded.header, py::none()};
    const Schema* schema = schema_of(recorded.header.fingerprint);
    if (schema != nullptr && recorded.payload.size() == schema->size) {
      out.value = value_to_python(*schema, recorded.payload.data());
    } else {
      out.value = py::bytes(recorded.payload);
    }
    return out;
  }
};

VirtualTimeout virtual_arg(const py::object& value) { return virtual_timeout(duration_arg(value, "virtual_timeout")); }

bool waited_or_raise(const Waited& waited) {
  if (waited.failed()) raise(waited.error());
  return static_cast<bool>(waited);
}

py::dict log_to_python(const LogEntry& entry) {
  py::dict d;
  d["virtual_ns"] = entry.virtual_time.time_since_epoch().count();
  d["pid"] = entry.pid;
  d["level"] = std::string(to_string(entry.level));
  d["process"] = entry.process;
  d["logger"] = entry.logger;
  d["text"] = entry.text;
  return d;
}

LogLevel level_arg(const std::string& level) {
  auto parsed = parse_log_level(level);
  if (!parsed)
    raise(Errc::invalid_argument, "log level '" + level + "' is not one of trace, debug, info, warn, error, critical");
  return *parsed;
}

}  // namespace

void bind_recorder(py::module_& m) {
  py::class_<RecorderPy>(m, "Recorder",
                         "Every sample of the channels matching its patterns, lossless, with gaps reported.")
      .def(
          "samples",
          [](const RecorderPy& self, const std::string& channel, std::size_t start) {
            std::vector<RecordedSample> recorded = self.get().samples(channel);
            std::vector<Sample> out;
            out.reserve(recorded.size() > start ? recorded.size() - start : 0);
            for (std::size_t i = start; i < recorded.size(); ++i) out.push_back(self.convert(recorded[i]));
            return out;
          },
          py::arg("channel") = "", py::kw_only(), py::arg("start") = 0,
          "Every sample captured on `channel` (all if empty), in order, as Sample objects; from the `start`-th on.")
      .def(
          "count", [](const RecorderPy& self, const std::string& channel) { return self.get().count(channel); },
          py::arg("channel"))
      .def(
          "wait_recording",
          [](const RecorderPy& self, const std::string& channel, py::object timeout) {
            const auto span = duration_arg(timeout, "timeout");
            const Recorder& recorder = self.get();
            Waited waited = [&] {
              py::gil_scoped_release unlocked;
              return recorder.wait_recording(channel, span);
            }();
            return waited_or_raise(waited);
          },
          py::arg("channel"), py::kw_only(), py::arg("timeout"),
          "True once its subscription to `channel` is connected (nothing sent from then on is missed); "
          "False after `timeout` seconds of real time.")
      .def(
          "wait_for_count",
          [](const RecorderPy& self, const std::string& channel, std::uint64_t n, py::object timeout) {
            const auto span = virtual_arg(timeout);
            const Recorder& recorder = self.get();
            Waited waited = [&] {
              py::gil_scoped_release unlocked;
              return recorder.wait_for_count(channel, n, span);
            }();
            return waited_or_raise(waited);
          },
          py::arg("channel"), py::arg("n"), py::kw_only(), py::arg("virtual_timeout"),
          "True once `n` samples of `channel` were captured; False once the bus's clock passed now + virtual_timeout.")
      .def(
          "logs",
          [](const RecorderPy& self) {
            py::list out;
            for (const auto& entry : self.get().logs()) out.append(log_to_python(entry));
            return out;
          },
          "Log records captured (the recorder's patterns must match statebus/log), as dicts.")
      .def(
          "wait_for_log",
          [](const RecorderPy& self, const std::string& pattern, const std::string& level,
             std::optional<std::string> process, py::object timeout) -> py::object {
            std::regex expression;
            try {
              expression = std::regex(pattern, std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
              raise(Errc::invalid_argument, "log pattern '" + pattern + "' is not a regular expression: " + e.what());
            }
            const LogLevel least = level_arg(level);
            const auto span = virtual_arg(timeout);
            const Recorder& recorder = self.get();
            WaitedFor<LogEntry> found = [&] {
              py::gil_scoped_release unlocked;
              return recorder.wait_for_log(
                  [&](const LogEntry& entry) {
                    return entry.level >= least && (!process || entry.process == *process) &&
                           std::regex_search(entry.text, expression);
                  },
                  span);
            }();
            if (found.failed()) raise(found.error());
            if (!found) return py::none();
            return log_to_python(*found);
          },
          py::arg("pattern"), py::kw_only(), py::arg("level") = "trace", py::arg("process") = py::none(),
          py::arg("virtual_timeout"),
          "The first record (before or during the call) of at least `level` whose text matches `pattern` (a regex, "
          "anywhere), from `process` if given; None once the bus's clock passed now + virtual_timeout.")
      .def(
          "gaps",
          [](const RecorderPy& self) {
            py::list out;
            for (const auto& gap : self.get().gaps()) {
              py::dict d;
              d["channel"] = gap.channel;
              d["publisher_pid"] = gap.publisher.pid;
              d["missing"] = gap.missing;
              d["why"] = gap.why;
              out.append(d);
            }
            return out;
          },
          "Where the recording had gaps, and why.")
      .def_property_readonly("mcap_path", [](const RecorderPy& self) { return self.mcap_path; })
      .def(
          "stop",
          [](RecorderPy& self) -> py::object {
            if (!self.recorder) return py::none();
            Result<RecordingSummary> summary = [&] {
              py::gil_scoped_release unlocked;
              return self.recorder->stop();
            }();
            const RecordingSummary done = unwrap(std::move(summary));
            py::dict d;
            d["samples"] = done.samples;
            d["mcap_path"] = done.mcap_path;
            d["mcap_bytes"] = done.mcap_bytes;
            py::dict channels;
            for (const auto& channel : done.channels) channels[py::str(channel.name)] = channel.samples;
            d["channels"] = channels;
            d["gaps"] = done.gaps.size();
            return std::move(d);
          },
          "Takes what is queued, stops, closes the MCAP file; a summary (samples, channels, gaps, MCAP path and "
          "size).");

  py::object node = m.attr("Node");
  node.attr("record") = py::cpp_function(
      [](NodePtr self, std::vector<std::string> patterns, std::optional<std::string> mcap_path, bool lossless) {
        RecorderOptions options;
        options.patterns = std::move(patterns);
        if (mcap_path) options.mcap_path = *mcap_path;
        options.lossless = lossless;
        Result<Recorder> recorder = [&] {
          py::gil_scoped_release unlocked;
          return Recorder::start(*self, options);
        }();
        auto out = std::make_unique<RecorderPy>();
        out->recorder.emplace(unwrap(std::move(recorder)));
        out->node = std::move(self);
        out->mcap_path = options.mcap_path;
        return out;
      },
      py::name("record"), py::is_method(node), py::arg("patterns") = std::vector<std::string>{"**"}, py::kw_only(),
      py::arg("mcap_path") = py::none(), py::arg("lossless") = true,
      "Starts a recorder of the channels matching `patterns` (`home/*`, `**`; the log is statebus/log), also to an "
      "MCAP file at `mcap_path`.");
}

}  // namespace statebus::python
