#pragma once
/// GoogleMock matchers on the calls of a service as a Recorder captured
/// them (testkit::calls, recorded_call.hpp): what a call asked, what it was
/// answered or why it was refused, and calls in an order.
///
///   auto boosts = testkit::calls<Boost, BoostAnswer>(*recorder, "home/heating/boost");
///   ASSERT_TRUE(boosts) << boosts.error().message();
///   EXPECT_THAT(*boosts, Contains(CalledWith(Field(&Boost::minutes, 30))));
///   EXPECT_THAT(*boosts, Contains(AllOf(CalledWith(Field(&Boost::minutes, 30)),
///                                       AnsweredWith(Field(&BoostAnswer::accepted, true)))));
///   EXPECT_THAT(*boosts, Contains(RefusedWith("at most 120")));
///   EXPECT_THAT(*boosts, ContainsInOrder(CalledWith(Field(&Boost::minutes, 30)),
///                                        CalledWith(Field(&Boost::minutes, 0))));
///
/// A failure lists the calls recorded, each with its caller, request,
/// answer and virtual times ("call 2 of pid 41 at 00:00:01.000 (…): {…} →
/// answered at 00:00:01.000 (…) by pid 40: {…}").

#include <cstddef>
#include <iterator>
#include <ostream>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <gmock/gmock.h>

#include "statebus/testing/matchers.hpp"
#include "statebus/testing/recorded_call.hpp"

namespace statebus::testkit {

namespace detail {
/// A recorded value for a failure message: its fields, or its size for bytes.
template <class T>
std::string render_value(const T& value) {
  return schema_of<T>().render_text(&value);
}
inline std::string render_value(const std::string& bytes) { return std::to_string(bytes.size()) + " bytes"; }

/// "answered at … by pid 40: {…}", "refused at … by pid 40: why", "not answered".
template <class Req, class Res>
std::string describe_answer(const RecordedCall<Req, Res>& call) {
  std::ostringstream out;
  if (call.response) {
    out << "answered at " << describe_virtual(call.response->virtual_time()) << " by pid "
        << call.response->header.publisher_pid << ": " << render_value(call.response->value);
  } else if (call.refusal) {
    out << (call.refusal->handler_failed ? "failed" : "refused") << " at "
        << describe_virtual(VirtualClock::time_point(VirtualClock::duration(call.refusal->header.virtual_time_ns)))
        << " by pid " << call.refusal->header.publisher_pid << ": " << call.refusal->reason;
  } else {
    out << "not answered (no reply or refusal recorded)";
  }
  return out.str();
}

/// "call 2 of pid 41 at 00:00:01.000 (…): {…}".
template <class Req, class Res>
std::string describe_request(const RecordedCall<Req, Res>& call) {
  std::ostringstream out;
  out << "call " << call.id << " of pid " << call.request.header.publisher_pid << " at "
      << describe_virtual(call.sent_at()) << ": " << render_value(call.request.value);
  return out.str();
}
}  // namespace detail

/// How GoogleTest prints a recorded call: request, answer, virtual times.
template <class Req, class Res>
void PrintTo(const RecordedCall<Req, Res>& call, std::ostream* os) {
  *os << detail::describe_request(call) << " → " << detail::describe_answer(call);
}

/// The matcher of CalledWith (`response` false) and AnsweredWith (true).
template <class Inner, bool kResponse>
class CallValueMatcher {
 public:
  explicit CallValueMatcher(Inner inner) : inner_(std::move(inner)) {}
  template <class Req, class Res>
  operator ::testing::Matcher<const RecordedCall<Req, Res>&>() const {  // NOLINT: implicit, as GoogleMock's own
    using Value = std::conditional_t<kResponse, Res, Req>;
    return ::testing::Matcher<const RecordedCall<Req, Res>&>(
        new Impl<Req, Res>(::testing::SafeMatcherCast<const Value&>(inner_)));
  }

 private:
  template <class Req, class Res>
  class Impl : public ::testing::MatcherInterface<const RecordedCall<Req, Res>&> {
    using Value = std::conditional_t<kResponse, Res, Req>;

   public:
    explicit Impl(::testing::Matcher<const Value&> inner) : inner_(std::move(inner)) {}
    bool MatchAndExplain(const RecordedCall<Req, Res>& call, ::testing::MatchResultListener* listener) const override {
      if constexpr (kResponse) {
        *listener << detail::describe_answer(call);
        if (!call.response) return false;
        return explain(inner_, call.response->value, listener);
      } else {
        *listener << detail::describe_request(call);
        return explain(inner_, call.request.value, listener);
      }
    }
    void DescribeTo(std::ostream* os) const override {
      *os << (kResponse ? "a call answered with a response that " : "a call whose request ");
      inner_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << (kResponse ? "a call not answered with a response that " : "a call whose request does not match: ");
      inner_.DescribeTo(os);
    }

