// The janitor's pool repair on a memory manager of the test's own, with a
// hook that makes a pool change in the middle of a look: only bookkeeping
// that stays wrong while the pool is still is set right.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "chunk_reclaimer.hpp"
#include "iceoryx_hoofs/internal/posix_wrapper/shared_memory_object/allocator.hpp"
#include "iceoryx_hoofs/internal/relocatable_pointer/base_relative_pointer.hpp"
#include "iceoryx_posh/internal/mepoo/chunk_management.hpp"
#include "iceoryx_posh/internal/mepoo/memory_manager.hpp"
#include "iceoryx_posh/internal/mepoo/shared_chunk.hpp"
#include "iceoryx_posh/internal/popo/ports/publisher_port_user.hpp"
#include "iceoryx_posh/internal/roudi/port_pool_data.hpp"
#include "iceoryx_posh/mepoo/chunk_settings.hpp"
#include "iceoryx_posh/mepoo/mepoo_config.hpp"
#include "iceoryx_posh/roudi/port_pool.hpp"

namespace statebus::detail {
namespace {

using namespace std::chrono_literals;

class PoolRepairTest : public ::testing::Test {
 public:
  PoolRepairTest() {
    config_.addMemPool({128, 8});
    management_memory_.resize(iox::mepoo::MemoryManager::requiredManagementMemorySize(config_));
    chunk_memory_.resize(iox::mepoo::MemoryManager::requiredChunkMemorySize(config_) + 64);
    // Chunk records point at chunks relative to a registered segment, as in shared memory.
    segments_ = {iox::rp::BaseRelativePointer::registerPtr(management_memory_.data(), management_memory_.size()),
                 iox::rp::BaseRelativePointer::registerPtr(chunk_memory_.data(), chunk_memory_.size())};
    iox::posix::Allocator management(management_memory_.data(), management_memory_.size());
    iox::posix::Allocator chunks(align64(chunk_memory_.data()), chunk_memory_.size() - 64);
    memory_.configureMemoryManager(config_, management, chunks);
    ports_data_ = std::make_unique<iox::roudi::PortPoolData>();
    ports_ = std::make_unique<iox::roudi::PortPool>(*ports_data_);
    reclaimer_ = std::make_unique<ChunkReclaimer>(*ports_, memory_);
    auto port = ports_->addPublisherPort({"test", "pool", "repair"}, &memory_, "pool-repair-test", {});
    EXPECT_FALSE(port.has_error());
    publisher_.emplace(port.value());
  }

  ~PoolRepairTest() override {
    reclaimer_.reset();
    for (const auto id : segments_) iox::rp::BaseRelativePointer::unregisterPtr(id);
  }

  static void* align64(std::uint8_t* p) {
    return reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(p) + 63) & ~std::uintptr_t{63});
  }

  ChunkReclaimer& reclaimer() { return *reclaimer_; }
  iox::popo::PublisherPortUser& publisher() { return *publisher_; }

  // A loan of a publisher port of the pool: a chunk in use that a port refers to.
  iox::mepoo::ChunkHeader* loan() {
    auto chunk = publisher_->tryAllocateChunk(64, 8);
    EXPECT_FALSE(chunk.has_error());
    return chunk.has_error() ? nullptr : chunk.value();
  }

  // Looks every 100 ms of the reclaimer's time for two grace periods.
  std::uint32_t counters_set_right(ChunkReclaimer::Clock::time_point start) {
    std::uint32_t counters = 0;
    for (auto t = 0ms; t <= 2 * ChunkReclaimer::kGrace; t += 100ms) counters += reclaimer_->scan(start + t).counters;
    return counters;
  }

 protected:
  iox::mepoo::MePooConfig config_;
  std::vector<std::uint8_t> management_memory_;
  std::vector<std::uint8_t> chunk_memory_;
  std::vector<iox::rp::BaseRelativePointer::id_t> segments_;
  iox::mepoo::MemoryManager memory_;
  std::unique_ptr<iox::roudi::PortPoolData> ports_data_;
  std::unique_ptr<iox::roudi::PortPool> ports_;
  std::unique_ptr<ChunkReclaimer> reclaimer_;
  std::optional<iox::popo::PublisherPortUser> publisher_;
};

TEST_F(PoolRepairTest, AStillPoolWithRightCountsIsLeftAlone) {
  auto* held = loan();
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(counters_set_right(ChunkReclaimer::Clock::now()), 0u);
  EXPECT_EQ(memory_.getMemPoolInfo(0).m_usedChunks, 1u);
  publisher_->releaseChunk(held);
}

