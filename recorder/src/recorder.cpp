// The recorder's life: start (options checked, patterns parsed, the MCAP
// file opened, channels subscribed, the housekeeper started) and stop
// (threads joined, the file closed, the summary).
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "recorder_impl.hpp"

namespace statebus {

Result<Recorder> Recorder::start(const Node& node, RecorderOptions options) {
  if (options.patterns.empty()) {
    return fail(Errc::invalid_argument, "the recorder needs at least one channel pattern (`**` records everything)");
  }
  if (options.queue_depth < 1 || options.queue_depth > 256) {
    return fail(Errc::invalid_argument, "recorder queue_depth " + std::to_string(options.queue_depth) +
                                            " is out of range; give 1 to 256");
  }
  if (options.lockstep_linger.count() < 0 || options.lockstep_linger > std::chrono::seconds(10)) {
    return fail(Errc::invalid_argument, "recorder lockstep_linger " + std::to_string(options.lockstep_linger.count()) +
                                            " µs is out of range; give 0 to 10 s (0: no linger)");
  }
  if (options.chunk_size == 0 || options.flush_interval.count() <= 0) {
    return fail(Errc::invalid_argument, "recorder chunk_size and flush_interval must be positive");
  }
  auto impl = std::make_unique<Impl>(node, std::move(options));
  for (const std::string& text : impl->options.patterns) {
    auto pattern = ChannelPattern::parse(text);
    if (!pattern) return tl::make_unexpected(pattern.error());
    impl->patterns.push_back(std::move(*pattern));
  }
  if (!impl->options.mcap_path.empty()) {
    mcap::WriterOptions writer_options;
    writer_options.chunk_size = impl->options.chunk_size;
    auto writer = mcap::Writer::create(impl->options.mcap_path, writer_options);
    if (!writer) return tl::make_unexpected(writer.error());
    impl->writer = std::move(*writer);
  }
  // Channels are found as the daemon announces them for every pattern: a
  // wildcard's, and an exact name's service channels (`S` records `S/_call`,
  // `S/_reply/<client>`, `S/_refused` too, whenever its service appears).
  {
    auto watch = ChannelWatch::create(impl->node);
    if (!watch) return tl::make_unexpected(watch.error());
    impl->watch = std::move(*watch);
  }
  Recorder recorder(std::move(impl));
  Impl& self = *recorder.impl_;
  for (const ChannelPattern& pattern : self.patterns) {
    if (!pattern.exact()) continue;
    if (auto done = self.subscribe(pattern.text()); !done) return tl::make_unexpected(done.error());
  }
  // The log is no channel the daemon announces: a wildcard that matches
  // its name (`**`, `statebus/*`) records it from the start.
  if (self.wanted(kLogChannel)) {
    if (auto done = self.subscribe(std::string(kLogChannel)); !done) return tl::make_unexpected(done.error());
  }
  if (self.watch) {
    for (const std::string& channel : self.watch->next(std::chrono::nanoseconds(0))) {
      if (!self.wanted(channel)) continue;
      if (auto done = self.subscribe(channel); !done) return tl::make_unexpected(done.error());
    }
  }
  self.housekeeper = std::thread([&self] { self.run_housekeeper(); });
  return recorder;
}

Recorder::Recorder(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Recorder::Recorder(Recorder&&) noexcept = default;
Recorder& Recorder::operator=(Recorder&& other) noexcept {
  if (this != &other) {
    if (impl_) (void)stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Recorder::~Recorder() {
  if (impl_) (void)stop();
}

Result<RecordingSummary> Recorder::stop() {
  Impl& self = *impl_;
  if (!self.summary && !self.stop_error) {
    self.stopping.store(true, std::memory_order_release);
    if (self.watch) self.watch->wake();
    {
      std::lock_guard lock(self.mutex);
      self.changed.notify_all();
    }
    {
      std::lock_guard lock(self.linger_mutex);  // a capture thread lingering in lockstep mode
      self.linger_ended.notify_all();
    }
    if (self.housekeeper.joinable()) self.housekeeper.join();
    if (self.log_thread.joinable()) {
      self.log_reader->interrupt();
      self.log_thread.join();
    }
    {
      std::lock_guard lock(self.shards_mutex);
      for (auto& shard : self.shards) {
        if (shard->thread.joinable()) shard->thread.join();
      }
      self.shards.clear();  // unsubscribes: lossless publishers stop waiting for us
    }
    std::lock_guard lock(self.mutex);
    RecordingSummary summary = self.summarise();
    if (self.writer) {
      if (auto closed = self.writer->close(); !closed && !self.write_error) self.write_error = closed.error();
      summary.mcap_path = self.options.mcap_path;
      summary.mcap_bytes = self.writer->bytes_written();
    }
    if (self.write_error) {
      self.stop_error = Error(self.write_error->code(), "recording to " + self.options.mcap_path +
                                                            " failed: " + self.write_error->message());
    } else {
      self.summary = std::move(summary);
    }
  }
  if (self.stop_error) return tl::make_unexpected(*self.stop_error);
  return *self.summary;
}

}  // namespace statebus
