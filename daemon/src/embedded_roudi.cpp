#include "embedded_roudi.hpp"

#include <sys/statvfs.h>

#include <cerrno>
#include <string>

#include "iceoryx_hoofs/posix_wrapper/posix_access_rights.hpp"
#include "pools.hpp"

namespace statebus::detail {

iox::RouDiConfig_t make_roudi_config(const MemoryConfig& memory) {
  iox::RouDiConfig_t config;
  if (memory.iceoryx_defaults) {
    config.setDefaults();
    return config;
  }
  iox::mepoo::MePooConfig pools;
  for (const MemoryPool& pool : memory.pools) {
    // iceoryx adds its chunk header to the size it is given: ask for what
    // leaves whole chunks of pool_chunk_size, so that every chunk starts on
    // a cache line (a pool's memory follows the last one's whole chunks).
    pools.addMemPool(
        {pool_chunk_size(pool.payload_size) - static_cast<std::uint32_t>(sizeof(iox::mepoo::ChunkHeader)), pool.count});
  }
  const auto group = iox::posix::PosixGroup::getGroupOfCurrentProcess().getName();
  config.m_sharedMemorySegments.push_back({group, group, pools});
  config.optimize();
  return config;
}

Result<void> validate_memory(const MemoryConfig& memory) {
  if (memory.pools.empty()) return fail(Errc::invalid_argument, "the daemon's memory config has no pools");
  for (const MemoryPool& pool : memory.pools) {
    if (pool.count == 0 || pool.payload_size == 0) {
      return fail(Errc::invalid_argument, "a memory pool of the daemon has size " + std::to_string(pool.payload_size) +
                                              " and count " + std::to_string(pool.count) + "; both must be at least 1");
    }
    if (pool.payload_size > 1024U * 1024U * 1024U) {
      return fail(Errc::invalid_argument,
                  "a memory pool of " + std::to_string(pool.payload_size) + " bytes per sample is over 1 GiB");
    }
  }
  return {};
}

Result<void> check_shm_space(std::uint64_t needed) {
  struct statvfs fs {};
  if (::statvfs("/dev/shm", &fs) != 0) {
    return fail(Errc::system_error, "cannot inspect /dev/shm: " + errno_text(errno) + "; is it mounted?");
  }
  const std::uint64_t available = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (available < needed) {
    return fail(Errc::out_of_resources,
                "/dev/shm has " + std::to_string(available >> 20) + " MiB free but the daemon needs " +
                    std::to_string(needed >> 20) +
                    " MiB: free space there (stale segments?) or give the daemon smaller pools");
  }
  return {};
}

}  // namespace statebus::detail
