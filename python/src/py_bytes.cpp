// Byte channels from Python, zero copy: a loan and a taken sample are
// memoryviews onto their chunk in shared memory.
//
// A view never outlives its chunk: each memoryview is made from a private
// buffer object that owns the chunk, so the chunk goes back to its pool only
// when the sample (or loan) and every view onto it are gone. A loan is
// published only once no view of it is exported any more (a numpy array
// made from it must be deleted first), so nothing writes into a chunk that
// others read.

#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>

#include "bindings.hpp"
#include "statebus/bus/untyped.hpp"

namespace statebus::python {
namespace {

// Owns a loaned or taken chunk and exports it through the buffer protocol.
struct ChunkBuffer {
  std::optional<BytesLoan> loan;      // writable until published
  std::optional<BytesSample> sample;  // read-only
  py::buffer_info info() {
    if (loan)
      return py::buffer_info(static_cast<void*>(loan->data()), 1, "B", static_cast<py::ssize_t>(loan->size()), false);
    if (sample) {
      return py::buffer_info(const_cast<std::byte*>(sample->data()), 1, "B", static_cast<py::ssize_t>(sample->size()),
                             true);
    }
    raise(Errc::invalid_argument, "this loan was published: its memory belongs to its readers now");
  }
};

// A memoryview onto `buffer` (which it keeps alive).
py::object view_of(const py::object& buffer) {
  return py::reinterpret_steal<py::object>(PyMemoryView_FromObject(buffer.ptr()));
}

class LoanView {
 public:
  LoanView(BytesLoan loan, UntypedPublisher* port, std::shared_ptr<void> keep) : port_(port), keep_(std::move(keep)) {
    auto chunk = std::make_unique<ChunkBuffer>();
    chunk->loan.emplace(std::move(loan));
    buffer_ = py::cast(std::move(chunk));
    view_ = view_of(buffer_);
  }
  py::object view() const {
    if (published_) raise(Errc::invalid_argument, "this loan was published: take a new one");
    return view_;
  }
  std::uint64_t publish() {
    if (published_) raise(Errc::invalid_argument, "this loan was published already");
    // The view goes first: BufferError while a numpy array still uses it.
    try {
      view_.attr("release")();
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_BufferError)) throw;
      raise(Errc::invalid_argument, "a view of this loan is still in use (a numpy array made from it?): delete it "
                                    "before publish(), since the memory belongs to the readers afterwards");
    }
    if (Py_REFCNT(buffer_.ptr()) > 1) {
      raise(Errc::invalid_argument, "a view of this loan is still in use (a numpy array or memoryview made from it): "
                                    "delete it before publish(), since the memory belongs to the readers afterwards");
    }
    auto& chunk = buffer_.cast<ChunkBuffer&>();
    BytesLoan loan = std::move(*chunk.loan);
    chunk.loan.reset();
    published_ = true;
    LoanResult<void> sent = [&] {
      py::gil_scoped_release unlocked;
      return port_->publish(std::move(loan));
    }();
    if (!sent) raise(Errc::out_of_resources, port_->channel() + ": " + std::string(to_string(sent.error())));
    return port_->published();
  }

 private:
  UntypedPublisher* port_;
  std::shared_ptr<void> keep_;  // the publisher, kept while its loan lives
  py::object buffer_;
  py::object view_;
  bool published_ = false;
};

struct BytesPublisherPy {
  NodePtr node;
  std::shared_ptr<UntypedPublisher> port;
};

struct BytesSubscriberPy {
  NodePtr node;
  UntypedSubscriber port;
};

