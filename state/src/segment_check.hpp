#pragma once
// The state segment read as untrusted memory. Any member of the bus's group
// may write the segment, and a bug or a hand with a hex editor may leave
// values in it no statebus process wrote. Every count, offset and size a
// reader takes from it is read once, checked against the segment, and used
// only as checked: a bad one is `corrupt_segment`, naming the segment, the
// entry and the field, never a read outside the mapping or a hang.
// Internal to state/src.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "layout.hpp"
#include "statebus/base/error.hpp"

namespace statebus::detail {

/// A registry entry as checked: its fields copied out of shared memory.
struct CheckedCell {
  std::string name;
  std::uint32_t size = 0;          ///< value bytes (≤ kMaxValueSize)
  std::uint64_t fingerprint = 0;
  CellHeader* header = nullptr;    ///< inside the arena, with room for `size` bytes of copies
  std::string_view schema_json;    ///< inside the arena
};

/// The bytes of one copy of a value of `size` bytes, in 8-byte words.
constexpr std::uint32_t words_for(std::size_t size) noexcept { return static_cast<std::uint32_t>((size + 7) / 8); }

/// The `corrupt_segment` error for the state segment: `what` is wrong.
Error state_segment_damaged(const std::string& what);

/// How many registry entries there are to look at (≤ kMaxCells).
Result<std::uint32_t> checked_count(const StateRegistry& registry);

/// Entry `index` (below checked_count()): nothing while it is being
/// created, else the entry checked.
Result<std::optional<CheckedCell>> checked_cell(StateSegmentData& data, std::uint32_t index);

/// Where the registry's next cell may start (its arena_used, checked).
Result<std::uint64_t> checked_arena_used(const StateRegistry& registry);

}  // namespace statebus::detail
