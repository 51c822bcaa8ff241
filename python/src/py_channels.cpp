// Typed channels from Python: values by field name through the channel's schema.

#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include "bindings.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/untyped.hpp"

namespace statebus::python {
namespace {

Schema channel_schema(const Node& node, const std::string& channel, const py::object& type) {
  if (!type.is_none()) {
    if (!py::isinstance<Message>(type)) {
      raise(Errc::invalid_argument, "the type of " + channel + " must be a statebus.Message, not " +
                                        std::string(py::str(type.get_type().attr("__name__"))));
    }
    return type.cast<const Message&>().schema;
  }
  Result<Schema> schema = [&] {
    py::gil_scoped_release unlocked;
    return fetch_schema(node, channel, std::chrono::milliseconds(1000));
  }();
  if (!schema) {
    raise(schema.error().code(), "no type given for " + channel + ", and none found on the bus (" +
                                     schema.error().message() + "): pass a statebus.Message");
  }
  return std::move(*schema);
}

std::chrono::nanoseconds optional_duration(const py::object& value, const char* what) {
  return value.is_none() ? std::chrono::nanoseconds(0) : duration_arg(value, what);
}

class TypedPublisher {
 public:
  TypedPublisher(NodePtr node, const std::string& channel, const py::object& type, bool never_block)
      : node_(std::move(node)), schema_(channel_schema(*node_, channel, type)) {
    PublisherOptions options;
    if (never_block) options.never_block = true;
    port_.emplace(unwrap(UntypedPublisher::create(*node_, channel, &schema_, options)));
  }

  std::uint64_t publish(const py::object& value, const py::kwargs& fields) {
    auto loan = port_->loan(schema_.size);
    if (!loan) raise(Errc::out_of_resources, port_->channel() + ": " + std::string(to_string(loan.error())));
    std::memset(loan->data(), 0, schema_.size);
    value_from_python(schema_, value, loan->data());
    if (!fields.empty()) value_from_python(schema_, fields, loan->data());
    LoanResult<void> sent = [&] {
      py::gil_scoped_release unlocked;  // waits while a lossless subscriber's queue is full
      return port_->publish(std::move(*loan));
    }();
    if (!sent) raise(Errc::out_of_resources, port_->channel() + ": " + std::string(to_string(sent.error())));
    return port_->published();
  }

  bool wait_for_subscribers(const py::object& timeout) {
    Waited waited = [&] {
      const auto span = optional_duration(timeout, "timeout");
      py::gil_scoped_release unlocked;
      return port_->wait_for_subscribers(span);
    }();
    if (waited.failed()) raise(waited.error());
    return static_cast<bool>(waited);
  }

  const UntypedPublisher& port() const { return *port_; }
  const Schema& schema() const { return schema_; }

 private:
  NodePtr node_;
  Schema schema_;
  std::optional<UntypedPublisher> port_;
};

class TypedSubscriber {
 public:
  TypedSubscriber(NodePtr node, const std::string& channel, const py::object& type, std::uint32_t history,
                  bool lossless, std::uint32_t queue_depth)
      : node_(std::move(node)) {
    if (!type.is_none()) expected_ = channel_schema(*node_, channel, type);
    SubscriberOptions options;
    options.history = history;
    options.lossless = lossless;
    options.queue_depth = queue_depth;
    port_.emplace(unwrap(UntypedSubscriber::create(*node_, channel, options)));
  }

  py::object take(const py::object& timeout) {
    std::optional<BytesSample> sample;
    if (timeout.is_none()) {
      sample = port_->take();
    } else {
      const auto span = duration_arg(timeout, "timeout");
      WaitedFor<BytesSample> waited = wait_in_slices(
          span, [&](std::chrono::nanoseconds slice) { return port_->take_for(slice); },
          [](const WaitedFor<BytesSample>& w) { return !w.is_timed_out(); });
      if (waited.failed()) raise(waited.error());
      if (waited) sample = std::move(*waited);
    }
    if (!sample) return py::none();
    return py::cast(convert(*sample));
  }

  bool wait(const py::object& timeout) {
    const auto span = optional_duration(timeout, "timeout");
    Waited waited = wait_in_slices(
        span, [&](std::chrono::nanoseconds slice) { return port_->wait(slice); },
        [](const Waited& w) { return !w.is_timed_out(); });
    if (waited.failed()) raise(waited.error());
    return static_cast<bool>(waited);
  }

  bool wait_connected(const py::object& timeout) {
    const auto span = optional_duration(timeout, "timeout");
    Waited waited = wait_in_slices(
        span, [&](std::chrono::nanoseconds slice) { return port_->wait_connected(slice); },
        [](const Waited& w) { return !w.is_timed_out(); });
    if (waited.failed()) raise(waited.error());
    return static_cast<bool>(waited);
  }

  const UntypedSubscriber& port() const { return *port_; }

