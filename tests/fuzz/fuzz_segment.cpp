// libFuzzer: the checks an opener runs on a shared-memory segment's header,
// on arbitrary segment contents: a clear error or a valid segment, never a
// crash (a foreign, truncated, wrong-version or stale segment in /dev/shm).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "statebus/internal/shared_segment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string name = "statebus-fuzz-segment-" + std::to_string(::getpid());
  const int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_TRUNC | O_RDWR, 0600);
  if (fd < 0) return 0;
  if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  const statebus::SharedSegment::Layout layout{0x5354415445425553ULL, 1, 0, 64, "fuzz segment"};
  (void)statebus::SharedSegment::open(name, layout);
  statebus::SharedSegment::unlink(name);
  return 0;
}
