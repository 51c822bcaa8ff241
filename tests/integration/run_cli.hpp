#pragma once
// Runs the `statebus` tool to its end, for CLI tests.
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/testing/child_process.hpp"

namespace statebus::test {

/// The tool's stdout and exit code (-1: it did not exit); its stderr into `errors`.
inline std::pair<std::string, int> run_cli(std::vector<std::string> args, std::string* errors = nullptr) {
  using namespace std::chrono_literals;
  args.insert(args.begin(), STATEBUS_CLI);
  auto cli = testkit::ChildProcess::spawn(args);
  EXPECT_TRUE(cli);
  if (!cli) return {"", -1};
  std::string out;
  while (auto line = cli->read_line(30s)) out += *line + "\n";
  const auto status = cli->wait(30s);
  if (errors != nullptr) *errors = cli->read_stderr(5s);
  return {out, status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1};
}

}  // namespace statebus::test
