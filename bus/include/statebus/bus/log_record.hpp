#pragma once
/// Log records on the bus: the wire format of the `statebus/log` channel.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "statebus/clock/virtual_clock.hpp"

namespace statebus {

/// The channel every process's bus log sink publishes on.
inline constexpr std::string_view kLogChannel = "statebus/log";
/// Records each sink keeps for readers that connect late; log readers ask for as many.
inline constexpr std::uint32_t kLogHistory = 16;

/// Severity, as spdlog numbers them.
enum class LogLevel : std::uint8_t { trace = 0, debug = 1, info = 2, warn = 3, error = 4, critical = 5 };

/// "trace" … "critical".
std::string_view to_string(LogLevel level) noexcept;
/// Parses "trace", "debug", "info", "warn"/"warning", "error"/"err", "critical"; nothing otherwise.
std::optional<LogLevel> parse_log_level(std::string_view text) noexcept;

/// The fixed part of a record, followed by `text_size` bytes of text.
struct LogRecordHeader {
  std::int64_t virtual_time_ns = 0;  ///< the bus's VirtualClock when logged
  std::int64_t wall_time_ns = 0;     ///< CLOCK_REALTIME when logged (ns since 1970)
  std::int32_t pid = 0;
  LogLevel level = LogLevel::info;
  std::uint8_t reserved[3] = {};
  std::uint32_t dropped_before = 0;  ///< records this process could not publish just before this one
  std::uint32_t text_size = 0;
  char process[64] = {};             ///< NUL-terminated
  char logger[48] = {};              ///< NUL-terminated
};
static_assert(std::is_trivially_copyable_v<LogRecordHeader>);
static_assert(sizeof(LogRecordHeader) == 144, "LogRecordHeader is a wire format");

/// One decoded log record.
struct LogEntry {
  VirtualClock::time_point virtual_time{};            ///< the bus's VirtualClock when logged
  std::chrono::system_clock::time_point wall_time{};  ///< CLOCK_REALTIME when logged
  std::int32_t pid = 0;
  LogLevel level = LogLevel::info;
  std::uint32_t dropped_before = 0;
  std::string process;
  std::string logger;
  std::string text;
};

/// Decodes a record from a `statebus/log` payload; nothing if it is malformed
/// (too short, text past the end, names not terminated).
std::optional<LogEntry> decode_log_record(const void* data, std::size_t size);

/// Encodes a record into `out` (resized). Names longer than their fields are cut.
void encode_log_record(const LogEntry& entry, std::string& out);

}  // namespace statebus