// A chunk taken in the middle of every look, at `point`, and given back
// after it: each look sees the same error, but the pool was never wrong.
ChunksReclaimed looks_with_a_chunk_taken_at(PoolRepairTest& test, ChunkReclaimer::LookPoint point, bool every_other) {
  iox::mepoo::ChunkHeader* taken_mid_look = nullptr;
  bool armed = true;
  test.reclaimer().set_look_hook([&](ChunkReclaimer::LookPoint now) {
    if (now == point && armed && taken_mid_look == nullptr) taken_mid_look = test.loan();
  });
  const auto start = ChunkReclaimer::Clock::now();
  ChunksReclaimed total;
  for (auto t = 0ms; t <= 3 * ChunkReclaimer::kGrace; t += 100ms) {
    const auto look = test.reclaimer().scan(start + t);
    total.chunks += look.chunks;
    total.bookkeeping += look.bookkeeping;
    total.counters += look.counters;
    if (armed) {
      EXPECT_NE(taken_mid_look, nullptr);
    }
    if (taken_mid_look != nullptr) test.publisher().releaseChunk(std::exchange(taken_mid_look, nullptr));
    if (every_other) armed = !armed;
  }
  test.reclaimer().set_look_hook({});
  return total;
}

TEST_F(PoolRepairTest, ACountThatChangesDuringEveryLookIsNotSetRight) {
  const auto total = looks_with_a_chunk_taken_at(*this, ChunkReclaimer::LookPoint::counting, false);
  EXPECT_EQ(total.counters, 0u) << "a count was 'set right' that was never wrong";
  EXPECT_EQ(memory_.getMemPoolInfo(0).m_usedChunks, 0u);
}

TEST_F(PoolRepairTest, AChunkTakenAfterTheRecordsWereReadIsNotGivenBack) {
  const auto total = looks_with_a_chunk_taken_at(*this, ChunkReclaimer::LookPoint::finding, false);
  EXPECT_EQ(total.chunks, 0u) << "a chunk in use was given back";
  EXPECT_EQ(memory_.getMemPoolInfo(0).m_usedChunks, 0u);
}

// What a process killed inside a chunk's release leaves: the count of its
// record at 0, the record and the chunk still taken from their pools.
void leave_a_half_released_chunk(iox::mepoo::MemoryManager& memory) {
  auto settings = iox::mepoo::ChunkSettings::create(64, 8);
  ASSERT_FALSE(settings.has_error());
  auto chunk = memory.getChunk(settings.value());
  ASSERT_FALSE(chunk.has_error());
  iox::mepoo::ChunkManagement* record = chunk.value().release();
  record->m_referenceCounter.store(0, std::memory_order_relaxed);
}

void expect_the_pool_whole(iox::mepoo::MemoryManager& memory) {
  EXPECT_EQ(memory.getMemPoolInfo(0).m_usedChunks, 0u);
  auto settings = iox::mepoo::ChunkSettings::create(64, 8);
  std::vector<iox::mepoo::SharedChunk> all;
  for (int i = 0; i < 8; ++i) {
    auto again = memory.getChunk(settings.value());
    ASSERT_FALSE(again.has_error()) << "chunk " << i << " of 8";
    all.push_back(again.value());
  }
}

TEST_F(PoolRepairTest, AChunkAndRecordNothingManagesAreGivenBackAfterTheGrace) {
  leave_a_half_released_chunk(memory_);
  const auto start = ChunkReclaimer::Clock::now();
  ChunksReclaimed total;
  for (auto t = 0ms; t <= 2 * ChunkReclaimer::kGrace; t += 100ms) {
    const auto look = reclaimer_->scan(start + t);
    total.chunks += look.chunks;
    total.bookkeeping += look.bookkeeping;
    total.counters += look.counters;
  }
  EXPECT_EQ(total.chunks, 1u);
  EXPECT_EQ(total.bookkeeping, 1u);
  EXPECT_EQ(total.counters, 0u);
  expect_the_pool_whole(memory_);
}

// A busy bus: every other look is not still. The repair waits for still
// looks but does not start its grace again at each busy one.
TEST_F(PoolRepairTest, AChunkNothingManagesIsGivenBackOnABusyPoolToo) {
  leave_a_half_released_chunk(memory_);
  const auto total = looks_with_a_chunk_taken_at(*this, ChunkReclaimer::LookPoint::finding, true);
  EXPECT_EQ(total.chunks, 1u);
  EXPECT_EQ(total.bookkeeping, 1u);
  expect_the_pool_whole(memory_);
}

}  // namespace
}  // namespace statebus::detail
