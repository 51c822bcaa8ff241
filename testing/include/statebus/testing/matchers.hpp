#pragma once
/// GoogleMock matchers for what a Recorder captured: values, virtual time,
/// order, sequence gaps and log records.
///
///   auto heater = recorder->samples<HeaterCommand>("home/actuator/heater");
///   ASSERT_TRUE(heater) << heater.error().message();
///   EXPECT_THAT(*heater, Contains(AllOf(RecordedValue(Field(&HeaterCommand::on, true)),
///                                       VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min))));
///   EXPECT_THAT(*heater, InVirtualTimeOrder());
///   EXPECT_THAT(*heater, WithoutSequenceGaps());
///   EXPECT_THAT(recorder->logs(), Contains(IsLog(LogLevel::warn, "dwell")));

#include <cstdint>
#include <map>
#include <regex>
#include <ostream>
#include <string>
#include <utility>

#include <gmock/gmock.h>

#include "statebus/bus/log_record.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/recorder/recorder.hpp"

namespace statebus::testkit {

namespace detail {
template <class T>
VirtualClock::time_point virtual_time(const Recorded<T>& r) {
  return r.virtual_time();
}
inline VirtualClock::time_point virtual_time(const RecordedSample& r) {
  return VirtualClock::time_point(VirtualClock::duration(r.header.virtual_time_ns));
}
inline VirtualClock::time_point virtual_time(const LogEntry& e) { return e.virtual_time; }
template <class T>
const SampleHeader& header_of(const Recorded<T>& r) { return r.header; }
inline const SampleHeader& header_of(const RecordedSample& r) { return r.header; }
/// "06:00:05.250 (21605250000000 ns)" for a virtual time, counted from the
/// clock's zero as tests speak of it.
std::string describe_virtual(VirtualClock::time_point time);
}  // namespace detail

template <class Inner>
class RecordedValueMatcher {
 public:
  explicit RecordedValueMatcher(Inner inner) : inner_(std::move(inner)) {}
  template <class T>
  operator ::testing::Matcher<const Recorded<T>&>() const {  // NOLINT: implicit, as GoogleMock's own
    return ::testing::Matcher<const Recorded<T>&>(new Impl<T>(::testing::SafeMatcherCast<const T&>(inner_)));
  }

 private:
  template <class T>
  class Impl : public ::testing::MatcherInterface<const Recorded<T>&> {
   public:
    explicit Impl(::testing::Matcher<const T&> inner) : inner_(std::move(inner)) {}
    bool MatchAndExplain(const Recorded<T>& recorded, ::testing::MatchResultListener* listener) const override {
      return inner_.MatchAndExplain(recorded.value, listener);
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "whose value ";
      inner_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "whose value ";
      inner_.DescribeNegationTo(os);
    }

   private:
    ::testing::Matcher<const T&> inner_;
  };
  Inner inner_;
};

/// A Recorded<T> whose value matches `inner` (any matcher of T).
template <class Inner>
RecordedValueMatcher<Inner> RecordedValue(Inner inner) {
  return RecordedValueMatcher<Inner>(std::move(inner));
}

/// A Recorded<T>, RecordedSample or LogEntry published at a virtual time in
/// [from, to] (both included).
MATCHER_P2(VirtualTimeBetween, from, to,
           std::string(negation ? "not " : "") + "published at a virtual time in [" + detail::describe_virtual(from) +
               ", " + detail::describe_virtual(to) + "]") {
  const VirtualClock::time_point t = detail::virtual_time(arg);
  *result_listener << "published at " << detail::describe_virtual(t);
  return t >= from && t <= to;
}

/// A container whose elements' virtual times never go backwards.
MATCHER(InVirtualTimeOrder, std::string(negation ? "not " : "") + "in virtual time order") {
  std::size_t index = 0;
  VirtualClock::time_point last{};
  bool first = true;
  for (const auto& element : arg) {
    const VirtualClock::time_point t = detail::virtual_time(element);
    if (!first && t < last) {
      *result_listener << "element " << index << " at " << detail::describe_virtual(t) << " comes after one at "
                       << detail::describe_virtual(last);
      return false;
    }
    first = false;
    last = t;
    ++index;
  }
  return true;
}

/// A container of Recorded<T> or RecordedSample in which every publisher's
/// sequence numbers follow each other without a gap (each one more than its last).
MATCHER(WithoutSequenceGaps, std::string(negation ? "with" : "without") + " gaps in any publisher's sequence") {
  std::map<std::uint64_t, std::uint64_t> last;  // by publisher port
  std::size_t index = 0;
  for (const auto& element : arg) {
    const SampleHeader& h = detail::header_of(element);
    const auto found = last.find(h.publisher_port);
    if (found != last.end() && h.sequence != found->second + 1) {
      *result_listener << "element " << index << " (pid " << h.publisher_pid << ") has sequence " << h.sequence
                       << " after " << found->second;
      return false;
    }
    last[h.publisher_port] = h.sequence;
    ++index;
  }
  return true;
}

/// A LogEntry of at least `level` whose text matches the ECMAScript regular
/// expression `pattern` somewhere.
MATCHER_P2(IsLog, level, pattern,
           std::string(negation ? "not " : "") + "a log record of level " + std::string(to_string(level)) +
               " or more matching /" + std::string(pattern) + "/") {
  *result_listener << "a " << to_string(arg.level) << " record of " << arg.process << ": \"" << arg.text << "\"";
  return arg.level >= level && std::regex_search(arg.text, std::regex(std::string(pattern)));
}

}  // namespace statebus::testkit

namespace statebus {
/// How GoogleTest prints what the recorder captured in a failure message.
template <class T>
void PrintTo(const Recorded<T>& recorded, std::ostream* os) {
  *os << schema_of<T>().render_text(&recorded.value) << " at "
      << testkit::detail::describe_virtual(recorded.virtual_time()) << " (seq " << recorded.header.sequence << ", pid "
      << recorded.header.publisher_pid << ")";
}
inline void PrintTo(const LogEntry& entry, std::ostream* os) {
  *os << "[" << to_string(entry.level) << "] " << entry.process << ": " << entry.text << " at "
      << testkit::detail::describe_virtual(entry.virtual_time);
}
}  // namespace statebus
