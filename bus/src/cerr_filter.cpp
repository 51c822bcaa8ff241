#include "statebus/internal/cerr_filter.hpp"

#include <iostream>
#include <mutex>
#include <streambuf>
#include <string>

namespace statebus::detail {
namespace {

class LineFilter : public std::streambuf {
 public:
  explicit LineFilter(std::streambuf* out) : out_(out) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    std::lock_guard<std::mutex> guard(mutex_);
    line_.push_back(traits_type::to_char_type(c));
    if (c == '\n') flush_line();
    return c;
  }
  std::streamsize xsputn(const char* text, std::streamsize count) override {
    std::lock_guard<std::mutex> guard(mutex_);
    for (std::streamsize i = 0; i < count; ++i) {
      line_.push_back(text[i]);
      if (text[i] == '\n') flush_line();
    }
    return count;
  }
  int sync() override {
    std::lock_guard<std::mutex> guard(mutex_);
    return out_->pubsync();  // a partial line waits for its end: it may be one to drop
  }

 private:
  // iceoryx's format for a failed POSIX call, "FILE:LINE { FUNCTION -> CALL }
  // :::  [ ERRNO ]  TEXT", and its socket's complaints about a closed peer
  // or one whose socket file is gone (RouDi's goodbye to a dead process).
  static bool from_iceoryx(const std::string& line) {
    return (line.find(" }  :::  [ ") != std::string::npos && line.find(" -> ") != std::string::npos) ||
           line.rfind("invalid file descriptor for unix domain socket \"", 0) == 0 ||
           line.rfind("internal logic error in unix domain socket \"", 0) == 0;
  }
  void flush_line() {
    if (!from_iceoryx(line_)) {
      out_->sputn(line_.data(), static_cast<std::streamsize>(line_.size()));
      out_->pubsync();
    }
    line_.clear();
  }

  std::streambuf* out_;
  std::mutex mutex_;
  std::string line_;
};

}  // namespace

void filter_iceoryx_posix_errors() noexcept {
  static LineFilter* const filter = [] {
    auto* installed = new LineFilter(std::cerr.rdbuf());  // lives as long as std::cerr
    std::cerr.rdbuf(installed);
    return installed;
  }();
  (void)filter;
}

}  // namespace statebus::detail