   private:
    static bool explain(const ::testing::Matcher<const Value&>& inner, const Value& value,
                        ::testing::MatchResultListener* listener) {
      ::testing::StringMatchResultListener why;
      const bool matched = inner.MatchAndExplain(value, &why);
      if (!why.str().empty()) *listener << " (" << why.str() << ")";
      return matched;
    }
    ::testing::Matcher<const Value&> inner_;
  };
  Inner inner_;
};

/// A RecordedCall whose request matches `inner` (any matcher of Req).
template <class Inner>
CallValueMatcher<Inner, false> CalledWith(Inner inner) {
  return CallValueMatcher<Inner, false>(std::move(inner));
}

/// A RecordedCall answered with a response that matches `inner` (any
/// matcher of Res); a refused or unanswered call never matches.
template <class Inner>
CallValueMatcher<Inner, true> AnsweredWith(Inner inner) {
  return CallValueMatcher<Inner, true>(std::move(inner));
}

/// A RecordedCall refused (or failed in its handler) with a reason that
/// matches the ECMAScript regular expression `pattern` somewhere.
MATCHER_P(RefusedWith, pattern,
          std::string(negation ? "not " : "") + "a call refused with a reason matching /" + std::string(pattern) +
              "/") {
  *result_listener << detail::describe_answer(arg);
  return arg.refusal && std::regex_search(arg.refusal->reason, std::regex(std::string(pattern)));
}

/// The matcher of ContainsInOrder.
template <class... Matchers>
class ContainsInOrderMatcher {
 public:
  explicit ContainsInOrderMatcher(Matchers... matchers) : matchers_(std::move(matchers)...) {}
  template <class Container>
  operator ::testing::Matcher<const Container&>() const {  // NOLINT: implicit, as GoogleMock's own
    using Element = typename Container::value_type;
    std::vector<::testing::Matcher<const Element&>> each;
    std::apply([&](const auto&... m) { (each.push_back(::testing::SafeMatcherCast<const Element&>(m)), ...); },
               matchers_);
    return ::testing::Matcher<const Container&>(new Impl<Container>(std::move(each)));
  }

 private:
  template <class Container>
  class Impl : public ::testing::MatcherInterface<const Container&> {
    using Element = typename Container::value_type;

   public:
    explicit Impl(std::vector<::testing::Matcher<const Element&>> each) : each_(std::move(each)) {}
    bool MatchAndExplain(const Container& elements, ::testing::MatchResultListener* listener) const override {
      std::size_t next = 0;  // the first element still free
      std::vector<std::size_t> found;
      for (std::size_t k = 0; k < each_.size(); ++k) {
        std::size_t i = next;
        auto it = std::begin(elements);
        std::advance(it, static_cast<std::ptrdiff_t>(next));
        for (; it != std::end(elements) && !each_[k].Matches(*it); ++it) ++i;
        if (it == std::end(elements)) {
          *listener << "no element" << (k == 0 ? "" : " after element " + std::to_string(found.back())) << " is "
                    << describe(k);
          if (k > 0) *listener << " (the expectations before it matched elements " << list(found) << ")";
          return false;
        }
        found.push_back(i);
        next = i + 1;
      }
      *listener << "matched in order by elements " << list(found);
      return true;
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "has, in this order (other elements may come between):";
      for (std::size_t k = 0; k < each_.size(); ++k) *os << "\n  (" << k << ") " << describe(k);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "does not have, in this order:";
      for (std::size_t k = 0; k < each_.size(); ++k) *os << "\n  (" << k << ") " << describe(k);
    }

   private:
    std::string describe(std::size_t k) const {
      std::ostringstream out;
      each_[k].DescribeTo(&out);
      return out.str();
    }
    static std::string list(const std::vector<std::size_t>& found) {
      std::string out;
      for (const std::size_t i : found) out += (out.empty() ? "" : ", ") + std::to_string(i);
      return out;
    }
    std::vector<::testing::Matcher<const Element&>> each_;
  };
  std::tuple<Matchers...> matchers_;
};

/// A container with an element matching each of `matchers`, in this order
/// (other elements may come between): calls made in an order, samples sent
/// in an order. The failure names the first expectation no later element
/// meets.
template <class... Matchers>
ContainsInOrderMatcher<Matchers...> ContainsInOrder(Matchers... matchers) {
  static_assert(sizeof...(Matchers) > 0, "ContainsInOrder needs at least one matcher");
  return ContainsInOrderMatcher<Matchers...>(std::move(matchers)...);
}

}  // namespace statebus::testkit
