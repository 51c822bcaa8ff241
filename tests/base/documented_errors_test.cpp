// Every error code a public call's /// comment promises (`Errc::code`) is
// reached by a test: one marked `// Reaches: Class::call Errc::code` whose
// body names that code. A code no test reaches leaves the doc, or gets its
// test. Headers: bus/, daemon/, state/, clock/ and service/include/statebus/<module>/*.hpp.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/base/error.hpp"

namespace statebus {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = STATEBUS_SOURCE_DIR;
const char* const kThisFile = "tests/base/documented_errors_test.cpp";

// "Daemon::start Errc::already_running": a call (Class::call, or call for a
// free function) and a code its doc promises.
using Pair = std::pair<std::string, std::string>;

std::string describe(const Pair& pair) { return pair.first + " Errc::" + pair.second; }

// Where a pair is documented, or marked: "file:line".
struct Place {
  Pair pair;
  std::string where;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trimmed(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  return first == std::string::npos ? std::string() : line.substr(first);
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// The pairs a header documents. A `///` block's `Errc::x` mentions belong
// to the declaration after it (template lines and plain comments skipped);
// the class is the innermost class or struct open at that line. Mentions
// before something that is not a call are reported in `misplaced`.
struct Documented {
  std::vector<Place> pairs;
  std::vector<std::string> misplaced;
};

Documented documented_pairs(const std::string& text, const std::string& file) {
  static const std::regex code(R"(\bErrc::(\w+))");  // not CallErrc::
  static const std::regex class_head(R"(^\s*(?:class|struct)\s+(\w+)[^;]*$)");
  static const std::regex call_name(R"((~?\w+)\s*\()");
  const auto lines = lines_of(text);
  Documented out;
  std::vector<std::pair<std::string, int>> classes;  // name, brace depth inside it
  int depth = 0;
  std::vector<std::pair<std::string, std::size_t>> pending;  // codes of the open /// block, line
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string line = trimmed(lines[i]);
    if (starts_with(line, "///")) {
      for (auto it = std::sregex_iterator(line.begin(), line.end(), code); it != std::sregex_iterator(); ++it) {
        pending.emplace_back((*it)[1], i + 1);
      }
      continue;
    }
    if (line.empty() || starts_with(line, "//") || starts_with(line, "template")) continue;
    if (!pending.empty()) {
      std::smatch name;
      const std::string where = file + ":" + std::to_string(pending.front().second);
      if (std::regex_search(line, name, call_name) && !std::regex_match(line, class_head)) {
        const std::string call = classes.empty() ? name[1].str() : classes.back().first + "::" + name[1].str();
        for (const auto& [mention, at] : pending) {
          out.pairs.push_back({{call, mention}, file + ":" + std::to_string(at)});
        }
      } else {
        out.misplaced.push_back(where + ": Errc:: in the comment of `" + line +
                                "`, which is no call; put each code on the call that returns it");
      }
      pending.clear();
    }
    // Braces of the code part of the line (a trailing ///< comment ignored).
    const std::string code_part = line.substr(0, line.find("//"));
    std::smatch head;
    const bool opens_class = std::regex_match(line, head, class_head) && code_part.find('{') != std::string::npos;
    for (char c : code_part) {
      if (c == '{') ++depth;
      if (c == '}') {
        --depth;
        while (!classes.empty() && depth < classes.back().second) classes.pop_back();
      }
    }
    if (opens_class) classes.emplace_back(head[1], depth);
  }
  return out;
}

// The TEST, TEST_F and TEST_P lines of a test source.
bool is_test_line(const std::string& line) {
  static const std::regex test(R"(^\s*TEST(_F|_P)?\s*\()");
  return std::regex_search(line, test);
}

struct Marker {
  Place place;
  bool body_names_code = false;  // the marked test's body has Errc::code besides markers and comments
};

// The markers of a test source, each with whether the test it marks names
// its code. A marker above a TEST (only comments between) marks that test;
// one inside a body, the rest of it. The body ends at the next TEST or the
// end of the file.
std::vector<Marker> markers_in(const std::string& text, const std::string& file) {
  static const std::regex marker(R"(//\s*Reaches:\s*([\w:~]+)\s+Errc::(\w+))");
  const auto lines = lines_of(text);
  std::vector<Marker> out;
  for (std::size_t m = 0; m < lines.size(); ++m) {
    std::smatch found;
    if (!std::regex_search(lines[m], found, marker)) continue;
    Marker mark{{{found[1], found[2]}, file + ":" + std::to_string(m + 1)}, false};
    std::size_t start = m + 1;
    while (start < lines.size() && starts_with(trimmed(lines[start]), "//")) ++start;
    if (start < lines.size() && is_test_line(lines[start])) {
      ++start;
    } else {
      start = m + 1;
    }
    const std::regex named("Errc::" + mark.place.pair.second + R"(\b)");
    for (std::size_t i = start; i < lines.size() && !is_test_line(lines[i]); ++i) {
      if (starts_with(trimmed(lines[i]), "//")) continue;  // markers and comments do not count
      if (std::regex_search(lines[i], named)) {
        mark.body_names_code = true;
        break;
      }
    }
    out.push_back(std::move(mark));
  }
  return out;
}

std::vector<fs::path> files_under(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> public_headers() {
  std::vector<fs::path> headers;
  for (const char* dir : {"bus/include/statebus/bus", "daemon/include/statebus/daemon", "state/include/statebus/state",
                          "clock/include/statebus/clock", "service/include/statebus/service"}) {
    for (const auto& entry : fs::directory_iterator(kSourceDir / dir)) {  // not detail/
      if (entry.is_regular_file() && entry.path().extension() == ".hpp") headers.push_back(entry.path());
    }
  }
  std::sort(headers.begin(), headers.end());
  return headers;
}

std::string in_source_dir(const fs::path& path) { return fs::relative(path, kSourceDir).generic_string(); }

std::set<std::string> error_code_names() {
  std::set<std::string> names;
  for (int i = 0; to_string(static_cast<Errc>(i)) != "unknown"; ++i) names.insert(std::string(to_string(static_cast<Errc>(i))));
  return names;
}

// The reader itself, on a header written for it.
TEST(DocumentedErrors, ReadsEachCodeOfACommentAsTheNextCallsInItsClass) {
  const std::string header = R"(/// A file comment.
#include <x>
namespace statebus {
/// Fails with Errc::no_daemon.
Result<int> free_call();
class Thing {
 public:
  /// Fails with Errc::invalid_argument (name)
  /// or Errc::name_in_use.
  static Result<Thing> open(std::string_view name);
  struct Inner { int x = 0; };
  /// Never fails: a timeout is prose, not Errc-anything.
  bool wait(std::chrono::nanoseconds timeout);
  /// Fails with Errc::type_mismatch.
  template <class T>
  Result<void> add(T& t) {
    if (t) { return {}; }
    return {};
  }
};
/// Fails with Errc::not_found.
Result<void> after_the_class();
/// Errc::timeout on a struct is misplaced.
struct Other {};
}  // namespace statebus
)";
  const auto sut = documented_pairs(header, "sample.hpp");

  std::vector<std::string> found;
  for (const Place& place : sut.pairs) found.push_back(describe(place.pair) + " @" + place.where);
  EXPECT_EQ(found, (std::vector<std::string>{
                       "free_call Errc::no_daemon @sample.hpp:4",
                       "Thing::open Errc::invalid_argument @sample.hpp:8",
                       "Thing::open Errc::name_in_use @sample.hpp:9",
                       "Thing::add Errc::type_mismatch @sample.hpp:14",
                       "after_the_class Errc::not_found @sample.hpp:21",
                   }));
  ASSERT_EQ(sut.misplaced.size(), 1U);
  EXPECT_NE(sut.misplaced[0].find("sample.hpp:23"), std::string::npos) << sut.misplaced[0];
}

TEST(DocumentedErrors, AMarkerCountsOnlyWhereItsTestNamesTheCode) {
  const std::string source = R"(// Reaches: Thing::open Errc::invalid_argument
TEST(Thing, RefusesABadName) {
  EXPECT_EQ(Thing::open("").error().code(), Errc::invalid_argument);
}

// A comment first.
// Reaches: Thing::open Errc::name_in_use
TEST(Thing, OnlyMarked) {
  // Errc::name_in_use in a comment does not count
  EXPECT_FALSE(Thing::open("taken"));
}

TEST_F(Thing, MarkedInside) {
  auto sut = free_call();
  // Reaches: free_call Errc::no_daemon
  EXPECT_EQ(sut.error().code(), Errc::no_daemon);
}
TEST(Thing, Next) { EXPECT_EQ(x, Errc::name_in_use); }
)";
  const auto sut = markers_in(source, "sample.cpp");

