#include "statebus/internal/iceoryx.hpp"

#include <string>

#include "statebus/bus/sample_header.hpp"

namespace statebus::detail {

iox::capro::ServiceDescription to_service_description(std::string_view channel) {
  const std::size_t first = channel.find('/');
  const std::size_t second = first == std::string_view::npos ? first : channel.find('/', first + 1);
  const std::string service(channel.substr(0, first));
  std::string instance = ".";
  std::string event = ".";
  if (first != std::string_view::npos) instance = std::string(channel.substr(first + 1, second - first - 1));
  if (second != std::string_view::npos) event = std::string(channel.substr(second + 1));
  // Lengths were checked by validate_channel_name(); truncation cannot happen.
  return {iox::capro::IdString_t(iox::cxx::TruncateToCapacity, service.c_str()),
          iox::capro::IdString_t(iox::cxx::TruncateToCapacity, instance.c_str()),
          iox::capro::IdString_t(iox::cxx::TruncateToCapacity, event.c_str())};
}

std::optional<std::uint32_t> required_chunk_size(std::uint32_t size, std::uint32_t align) noexcept {
  auto settings = iox::mepoo::ChunkSettings::create(size, align, sizeof(SampleHeader), alignof(SampleHeader));
  if (settings.has_error()) return std::nullopt;
  return settings.value().requiredChunkSize();
}

void set_iceoryx_log_level(bool verbose) noexcept {
  // Fatal errors only: iceoryx's warnings and errors are about what statebus
  // handles and says in its own words (a process re-registering after a
  // kill, one dropped for silence, an answer to a client killed meanwhile),
  // in colour codes, on the terminal of whoever runs the daemon.
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(verbose ? iox::log::LogLevel::kInfo
                                                                   : iox::log::LogLevel::kFatal,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
}

}  // namespace statebus::detail