class BytesSampleView {
 public:
  explicit BytesSampleView(BytesSample sample) : header_(sample.header()) {
    auto chunk = std::make_unique<ChunkBuffer>();
    chunk->sample.emplace(std::move(sample));
    buffer_ = py::cast(std::move(chunk));
    view_ = view_of(buffer_);
  }
  py::object view() const {
    if (view_.is_none()) raise(Errc::invalid_argument, "this sample was released");
    return view_;
  }
  std::uintptr_t address() const {
    if (buffer_.is_none()) raise(Errc::invalid_argument, "this sample was released");
    return reinterpret_cast<std::uintptr_t>(buffer_.cast<ChunkBuffer&>().sample->data());
  }
  void release() {
    if (view_.is_none()) return;
    try {
      view_.attr("release")();
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_BufferError)) throw;
      raise(Errc::invalid_argument,
            "a view of this sample is still in use (a numpy array made from it?): delete it before release()");
    }
    view_ = py::none();
    buffer_ = py::none();  // the chunk goes back once no other view holds it
  }
  const SampleHeader& header() const { return header_; }

 private:
  SampleHeader header_;
  py::object buffer_;
  py::object view_;
};

}  // namespace

void bind_bytes(py::module_& m) {
  py::class_<ChunkBuffer>(m, "_Chunk", py::buffer_protocol()).def_buffer([](ChunkBuffer& self) { return self.info(); });

  py::class_<LoanView>(m, "BytesLoan", "Bytes lent in shared memory: write them through .view, then publish().")
      .def_property_readonly(
          "view", &LoanView::view,
          "A writable memoryview onto the chunk (numpy.frombuffer(loan.view, dtype) writes in place). "
          "It holds whatever the chunk held before: write every byte.")
      .def("publish", &LoanView::publish,
           "Sends the chunk; every view of it must be gone (the loan's own is released).")
      .def("__enter__", [](LoanView& self) { return self.view(); })
      .def("__exit__", [](LoanView& self, py::handle type, py::handle, py::handle) {
        if (type.is_none()) self.publish();
        return false;
      });

  py::class_<BytesPublisherPy>(m, "BytesPublisher", "Publishes byte payloads of any size up to the bus's largest pool.")
      .def(
          "loan",
          [](BytesPublisherPy& self, std::size_t size) {
            auto loan = self.port->loan(size);
            if (!loan) {
              raise(loan.error() == LoanError::payload_too_large ? Errc::payload_too_large : Errc::out_of_resources,
                    self.port->channel() + ": " + std::to_string(size) +
                        " bytes: " + std::string(to_string(loan.error())) + " (the largest payload is " +
                        std::to_string(self.port->max_payload()) + " bytes)");
            }
            return std::make_unique<LoanView>(std::move(*loan), self.port.get(), self.port);
          },
          py::arg("size"), "`size` bytes in shared memory (8-byte aligned) to write in place and publish.")
      .def(
          "publish",
          [](BytesPublisherPy& self, const py::object& data) {
            // Contiguous bytes only: a strided view (memoryview[::2]) is refused, never read past.
            Py_buffer view;
            if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
            LoanResult<void> sent = [&] {
              py::gil_scoped_release unlocked;
              return self.port->publish(view.buf, static_cast<std::size_t>(view.len));
            }();
            PyBuffer_Release(&view);
            if (!sent)
              raise(Errc::out_of_resources, self.port->channel() + ": " + std::string(to_string(sent.error())));
            return self.port->published();
          },
          py::arg("data"), "Copies a bytes-like object into a chunk and publishes it.")
      .def(
          "wait_for_subscribers",
          [](BytesPublisherPy& self, py::object timeout) {
            const auto span = duration_arg(timeout, "timeout");
            Waited waited = [&] {
              py::gil_scoped_release unlocked;
              return self.port->wait_for_subscribers(span);
            }();
            if (waited.failed()) raise(waited.error());
            return static_cast<bool>(waited);
          },
          py::kw_only(), py::arg("timeout"))
      .def_property_readonly("channel", [](const BytesPublisherPy& self) { return self.port->channel(); })
      .def_property_readonly("max_payload", [](const BytesPublisherPy& self) { return self.port->max_payload(); });

  py::class_<BytesSampleView>(m, "BytesSample",
                              "A byte payload taken in place: .view reads the publisher's chunk without a copy.")
      .def_property_readonly("view", &BytesSampleView::view,
                             "A read-only memoryview onto the chunk in shared memory; the chunk stays the sample's "
                             "while the sample or any view of it lives.")
      .def_property_readonly("address", &BytesSampleView::address, "Where the chunk is mapped in this process.")
      .def("release", &BytesSampleView::release, "Gives the chunk back now (no view of it may be in use).")
      .def_property_readonly("sequence", [](const BytesSampleView& s) { return s.header().sequence; })
      .def_property_readonly("publisher_pid", [](const BytesSampleView& s) { return s.header().publisher_pid; })
      .def_property_readonly("virtual_ns", [](const BytesSampleView& s) { return s.header().virtual_time_ns; })
      .def_property_readonly("real_ns", [](const BytesSampleView& s) { return s.header().real_time_ns; })
      .def_property_readonly("size", [](const BytesSampleView& s) { return s.header().payload_size; })
      .def_property_readonly("header", [](const BytesSampleView& s) { return header_to_python(s.header()); })
      .def("__enter__", [](BytesSampleView& self) { return self.view(); })
      .def("__exit__", [](BytesSampleView& self, py::handle, py::handle, py::handle) {
        self.release();
        return false;
      });

  py::class_<BytesSubscriberPy>(m, "BytesSubscriber", "Takes byte payloads in place.")
      .def(
          "take",
          [](BytesSubscriberPy& self, py::object timeout) -> py::object {
            std::optional<BytesSample> sample;
            if (timeout.is_none()) {
              sample = self.port.take();
            } else {
              const auto span = duration_arg(timeout, "timeout");
              WaitedFor<BytesSample> waited = wait_in_slices(
                  span, [&](std::chrono::nanoseconds slice) { return self.port.take_for(slice); },
                  [](const WaitedFor<BytesSample>& w) { return !w.is_timed_out(); });
              if (waited.failed()) raise(waited.error());
              if (waited) sample = std::move(*waited);
            }
            if (!sample) return py::none();
            return py::cast(std::make_unique<BytesSampleView>(std::move(*sample)));
          },
          py::kw_only(), py::arg("timeout") = py::none(),
          "The next payload (a BytesSample), or None: at once, or after `timeout` seconds of real time.")
      .def(
          "wait_connected",
          [](BytesSubscriberPy& self, py::object timeout) {
            const auto span = duration_arg(timeout, "timeout");
            Waited waited = [&] {
              py::gil_scoped_release unlocked;
              return self.port.wait_connected(span);
            }();
            if (waited.failed()) raise(waited.error());
            return static_cast<bool>(waited);
          },
          py::kw_only(), py::arg("timeout"))
      .def_property_readonly("lost", [](const BytesSubscriberPy& self) { return self.port.lost(); })
      .def_property_readonly("channel", [](const BytesSubscriberPy& self) { return self.port.channel(); });

  py::object node = m.attr("Node");
  node.attr("bytes_publisher") = py::cpp_function(
      [](NodePtr self, const std::string& channel, bool never_block) {
        PublisherOptions options;
        options.never_block = never_block;
        auto port =
            std::make_shared<UntypedPublisher>(unwrap(UntypedPublisher::create(*self, channel, nullptr, options)));
        return BytesPublisherPy{std::move(self), std::move(port)};
      },
      py::name("bytes_publisher"), py::is_method(node), py::arg("channel"), py::kw_only(),
      py::arg("never_block") = false, "A publisher of byte payloads (zero copy through loan()).");
  node.attr("bytes_subscriber") = py::cpp_function(
      [](NodePtr self, const std::string& channel, std::uint32_t history, bool lossless, std::uint32_t queue_depth) {
        SubscriberOptions options;
        options.history = history;
        options.lossless = lossless;
        options.queue_depth = queue_depth;
        auto port = unwrap(UntypedSubscriber::create(*self, channel, options));
        return std::make_unique<BytesSubscriberPy>(BytesSubscriberPy{std::move(self), std::move(port)});
      },
      py::name("bytes_subscriber"), py::is_method(node), py::arg("channel"), py::kw_only(), py::arg("history") = 0,
      py::arg("lossless") = false, py::arg("queue_depth") = 256, "A subscriber of byte payloads, taken in place.");
}

}  // namespace statebus::python
