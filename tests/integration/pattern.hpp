#pragma once
// Payloads that prove themselves: every byte follows from the first sixteen
// (the publisher's tag and the sample's sequence), so a chunk that two
// owners wrote, or one handed out while another still held it, fails the
// check on its reader's side. Shared by the crash tests and their children.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace statebus::test {

inline constexpr std::size_t kPatternHead = 2 * sizeof(std::uint64_t);

inline std::uint8_t pattern_byte(std::uint64_t tag, std::uint64_t sequence, std::size_t at) noexcept {
  const std::uint64_t mixed = (sequence * 0x9E3779B97F4A7C15ULL) ^ (tag * 0xBF58476D1CE4E5B9ULL) ^ (at * 0x94D049BBULL);
  return static_cast<std::uint8_t>(mixed >> 29);
}

/// Fills `size` bytes (at least kPatternHead) for sample `sequence` of the publisher `tag`.
inline void fill_pattern(void* payload, std::size_t size, std::uint64_t tag, std::uint64_t sequence) noexcept {
  auto* bytes = static_cast<std::uint8_t*>(payload);
  std::memcpy(bytes, &tag, sizeof tag);
  std::memcpy(bytes + sizeof tag, &sequence, sizeof sequence);
  for (std::size_t at = kPatternHead; at < size; ++at) bytes[at] = pattern_byte(tag, sequence, at);
}

/// True if every byte follows from the head; `tag` and `sequence` get the head's.
inline bool pattern_intact(const void* payload, std::size_t size, std::uint64_t& tag,
                           std::uint64_t& sequence) noexcept {
  if (size < kPatternHead) return false;
  const auto* bytes = static_cast<const std::uint8_t*>(payload);
  std::memcpy(&tag, bytes, sizeof tag);
  std::memcpy(&sequence, bytes + sizeof tag, sizeof sequence);
  for (std::size_t at = kPatternHead; at < size; ++at) {
    if (bytes[at] != pattern_byte(tag, sequence, at)) return false;
  }
  return true;
}

}  // namespace statebus::test
