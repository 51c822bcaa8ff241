// The recorder's log: records read from the bus's log rings
// (statebus/internal/log_ring.hpp) by a thread of their own, which wakes
// once for a burst of records and then lets the next ones gather for a
// moment; a wait about to time out reads the rings itself first.
#include <chrono>
#include <mutex>
#include <thread>

#include "recorder_impl.hpp"

namespace statebus {
namespace {

// After a look that found a few records, the thread reads again this much
// later without announcing a sleep: writers make no system call meanwhile,
// and a steady stream (the demo's thousands a second) costs the recorder
// a thousand looks a second at most. A look that found many reads again at
// once. (A process logging in a tight loop fills its ring, ~560 records,
// in ~0.22 ms: a burst longer than that which starts during a gathering
// loses its oldest records, reported as a gap.)
constexpr auto kGather = std::chrono::milliseconds(1);
constexpr std::size_t kMany = 32;
constexpr auto kSleep = std::chrono::milliseconds(50);  // between looks at `stopping` while idle

}  // namespace

Result<void> Recorder::Impl::start_log_reader(std::uint32_t channel) {
  // From the rings' oldest records: a record written after the recorder
  // started but before the rings were opened is among them (capture()
  // leaves out the older ones).
  auto reader = detail::LogReader::open(detail::LogReader::From::oldest);
  if (!reader) return tl::make_unexpected(reader.error());
  {
    std::lock_guard lock(log_mutex);
    log_reader = std::move(*reader);
  }
  {
    std::lock_guard lock(mutex);
    log_source = Source{channel, true};
    changed.notify_all();  // wait_recording(): the log is being recorded
  }
  log_thread = std::thread([this] { run_log_reader(); });
  return {};
}

std::size_t Recorder::Impl::drain_logs() {
  std::lock_guard lock(log_mutex);
  if (!log_reader || !log_source) return 0;
  return log_reader->drain([&](const SampleHeader& header, std::string_view payload) {
    if (header.real_time_ns < start_real_ns) {
      // From before the start: no part of this recording, but its sequence
      // number counts (a later record is no gap after it).
      std::lock_guard hold(mutex);
      track(channels[log_source->channel], header);
      return;
    }
    capture(*log_source, header, payload);
  });
}

void Recorder::Impl::run_log_reader() {
  for (;;) {
    const bool last_round = stopping.load(std::memory_order_acquire);
    const std::size_t read = drain_logs();
    if (last_round) return;
    if (read >= kMany) continue;  // a burst: read on before the rings fill
    if (read > 0) {
      log_reader->gather(kGather);  // a few: let the next gather
      continue;
    }
    std::uint32_t ticket = 0;
    {
      std::lock_guard lock(log_mutex);
      ticket = log_reader->prepare_sleep();
    }
    if (ticket != 0) (void)log_reader->sleep(ticket, kSleep);  // the next record wakes it
  }
}

}  // namespace statebus