  ASSERT_EQ(sut.size(), 3U);
  EXPECT_EQ(describe(sut[0].place.pair), "Thing::open Errc::invalid_argument");
  EXPECT_TRUE(sut[0].body_names_code);
  EXPECT_EQ(describe(sut[1].place.pair), "Thing::open Errc::name_in_use");
  EXPECT_FALSE(sut[1].body_names_code) << "the next test's Errc::name_in_use is not this one's";
  EXPECT_EQ(sut[2].place.where, "sample.cpp:15");
  EXPECT_TRUE(sut[2].body_names_code);
}

TEST(DocumentedErrors, EveryDocumentedCodeOfAPublicCallIsReachedByAMarkedTest) {
  const auto codes = error_code_names();
  std::map<Pair, std::string> documented;  // pair → where its doc says it
  std::vector<std::string> problems;
  for (const fs::path& header : public_headers()) {
    const auto found = documented_pairs(read(header), in_source_dir(header));
    for (const Place& place : found.pairs) {
      if (codes.count(place.pair.second) == 0) {
        problems.push_back(place.where + ": Errc::" + place.pair.second + " is no statebus::Errc");
      }
      documented.emplace(place.pair, place.where);
    }
    problems.insert(problems.end(), found.misplaced.begin(), found.misplaced.end());
  }
  // The headers promise codes on their main calls; none found means the reader broke.
  ASSERT_GE(documented.size(), 20U) << "the public headers document too few error codes: is the reader broken?";

  std::map<Pair, std::vector<Marker>> marked;
  for (const fs::path& source : files_under(kSourceDir / "tests", ".cpp")) {
    if (source == kSourceDir / kThisFile) continue;  // its samples are no markers
    for (Marker& marker : markers_in(read(source), in_source_dir(source))) {
      if (documented.count(marker.place.pair) == 0) {
        problems.push_back(marker.place.where + ": stale marker `// Reaches: " + describe(marker.place.pair) +
                           "`: no public header documents that code for that call; correct the marker, or "
                           "remove it");
        continue;
      }
      marked[marker.place.pair].push_back(std::move(marker));
    }
  }

  for (const auto& [pair, where] : documented) {
    const auto markers = marked.find(pair);
    if (markers == marked.end()) {
      problems.push_back(where + ": " + describe(pair) +
                         " is documented but no test reaches it: write a test that makes the call fail with it, "
                         "marked `// Reaches: " + describe(pair) +
                         "` above or inside its TEST, or remove Errc::" + pair.second +
                         " from the call's /// comment if the call cannot return it");
      continue;
    }
    for (const Marker& marker : markers->second) {
      if (!marker.body_names_code) {
        problems.push_back(marker.place.where + ": the test marked `" + describe(pair) +
                           "` never names Errc::" + pair.second +
                           " outside comments: assert that the call fails with it");
      }
    }
  }

  std::string report;
  for (const std::string& problem : problems) report += "\n  " + problem;
  EXPECT_TRUE(problems.empty()) << problems.size() << " problem(s) with documented error codes:" << report;
  std::printf("%zu documented (call, code) pairs:\n", documented.size());
  for (const auto& [pair, where] : documented) {
    std::string tests;
    if (const auto markers = marked.find(pair); markers != marked.end()) {
      for (const Marker& marker : markers->second) tests += " " + marker.place.where;
    }
    std::printf("  %s (%s):%s\n", describe(pair).c_str(), where.c_str(), tests.empty() ? " no test" : tests.c_str());
  }
}

}  // namespace
}  // namespace statebus
