// The bus thread's loop: when it looks at the bus's health, the bridges'
// claims, new channels and cells, liveness and the clock; and what it sends.
#include <chrono>
#include <iterator>
#include <mutex>

#include <spdlog/spdlog.h>

#include "bridge_impl.hpp"

namespace statebus {

using namespace std::chrono_literals;
using bridge_detail::Carry;

void MqttBridge::Impl::run_bus_thread() {
  auto next_scan = SteadyClock::now();
  auto next_liveness = SteadyClock::now();
  auto next_health = SteadyClock::now();
  while (!stopping.load(std::memory_order_acquire)) {
    const auto now = SteadyClock::now();
    if (now >= next_health) {
      next_health = now + 100ms;
      if (auto health = node->bus_health(); !health) return leave_lost_bus(health.error());
    }
    if (registry->refresh() > 0) {  // another bridge took this one for gone: claim again at the next look
      for (OutChannel& out : outs) out.carried = registry->claim(Carry::out, out.name);
      std::lock_guard lock(mutex);
      for (auto it = cells.begin(); it != cells.end();) {
        const bool kept = registry->claim(it->second.owned ? Carry::owned_cell : Carry::mirrored_cell, it->first);
        it = kept ? std::next(it) : cells.erase(it);
      }
    }
    const bool resending = resync.exchange(false);
    std::uint64_t announcing = 0;  // the connect this round announces everything for
    if (resending) {
      std::lock_guard lock(mutex);
      announcing = stats.connects;
    }
    if (now >= next_scan || resending) {
      scan_channels();
      scan_cells();
      next_scan = now + 250ms;
    }
    if (resending) {
      resend_all();
      std::lock_guard lock(mutex);
      announced_connects = announcing;  // from now on a channel found is announced on its own
    }
    if (now >= next_liveness || resending) {
      send_liveness();
      next_liveness = now + 250ms;
    }
    if (options.clock == MqttOptions::ClockSync::send && link->connected()) send_clock(resending, now);
    if (resending && link->connected()) {
      std::lock_guard lock(mutex);
      ready = true;
      changed.notify_all();
    }
    const bool waited = waitset && !outs.empty() && [&] {
      const WaitSet::Ready woke = waitset->wait(10ms);
      for (const std::size_t index : woke) take_and_send(outs[index]);
      return !woke.failed();  // the bus is gone: the wait fails at once, so pace the loop below
    }();
    if (!waited) {
      std::unique_lock lock(mutex);
      changed.wait_for(lock, 10ms, [&] { return stopping.load(); });
    }
    poll_cells();
  }
}

void MqttBridge::Impl::resend_all() {
  for (OutChannel& out : outs) announce_channel(out);
  std::lock_guard lock(mutex);
  for (auto& [name, entry] : cells) {
    if (entry.owned) announce_cell(name, entry);
  }
}

// The bus is gone (its daemon stopped, died or was replaced): nothing
// of it is to be relayed any more. Says so, marks the bridge offline on
// the broker and leaves the bus alone (its ports are not used again).
void MqttBridge::Impl::leave_lost_bus(const Error& why) {
  spdlog::error("{}; the bridge goes offline", why.message());
  link->stop("offline");
  std::lock_guard lock(mutex);
  bus_lost = why;
  changed.notify_all();
}

}  // namespace statebus
