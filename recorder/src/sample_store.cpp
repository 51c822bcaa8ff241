// The recorder's store: what was captured, kept in memory, and the queries
// and waits on it (waits on virtual time are woken by every sample and
// every clock change).
#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "recorder_impl.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus {

RecordingSummary Recorder::Impl::summarise() const {
  RecordingSummary out;
  for (const ChannelState& state : channels) {
    out.channels.push_back(RecordedChannel{state.name, state.schema, state.samples, state.gaps,
                                           state.publishers.size(), state.lossless});
  }
  std::sort(out.channels.begin(), out.channels.end(),
            [](const RecordedChannel& a, const RecordedChannel& b) { return a.name < b.name; });
  out.gaps = gaps;
  out.samples = total;
  return out;
}


void Recorder::visit(std::string_view channel,
                     const std::function<bool(const SampleHeader&, const std::string&)>& f, bool locked) const {
  std::unique_lock lock(impl_->mutex, std::defer_lock);
  if (!locked) lock.lock();
  if (channel.empty()) {
    for (const Impl::Stored& s : impl_->stored) {
      if (!f(s.header, s.payload)) return;
    }
    return;
  }
  const auto found = impl_->channel_index.find(channel);
  if (found == impl_->channel_index.end()) return;
  for (const std::size_t i : impl_->channels[found->second].indices) {
    const Impl::Stored& s = impl_->stored[i];
    if (!f(s.header, s.payload)) return;
  }
}

std::vector<RecordedSample> Recorder::samples(std::string_view channel) const {
  std::vector<RecordedSample> out;
  std::lock_guard lock(impl_->mutex);
  auto add = [&](const Impl::Stored& s) {
    out.push_back(RecordedSample{impl_->channels[s.channel].name, s.header, s.payload});
  };
  if (channel.empty()) {
    for (const Impl::Stored& s : impl_->stored) add(s);
  } else if (const auto found = impl_->channel_index.find(channel); found != impl_->channel_index.end()) {
    for (const std::size_t i : impl_->channels[found->second].indices) add(impl_->stored[i]);
  }
  return out;
}

std::uint64_t Recorder::count(std::string_view channel) const {
  std::lock_guard lock(impl_->mutex);
  const auto found = impl_->channel_index.find(channel);
  return found == impl_->channel_index.end() ? 0 : impl_->channels[found->second].samples;
}

std::vector<LogEntry> Recorder::logs() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->logs;
}

Error Recorder::type_mismatch(std::string_view channel, const Schema& expected, std::uint64_t found) const {
  std::string theirs = "untyped bytes";
  if (found != 0) {
    std::lock_guard lock(impl_->mutex);
    const auto known = impl_->schemas.find(found);
    theirs = known != impl_->schemas.end() && known->second ? "'" + known->second->name + "'" : "an unknown type";
    theirs += " (fingerprint " + fingerprint_hex(found) + ")";
  }
  return Error(Errc::type_mismatch, "channel '" + std::string(channel) + "' carried " + theirs + ", not '" +
                                        expected.name + "' (fingerprint " + fingerprint_hex(expected.fingerprint) +
                                        "): ask for the channel's own type (`statebus ls` names it)");
}

std::vector<RecordedChannel> Recorder::channels() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->summarise().channels;
}

std::vector<RecordingGap> Recorder::gaps() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->gaps;
}

std::optional<Error> Recorder::unrecorded(std::string_view channel) const {
  if (channel.empty() || impl_->wanted(channel)) return std::nullopt;
  std::string patterns;
  for (const std::string& pattern : impl_->options.patterns)
    patterns += (patterns.empty() ? "'" : ", '") + pattern + "'";
  return Error(Errc::invalid_argument, "this recorder does not record channel '" + std::string(channel) +
                                           "': none of its patterns (" + patterns +
                                           ") matches it; start it with one that does (RecorderOptions::patterns)");
}