 private:
  Sample convert(const BytesSample& sample) {
    const SampleHeader& header = sample.header();
    const Schema* schema = nullptr;
    if (expected_) {
      if (header.fingerprint != expected_->fingerprint || sample.size() != expected_->size) {
        raise(Errc::type_mismatch, port_->channel() + ": a sample of fingerprint " +
                                       fingerprint_hex(header.fingerprint) + " (" + std::to_string(sample.size()) +
                                       " bytes) from pid " + std::to_string(header.publisher_pid) + " is not a " +
                                       expected_->name);
      }
      schema = &*expected_;
    } else if (header.fingerprint != 0) {
      auto known = schemas_.find(header.fingerprint);
      if (known == schemas_.end()) {
        auto found = find_schema(*node_, port_->channel(), header.fingerprint);
        if (!found) {
          raise(Errc::not_found, port_->channel() + ": no schema of fingerprint " +
                                     fingerprint_hex(header.fingerprint) +
                                     " is on the bus: pass the channel's statebus.Message to subscriber()");
        }
        known = schemas_.emplace(header.fingerprint, std::move(*found)).first;
      }
      schema = &known->second;
    }
    Sample out{port_->channel(), header, py::none()};
    if (schema != nullptr && sample.size() == schema->size) {
      out.value = value_to_python(*schema, sample.data());
    } else {
      out.value = py::bytes(reinterpret_cast<const char*>(sample.data()), sample.size());
    }
    return out;
  }

  NodePtr node_;
  std::optional<Schema> expected_;
  std::map<std::uint64_t, Schema> schemas_;  // fingerprint → schema, of the samples seen
  std::optional<UntypedSubscriber> port_;
};

}  // namespace

void bind_channels(py::module_& m) {
  py::class_<TypedPublisher>(m, "Publisher", "Publishes values of a Message type on a channel.")
      .def("publish", &TypedPublisher::publish, py::arg("value") = py::none(),
           "Publishes a value (a dict, and/or fields as keywords; fields left out are zero). Returns its sequence "
           "number. "
           "Blocks, without the GIL, while a lossless subscriber's queue is full.")
      .def("wait_for_subscribers", &TypedPublisher::wait_for_subscribers, py::kw_only(), py::arg("timeout"),
           "True once a subscriber is connected; False after `timeout` seconds of real time.")
      .def_property_readonly("has_subscribers", [](const TypedPublisher& p) { return p.port().has_subscribers(); })
      .def_property_readonly("channel", [](const TypedPublisher& p) { return p.port().channel(); })
      .def_property_readonly("published", [](const TypedPublisher& p) { return p.port().published(); })
      .def_property_readonly("type", [](const TypedPublisher& p) { return Message{p.schema()}; });

  py::class_<TypedSubscriber>(m, "Subscriber", "Takes the samples of a channel as Sample objects.")
      .def("take", &TypedSubscriber::take, py::kw_only(), py::arg("timeout") = py::none(),
           "The next sample, or None: at once without a timeout, else after `timeout` seconds of real time. "
           "Raises statebus.Error once the bus is gone, or type_mismatch for a sample not of the subscriber's type.")
      .def("wait", &TypedSubscriber::wait, py::kw_only(), py::arg("timeout"),
           "True once a sample is queued; False after `timeout` seconds of real time.")
      .def("wait_connected", &TypedSubscriber::wait_connected, py::kw_only(), py::arg("timeout"),
           "True once connected to the channel's publishers (nothing they send from then on is missed).")
      .def_property_readonly("has_data", [](const TypedSubscriber& s) { return s.port().has_data(); })
      .def_property_readonly("lost", [](const TypedSubscriber& s) { return s.port().lost(); })
      .def_property_readonly("channel", [](const TypedSubscriber& s) { return s.port().channel(); });

  py::object node = m.attr("Node");
  node.attr("publisher") = py::cpp_function(
      [](NodePtr self, const std::string& channel, py::object type, bool never_block) {
        return std::make_unique<TypedPublisher>(std::move(self), channel, type, never_block);
      },
      py::name("publisher"), py::is_method(node), py::arg("channel"), py::arg("type") = py::none(), py::kw_only(),
      py::arg("never_block") = false,
      "A publisher of `type` (a statebus.Message; None: the channel's type as its typed ports declared it).");
  node.attr("subscriber") = py::cpp_function(
      [](NodePtr self, const std::string& channel, py::object type, std::uint32_t history, bool lossless,
         std::uint32_t queue_depth) {
        return std::make_unique<TypedSubscriber>(std::move(self), channel, type, history, lossless, queue_depth);
      },
      py::name("subscriber"), py::is_method(node), py::arg("channel"), py::arg("type") = py::none(), py::kw_only(),
      py::arg("history") = 0, py::arg("lossless") = false, py::arg("queue_depth") = 256,
      "A subscriber; with `type`, every sample is checked against it; without, each sample is decoded by the schema "
      "its fingerprint names on the bus.");
}

}  // namespace statebus::python
