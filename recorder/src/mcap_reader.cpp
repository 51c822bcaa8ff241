// mcap::Reader: maps (or reads) a file and runs the scanner over it, once
// in open() for schemas, channels and counts, again per for_each_message().
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "mcap_format.hpp"
#include "mcap_scanner.hpp"
#include "statebus/recorder/mcap.hpp"

namespace statebus::mcap {

using namespace detail;

struct Reader::Impl {
  std::string name;
  void* map = nullptr;
  std::size_t map_size = 0;
  std::string owned;
  const Byte* data = nullptr;
  std::uint64_t size = 0;
  ScanResult scan;
  Statistics stats;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (map != nullptr) ::munmap(map, map_size);
  }

  static Result<std::unique_ptr<Impl>> load(std::unique_ptr<Impl> impl) {
    auto& s = *impl;
    auto& st = s.stats;
    std::vector<std::uint64_t> counts;  // by channel id, grown to the largest id seen
    Scanner scanner(s.data, s.size, s.name, s.scan);
    auto ok = scanner.run([&](const Message& m) {
      if (st.message_count == 0) {
        st.message_start_time = st.message_end_time = m.log_time;
      } else {
        st.message_start_time = std::min(st.message_start_time, m.log_time);
        st.message_end_time = std::max(st.message_end_time, m.log_time);
      }
      ++st.message_count;
      if (m.channel_id >= counts.size()) counts.resize(std::size_t{m.channel_id} + 1);
      ++counts[m.channel_id];
      return true;
    });
    if (!ok) return tl::make_unexpected(ok.error());
    for (std::size_t id = 0; id < counts.size(); ++id) {
      if (counts[id] != 0) st.channel_message_counts[static_cast<std::uint16_t>(id)] = counts[id];
    }
    st.chunk_count = s.scan.chunk_count;
    st.schema_count = static_cast<std::uint16_t>(s.scan.schemas.size());
    st.channel_count = static_cast<std::uint32_t>(s.scan.channels.size());
    return impl;
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Reader::Reader(Reader&& other) noexcept = default;
Reader& Reader::operator=(Reader&& other) noexcept = default;
Reader::~Reader() = default;

Result<Reader> Reader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return fail(e == EACCES || e == EPERM ? Errc::not_permitted : Errc::system_error,
                "cannot open MCAP file " + path + ": " + errno_text(e));
  }
  auto impl = std::make_unique<Impl>();
  impl->name = path;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(Errc::system_error, "cannot stat MCAP file " + path + ": " + errno_text(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail(Errc::invalid_argument, path + " is a directory, not an MCAP file");
  }
  if (!S_ISREG(st.st_mode)) {
    // A pipe or a device (/dev/zero) could hand us bytes without end.
    ::close(fd);
    return fail(Errc::invalid_argument, path + " is not a regular file (a pipe, a socket or a device): recordings "
                                               "are read from files; save it to a file first");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return fail(Errc::invalid_argument, path + " is empty (0 bytes): not an MCAP file");
  }
  // Mapped, not read: a recording larger than memory plays all the same,
  // and every record's length is checked against the file's.
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int e = errno;
  ::close(fd);
  if (map == MAP_FAILED) return fail(Errc::system_error, "cannot map MCAP file " + path + ": " + errno_text(e));
  impl->map = map;
  impl->map_size = size;
  impl->data = static_cast<const Byte*>(map);
  impl->size = size;
  auto loaded = Impl::load(std::move(impl));
  if (!loaded) return tl::make_unexpected(loaded.error());
  return Reader(std::move(*loaded));
}

Result<Reader> Reader::from_bytes(std::string bytes, std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->name = std::move(name);
  impl->owned = std::move(bytes);
  impl->data = reinterpret_cast<const Byte*>(impl->owned.data());
  impl->size = impl->owned.size();
  auto loaded = Impl::load(std::move(impl));
  if (!loaded) return tl::make_unexpected(loaded.error());
  return Reader(std::move(*loaded));
}

namespace {
const ScanResult kEmptyScan;
}  // namespace

const std::map<std::uint16_t, SchemaInfo>& Reader::schemas() const noexcept {
  return impl_ ? impl_->scan.schemas : kEmptyScan.schemas;
}
const std::map<std::uint16_t, ChannelInfo>& Reader::channels() const noexcept {
  return impl_ ? impl_->scan.channels : kEmptyScan.channels;
}

Result<void> Reader::for_each_message(const std::function<bool(const Message&)>& f) const {
  if (!impl_) return fail(Errc::invalid_argument, "mcap::Reader::for_each_message on a moved-from Reader");
  if (!f) return fail(Errc::invalid_argument, "mcap::Reader::for_each_message: empty callback");
  ScanResult scratch;  // the second pass rebuilds what open() kept; only the messages matter
  Scanner scanner(impl_->data, impl_->size, impl_->name, scratch);
  return scanner.run([&f](const Message& m) { return f(m); });
}

bool Reader::truncated() const noexcept { return impl_ && impl_->scan.truncated; }
const std::string& Reader::truncation() const noexcept {
  return impl_ ? impl_->scan.truncation : kEmptyScan.truncation;
}
const std::string& Reader::profile() const noexcept {
  return impl_ ? impl_->scan.profile : kEmptyScan.profile;
}
const std::string& Reader::library() const noexcept {
  return impl_ ? impl_->scan.library : kEmptyScan.library;
}
Statistics Reader::statistics() const { return impl_ ? impl_->stats : Statistics{}; }
bool Reader::has_summary() const noexcept { return impl_ && impl_->scan.has_summary; }

}  // namespace statebus::mcap