namespace {

// The bus's end, for a wait that found nothing: its error as a failed wait.
std::optional<Waited> bus_gone(const Node& node) {
  if (auto health = node.bus_health(); !health) return Waited::failed(std::move(health.error()));
  return std::nullopt;
}

}  // namespace

Waited Recorder::wait_for(const std::function<bool()>& condition, VirtualTimeout timeout) const {
  // Clock changes wake the wait while it lasts (registered before the first
  // look, outside the mutex the listener takes).
  struct Listening {
    std::uint64_t id;
    ~Listening() { detail::remove_clock_listener(id); }
  } listening{detail::add_clock_listener(
      [](void* context) {
        auto* impl = static_cast<Impl*>(context);
        std::lock_guard hold(impl->mutex);  // so a waiter between its check and its wait is not missed
        impl->changed.notify_all();
      },
      impl_.get())};
  std::unique_lock lock(impl_->mutex);
  // A slice that passes unwoken (nothing captured, the clock unchanged)
  // ends with a look at the bus: on a clock that stands, nobody else would
  // end the wait once the daemon is gone.
  Waited waited = detail::wait_on_virtual_time_or_fail(
      timeout.deadline(), condition,
      [&](std::chrono::nanoseconds slice) {
        return impl_->changed.wait_for(lock, slice) == std::cv_status::no_timeout;
      },
      [&] { return bus_gone(impl_->node); });
  if (!waited.is_timed_out()) return waited;
  // A sample published before the deadline may still sit in a queue (a
  // capture thread lingers in lockstep mode while time jumps on), a log
  // record in its ring (the log thread lets records gather): take what is
  // queued and read the rings, then look once more.
  lock.unlock();
  impl_->take_queued();
  impl_->drain_logs();
  lock.lock();
  return condition() ? Waited::ready() : waited;
}

Waited Recorder::wait_recording(std::string_view channel, std::chrono::nanoseconds timeout) const {
  if (auto refused = unrecorded(channel)) return Waited::failed(std::move(*refused));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const UntypedSubscriber* port = nullptr;
  for (;;) {
    {
      std::unique_lock lock(impl_->mutex);
      const auto slice_end = std::min(deadline, std::chrono::steady_clock::now() + detail::RawSubscriber::kBusCheck);
      if (impl_->changed.wait_until(lock, slice_end, [&] {
            const auto entry = impl_->ports.find(channel);
            port = entry == impl_->ports.end() ? nullptr : entry->second;
            return port != nullptr || (channel == kLogChannel && impl_->log_source);
          })) {
        break;
      }
    }
    if (auto gone = bus_gone(impl_->node)) return std::move(*gone);
    if (std::chrono::steady_clock::now() >= deadline) return Waited::timed_out();
  }
  // The log's rings are read from the start: nothing to connect.
  if (port == nullptr) return Waited::ready();
  return port->wait_connected(deadline - std::chrono::steady_clock::now());
}

Waited Recorder::wait_for_count(std::string_view channel, std::uint64_t n, VirtualTimeout timeout) const {
  if (auto refused = unrecorded(channel)) return Waited::failed(std::move(*refused));
  return wait_for(
      [&] {
        const auto found = impl_->channel_index.find(channel);
        return found != impl_->channel_index.end() && impl_->channels[found->second].samples >= n;
      },
      timeout);
}

WaitedFor<LogEntry> Recorder::wait_for_log(const std::function<bool(const LogEntry&)>& predicate,
                                           VirtualTimeout timeout) const {
  if (auto refused = unrecorded(kLogChannel)) return WaitedFor<LogEntry>::failed(std::move(*refused));
  std::optional<LogEntry> found;
  std::size_t seen = 0;
  Waited waited = wait_for(
      [&] {
        for (; seen < impl_->logs.size() && !found; ++seen) {
          if (predicate(impl_->logs[seen])) found = impl_->logs[seen];
        }
        return found.has_value();
      },
      timeout);
  if (found) return std::move(*found);
  return WaitedFor<LogEntry>(std::move(waited));
}

}  // namespace statebus
