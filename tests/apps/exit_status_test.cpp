// The README's "Exit status" table is the CLI's: every error code is in it,
// with the status `statebus` ends with (apps/cli/exit_status.cpp).
#include "exit_status.hpp"

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace statebus {
namespace {

// "| `code` | N |" rows of the README's table: code → status.
std::map<std::string, int> readme_table() {
  std::ifstream in(STATEBUS_README);
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const auto start = readme.find("### Exit status");
  EXPECT_NE(start, std::string::npos) << "no \"### Exit status\" section in " << STATEBUS_README;
  std::map<std::string, int> table;
  if (start == std::string::npos) return table;
  const std::string section = readme.substr(start, readme.find("\n#", start + 1) - start);
  const std::regex row(R"(\| `([a-z_]+)` \| ([0-9]+) \|)");
  for (auto it = std::sregex_iterator(section.begin(), section.end(), row); it != std::sregex_iterator(); ++it) {
    table[(*it)[1]] = std::stoi((*it)[2]);
  }
  return table;
}

TEST(ExitStatus, TheReadmesTableGivesEveryErrorCodesStatus) {
  const auto table = readme_table();
  std::size_t codes = 0;
  for (int i = 0; i <= static_cast<int>(Errc::corrupt_segment); ++i) {
    const auto code = static_cast<Errc>(i);
    const std::string name(to_string(code));
    ++codes;
    const auto row = table.find(name);
    ASSERT_NE(row, table.end()) << "the README's Exit status table has no row for `" << name << "`";
    EXPECT_EQ(row->second, cli::exit_status(code)) << name;
  }
  EXPECT_EQ(table.size(), codes) << "the table has rows for codes that do not exist";
  EXPECT_EQ(cli::exit_status(Errc::invalid_argument), cli::kUsageError);
}

}  // namespace
}  // namespace statebus
