#pragma once
// Message types shared by the bus tests and their child processes.

#include <cstdint>
#include <cstring>

#include "statebus/base/describe.hpp"

namespace statebus::test {

struct Reading {
  std::uint64_t index = 0;
  double celsius = 0.0;
  char room[16] = {};
};
STATEBUS_MESSAGE(Reading, "test/Reading", index, celsius, room);

/// Fields without initialisers, as a user's first message type often is.
struct Bare {
  double celsius;
  char room[16];
  std::uint32_t count;
};
STATEBUS_MESSAGE(Bare, "test/Bare", celsius, room, count);

/// Another type: a subscriber of Reading must refuse it.
struct Wide {
  std::uint64_t values[8] = {};
};
STATEBUS_MESSAGE(Wide, "test/Wide", values);

/// Same size and field types as Reading, other field names: another type.
struct Renamed {
  std::uint64_t number = 0;
  double celsius = 0.0;
  char room[16] = {};
};
STATEBUS_MESSAGE(Renamed, "test/Renamed", number, celsius, room);

struct FourMiB {
  char bytes[4 * 1024 * 1024];
};
STATEBUS_MESSAGE(FourMiB, "test/FourMiB", bytes);

struct Huge {
  char bytes[5 * 1024 * 1024];
};
STATEBUS_MESSAGE(Huge, "test/Huge", bytes);

/// State-cell torture: a store writes all words equal, so a torn read shows.
struct Striped {
  std::uint64_t words[16] = {};
};
STATEBUS_MESSAGE(Striped, "test/Striped", words);

/// The largest cell value (64 KiB): a store takes long enough to be caught in it.
struct BigStriped {
  std::uint64_t words[8192] = {};
};
STATEBUS_MESSAGE(BigStriped, "test/BigStriped", words);

struct Counter {
  std::uint64_t value = 0;
};
STATEBUS_MESSAGE(Counter, "test/Counter", value);

/// For `statebus state set`: several kinds of fields.
enum class Mode : std::uint8_t { off, heat, eco };
STATEBUS_ENUM(Mode, off, heat, eco);
struct Thermostat {
  double celsius = 21.0;
  float band = 0.5F;
  Mode mode = Mode::heat;
  std::uint8_t level = 3;
  char room[12] = "living";
};
STATEBUS_MESSAGE(Thermostat, "test/Thermostat", celsius, band, mode, level, room);

/// A cell whose type declares the range of a field.
struct Limited {
  double celsius = 20.0;
  std::uint32_t count = 0;
};
STATEBUS_MESSAGE(Limited, "test/Limited", celsius, count);
STATEBUS_FIELD_INFO(Limited, statebus::field(&Limited::celsius).range(5, 30));

/// Checks a Striped value: all words equal.
template <class T>
bool consistent(const T& value) {
  for (const auto word : value.words) {
    if (word != value.words[0]) return false;
  }
  return true;
}

/// A service's request in the service tests: `note` tells the test server
/// what to do ("refuse", "throw", "hold"; anything else is answered).
struct Ask {
  std::uint64_t index = 0;
  double value = 0.0;
  char note[16] = {};
};
STATEBUS_MESSAGE(Ask, "test/Ask", index, value, note);

/// An Ask: `index`, `value` and `note` (its first 15 bytes).
inline Ask ask(std::uint64_t index, double value, const char* note = "") {
  Ask a;
  a.index = index;
  a.value = value;
  std::strncpy(a.note, note, sizeof a.note - 1);
  return a;
}

/// The test server's answer: the request's index and note, twice its value, its pid.
struct Answer {
  std::uint64_t index = 0;
  double doubled = 0.0;
  std::int64_t server_pid = 0;
  char note[16] = {};
};
STATEBUS_MESSAGE(Answer, "test/Answer", index, doubled, server_pid, note);

inline constexpr const char* kReadingChannel = "test/sensor/temperature";

}  // namespace statebus::test
