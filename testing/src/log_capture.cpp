#include "statebus/testing/log_capture.hpp"

#include <mutex>

#include <gtest/gtest.h>

namespace statebus::testkit {

struct LogCapture::Impl {
  Recorder recorder;
  mutable std::mutex mutex;
  std::vector<std::regex> expected;
  std::vector<std::string> expected_text;
  std::size_t checked = 0;  // records already reported by check()
  std::uint64_t gaps_reported = 0;
};

Result<LogCapture> LogCapture::start(const Node& node) {
  RecorderOptions options;
  options.patterns = {std::string(kLogChannel)};
  auto recorder = Recorder::start(node, std::move(options));
  if (!recorder) return tl::make_unexpected(recorder.error());
  // NOLINTNEXTLINE(modernize-make-unique): Impl is an aggregate, which make_unique cannot brace-initialise in C++17
  return LogCapture(std::unique_ptr<Impl>(new Impl{std::move(*recorder), {}, {}, {}, 0, 0}));
}

LogCapture::LogCapture(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
LogCapture::LogCapture(LogCapture&&) noexcept = default;
LogCapture& LogCapture::operator=(LogCapture&& other) noexcept {
  if (this != &other) {
    if (impl_) check();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
LogCapture::~LogCapture() {
  if (impl_) check();
}

WaitedFor<LogEntry> LogCapture::wait_for(LogLevel level, const std::string& pattern, VirtualTimeout timeout,
                                         std::string_view process) const {
  const std::regex re(pattern);
  return impl_->recorder.wait_for_log(
      [&](const LogEntry& entry) {
        return entry.level >= level && (process.empty() || entry.process == process) &&
               std::regex_search(entry.text, re);
      },
      timeout);
}

void LogCapture::expect_error(const std::string& pattern) {
  std::lock_guard lock(impl_->mutex);
  impl_->expected.emplace_back(pattern);
  impl_->expected_text.push_back(pattern);
}

std::vector<LogEntry> LogCapture::entries() const { return impl_->recorder.logs(); }

std::vector<LogEntry> LogCapture::unexpected_errors() const {
  std::vector<LogEntry> out;
  std::lock_guard lock(impl_->mutex);
  for (const LogEntry& entry : impl_->recorder.logs()) {
    if (entry.level < LogLevel::error) continue;
    const bool allowed = std::any_of(impl_->expected.begin(), impl_->expected.end(),
                                     [&](const std::regex& re) { return std::regex_search(entry.text, re); });
    if (!allowed) out.push_back(entry);
  }
  return out;
}

bool LogCapture::check() {
  bool clean = true;
  const auto all = impl_->recorder.logs();
  std::lock_guard lock(impl_->mutex);
  for (; impl_->checked < all.size(); ++impl_->checked) {
    const LogEntry& entry = all[impl_->checked];
    if (entry.level < LogLevel::error) continue;
    const bool allowed = std::any_of(impl_->expected.begin(), impl_->expected.end(),
                                     [&](const std::regex& re) { return std::regex_search(entry.text, re); });
    if (allowed) continue;
    clean = false;
    ADD_FAILURE() << "unexpected " << to_string(entry.level) << " log record from " << entry.process << " (pid "
                  << entry.pid << ", logger " << entry.logger << "): " << entry.text
                  << "\n  (call expect_error(pattern) on the LogCapture if the test expects it)";
  }
  std::uint64_t lost = 0;
  for (const RecordingGap& gap : impl_->recorder.gaps()) lost += gap.missing;
  if (lost > impl_->gaps_reported) {
    clean = false;
    ADD_FAILURE() << (lost - impl_->gaps_reported)
                  << " log records were lost before the capture saw them (a sink found the bus full, or the "
                     "capture's queue overflowed): an error among them would have gone unnoticed";
    impl_->gaps_reported = lost;
  }
  return clean;
}

}  // namespace statebus::testkit
