#include "statebus/bus/log_sink.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "spdlog/spdlog.h"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/log_ring.hpp"

namespace statebus {
namespace {

constexpr std::array<std::string_view, 6> kLevelNames = {"trace", "debug", "info", "warn", "error", "critical"};

template <std::size_t N>
void copy_name(char (&field)[N], std::string_view name) {
  const std::size_t n = std::min(name.size(), N - 1);
  std::memcpy(field, name.data(), n);
  std::memset(field + n, 0, N - n);
}

template <std::size_t N>
std::optional<std::string> read_name(const char (&field)[N]) {
  const void* end = std::memchr(field, 0, N);
  if (end == nullptr) return std::nullopt;
  return std::string(field, static_cast<const char*>(end));
}

// The wire's wall time: CLOCK_REALTIME in ns since 1970, system_clock's epoch.
std::int64_t wall_ns(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  const auto index = static_cast<std::size_t>(level);
  return index < kLevelNames.size() ? kLevelNames[index] : "unknown";
}

std::optional<LogLevel> parse_log_level(std::string_view text) noexcept {
  if (text == "warning") return LogLevel::warn;
  if (text == "err") return LogLevel::error;
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::optional<LogEntry> decode_log_record(const void* data, std::size_t size) {
  if (data == nullptr || size < sizeof(LogRecordHeader)) return std::nullopt;
  LogRecordHeader header;
  std::memcpy(&header, data, sizeof header);
  if (header.text_size > size - sizeof header || static_cast<std::uint8_t>(header.level) > 5) return std::nullopt;
  auto process = read_name(header.process);
  auto logger = read_name(header.logger);
  if (!process || !logger) return std::nullopt;
  LogEntry entry;
  entry.virtual_time = VirtualClock::time_point(VirtualClock::duration(header.virtual_time_ns));
  entry.wall_time = std::chrono::system_clock::time_point(std::chrono::nanoseconds(header.wall_time_ns));
  entry.pid = header.pid;
  entry.level = header.level;
  entry.dropped_before = header.dropped_before;
  entry.process = std::move(*process);
  entry.logger = std::move(*logger);
  entry.text.assign(static_cast<const char*>(data) + sizeof header, header.text_size);
  return entry;
}

void encode_log_record(const LogEntry& entry, std::string& out) {
  LogRecordHeader header;
  header.virtual_time_ns = entry.virtual_time.time_since_epoch().count();
  header.wall_time_ns = wall_ns(entry.wall_time);
  header.pid = entry.pid;
  header.level = entry.level;
  header.dropped_before = entry.dropped_before;
  header.text_size = static_cast<std::uint32_t>(entry.text.size());
  copy_name(header.process, entry.process);
  copy_name(header.logger, entry.logger);
  out.resize(sizeof header + entry.text.size());
  std::memcpy(out.data(), &header, sizeof header);
  std::memcpy(out.data() + sizeof header, entry.text.data(), entry.text.size());
}

Result<std::shared_ptr<BusLogSink>> BusLogSink::create(const Node& node, std::string process_name) {
  if (auto claimed = detail::LogWriter::claim(); !claimed) return tl::make_unexpected(claimed.error());
  if (process_name.empty()) process_name = node.name();
  return std::shared_ptr<BusLogSink>(new BusLogSink(std::move(process_name)));
}

BusLogSink::BusLogSink(std::string process_name) {
  prototype_.pid = static_cast<std::int32_t>(this_process().pid);
  copy_name(prototype_.process, process_name);
}

void BusLogSink::sink_it_(const spdlog::details::log_msg& message) {
  // Any thread, no lock of its own: the ring's writer takes one record at a time.
  LogRecordHeader header = prototype_;
  header.wall_time_ns = wall_ns(message.time);
  header.level = static_cast<LogLevel>(std::min<int>(static_cast<int>(message.level), 5));
  header.dropped_before = dropped_since_last_.load(std::memory_order_relaxed);
  copy_name(header.logger, std::string_view(message.logger_name.data(), message.logger_name.size()));
  if (!detail::LogWriter::write(header, std::string_view(message.payload.data(), message.payload.size()))) {
    dropped_since_last_.fetch_add(1, std::memory_order_relaxed);
    dropped_total_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (header.dropped_before != 0) dropped_since_last_.fetch_sub(header.dropped_before, std::memory_order_relaxed);
  published_.fetch_add(1, std::memory_order_relaxed);
}

namespace {

std::mutex g_shared_mutex;
std::shared_ptr<BusLogSink> g_shared;  // the one sink log_to_bus hands out

// At exit, before spdlog's registry is destroyed (it was constructed before
// this handler was registered): take the sink out of every logger and
// destroy it, so that no logger writes through it while the process ends.
void detach_at_exit() {
  const std::lock_guard<std::mutex> lock(g_shared_mutex);
  if (!g_shared) return;
  auto remove = [](const std::shared_ptr<spdlog::logger>& logger) {
    if (!logger) return;
    auto& sinks = logger->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), g_shared), sinks.end());
  };
  remove(spdlog::default_logger());
  spdlog::apply_all(remove);
  g_shared.reset();
}

}  // namespace

Result<std::shared_ptr<BusLogSink>> log_to_bus(const Node& node, std::string process_name) {
  const std::lock_guard<std::mutex> lock(g_shared_mutex);
  if (!g_shared) {
    auto sink = BusLogSink::create(node, std::move(process_name));
    if (!sink) return sink;
    // spdlog's registry must exist before the handler is registered, so that
    // the handler runs before the registry is destroyed.
    (void)spdlog::default_logger();
    static const bool registered = std::atexit(detach_at_exit) == 0;
    (void)registered;
    g_shared = std::move(*sink);
  }
  auto add = [](const std::shared_ptr<spdlog::logger>& logger) {
    if (!logger) return;
    auto& sinks = logger->sinks();
    if (std::find(sinks.begin(), sinks.end(), g_shared) == sinks.end()) sinks.push_back(g_shared);
  };
  add(spdlog::default_logger());
  spdlog::apply_all(add);
  return g_shared;
}

}  // namespace statebus
