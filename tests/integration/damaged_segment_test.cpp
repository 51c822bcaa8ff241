// Segments any member of the bus's group may write, damaged as a stray
// write or a hex editor would: every reader says which segment and which
// field, with exit status 1 from the CLI, never a crash, a hang or a read
// outside the mapping; and what was not damaged is kept.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "clock_state.hpp"  // clock/src: the segment's layout
#include "layout.hpp"       // state/src: the segment's layout
#include "run_cli.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using test::run_cli;

// The data of the segment `name` as this process maps it anew (after the
// 64-byte header), writable, as any member of the bus's group may map it.
template <typename Data>
class Mapped {
 public:
  explicit Mapped(const char* name) {
    const int fd = ::shm_open((std::string("/") + name).c_str(), O_RDWR, 0);
    EXPECT_GE(fd, 0) << name;
    if (fd < 0) return;
    base_ = ::mmap(nullptr, 64 + sizeof(Data), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    EXPECT_NE(base_, MAP_FAILED);
    if (base_ == MAP_FAILED) base_ = nullptr;
  }
  ~Mapped() {
    if (base_ != nullptr) ::munmap(base_, 64 + sizeof(Data));
  }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  Data* operator->() const { return reinterpret_cast<Data*>(static_cast<char*>(base_) + 64); }
  explicit operator bool() const { return base_ != nullptr; }

 private:
  void* base_ = nullptr;
};

bool says(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

using DamagedSegment = testkit::BusTest;

// Reaches: list_cells Errc::corrupt_segment
TEST_F(DamagedSegment, AStateRegistryCountingTooManyCellsIsAnErrorAndTheValuesAreKept) {
  auto cell = Cell<test::Counter>::open_or_create("test/kept", test::Counter{7});
  ASSERT_TRUE(cell);
  Mapped<detail::StateSegmentData> state(detail::kStateSegmentName);
  ASSERT_TRUE(state);
  const std::uint32_t count = state->registry.count.load();
  state->registry.count.store(300);

  const auto listed = list_cells();
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code(), Errc::corrupt_segment);
  EXPECT_TRUE(says(listed.error().message(), "its registry counts 300 cells, over the 256 it holds"))
      << listed.error().message();
  for (const std::vector<std::string>& args : {std::vector<std::string>{"state"},
                                               std::vector<std::string>{"state", "get", "test/kept"},
                                               std::vector<std::string>{"state", "set", "test/kept", "value=9"}}) {
    std::string errors;
    const auto [out, code] = run_cli(args, &errors);
    EXPECT_EQ(code, 1) << args.size() << errors;
    EXPECT_TRUE(says(errors, "the state segment (/dev/shm/statebus-state) is damaged: its registry counts 300"))
        << errors;
    EXPECT_TRUE(says(errors, "restart `statebus daemon`")) << errors;
  }
  // The damage undone, the value is the one stored before: nothing was written meanwhile.
  state->registry.count.store(count);
  std::string errors;
  const auto [out, code] = run_cli({"state", "get", "test/kept"}, &errors);
  EXPECT_EQ(code, 0) << errors;
  EXPECT_EQ(cell->load().value, 7U);
  EXPECT_EQ(cell->version(), 1U);
}

TEST_F(DamagedSegment, ACellEntryPointingOutsideTheArenaIsAnErrorNamingTheCellAndField) {
  auto cell = Cell<test::Counter>::open_or_create("test/entry", test::Counter{3});
  ASSERT_TRUE(cell);
  Mapped<detail::StateSegmentData> state(detail::kStateSegmentName);
  ASSERT_TRUE(state);
  detail::RegistryEntry* entry = nullptr;
  for (auto& e : state->registry.entries) {
    if (std::string(e.name) == "test/entry") entry = &e;
  }
  ASSERT_NE(entry, nullptr);
  struct Damage {
    const char* field;
    std::uint64_t* word;
    std::uint64_t value;
  };
  const std::uint64_t offset = entry->cell_offset;
  const std::uint64_t schema = entry->schema_offset;
  for (const Damage& d : {Damage{"cell_offset", &entry->cell_offset, detail::kArenaSize - 64},
                          Damage{"cell_offset", &entry->cell_offset, offset + 8},
                          Damage{"schema_offset", &entry->schema_offset, std::numeric_limits<std::uint64_t>::max()}}) {
    const std::uint64_t before = *d.word;
    *d.word = d.value;
    std::string errors;
    const auto [out, code] = run_cli({"state", "get", "test/entry"}, &errors);
    EXPECT_EQ(code, 1) << d.field << " " << d.value << ": " << errors;
    EXPECT_TRUE(says(errors, "cell")) << errors;
    EXPECT_TRUE(says(errors, "('test/entry') has " + std::string(d.field) + " " + std::to_string(d.value)))
        << errors;
    *d.word = before;
  }
  EXPECT_EQ(entry->cell_offset, offset);
  EXPECT_EQ(entry->schema_offset, schema);
  // A size over the largest value: never read as that many bytes.
  const std::uint32_t size = entry->size;
  entry->size = 70000;
  std::string errors;
  const auto [out, code] = run_cli({"state"}, &errors);
  EXPECT_EQ(code, 1) << errors;
  EXPECT_TRUE(says(errors, "('test/entry') has size 70000, not 1 to 65536 bytes")) << errors;
  entry->size = size;
  EXPECT_EQ(cell->load().value, 3U);
}

TEST_F(DamagedSegment, AClockRateNoProcessWritesStopsTimeSaysSoAndTheNextChangeMendsIt) {
  ASSERT_TRUE(VirtualClock::set_rate(1000));
  Mapped<detail::ClockState> clock(detail::kClockSegmentName);
  ASSERT_TRUE(clock);
  detail::ClockSlot& slot = clock->slot[clock->params.version.load() & 1U];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::uint64_t bits = 0;
  std::memcpy(&bits, &nan, sizeof bits);
  slot.rate_bits.store(bits);

  const auto status = VirtualClock::status();
  EXPECT_TRUE(says(status.damage, "holds a rate no statebus process writes")) << status.damage;
  EXPECT_EQ(VirtualClock::now(), VirtualClock::now()) << "a damaged clock stands";
  std::string errors;
  auto [out, code] = run_cli({"clock"}, &errors);
  EXPECT_EQ(code, 1) << out << errors;
  EXPECT_TRUE(says(errors, "the clock segment (/dev/shm/statebus-clock) holds a rate")) << errors;
  EXPECT_TRUE(says(errors, "statebus clock --real")) << errors;

  errors.clear();
  std::tie(out, code) = run_cli({"clock", "--real"}, &errors);
  EXPECT_EQ(code, 0) << out << errors;
  EXPECT_TRUE(VirtualClock::status().damage.empty()) << VirtualClock::status().damage;
  EXPECT_EQ(VirtualClock::status().mode, ClockMode::real);
}

}  // namespace
}  // namespace statebus
