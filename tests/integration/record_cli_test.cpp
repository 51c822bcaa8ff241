// `statebus record`, `statebus play` and `statebus log`, run as a user runs
// them; the files `record` writes are read back by the npm reader @mcap/core.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_cli.hpp"
#include "statebus/bus.hpp"
#include "statebus/recorder/mcap.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Reading;
using test::run_cli;
using testkit::ChildProcess;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class RecordCli : public testkit::NodeTest {
 protected:
  RecordCli() : NodeTest("record-cli-test") {}
  void SetUp() override {
    NodeTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = ::testing::TempDir() + "statebus-" + info->name() + ".mcap";
    std::remove(path_.c_str());
  }
  void TearDown() override {
    std::remove(path_.c_str());
    BusTest::TearDown();
  }

  ChildProcess spawn(std::vector<std::string> args) {
    auto child = ChildProcess::spawn(std::move(args));
    EXPECT_TRUE(child) << child.error().message();
    return std::move(*child);
  }

  // Reads `path` with @mcap/core (node), as tests/mcap_js/verify.mjs checks it.
  void verify_with_npm_reader(const nlohmann::json& expect) {
    const std::string expect_path = path_ + ".expect.json";
    std::ofstream(expect_path) << expect.dump();
    ChildProcess node = spawn({STATEBUS_NODE, STATEBUS_MCAP_JS "/verify.mjs", path_, expect_path});
    std::string out;
    while (auto line = node.read_line(60s)) out += *line + "\n";
    const auto status = node.wait(60s);
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out << node.read_stderr(5s);
    EXPECT_TRUE(contains(out, "OK")) << out;
    std::remove(expect_path.c_str());
  }

  std::string path_;
};

TEST_F(RecordCli, RecordsUntilSigintSumsUpAndWritesAFileTheNpmReaderReads) {
  ChildProcess recorder = spawn({STATEBUS_CLI, "record", "-o", path_, "cli/*", "statebus/log"});
  ChildProcess publisher = spawn({STATEBUS_TEST_CHILD, "publish", "pub", "cli/readings", "1000"});
  ASSERT_EQ(publisher.read_line(60s), "sent 1000");  // the child waited for the recorder to subscribe
  // The recorder has started: what a process logs from now on is its.
  ChildProcess logger = spawn({STATEBUS_TEST_CHILD, "log", "logger", "3"});
  ASSERT_EQ(logger.read_line(60s), "logged 3");
  ASSERT_TRUE(recorder.signal(SIGINT));
  std::string out;
  while (auto line = recorder.read_line(30s)) out += *line + "\n";
  const auto status = recorder.wait(30s);
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out << recorder.read_stderr(5s);
  EXPECT_TRUE(contains(out, "cli/readings")) << out;
  EXPECT_TRUE(contains(out, "1000")) << out;
  EXPECT_TRUE(contains(out, "test/Reading")) << out;
  EXPECT_TRUE(contains(out, "1004 samples")) << out;
  EXPECT_FALSE(contains(out, "gap:")) << out;

  verify_with_npm_reader({{"truncated", false},
                          {"channels",
                           {{"cli/readings", {{"messages", 1000}, {"schema", "test/Reading"}, {"encoding", "json"}}},
                            {"statebus/log", {{"messages", 4}, {"schema", "foxglove.Log"}, {"encoding", "json"}}}}},
                          {"schemas", {"test/Reading", "foxglove.Log"}}});
}

TEST_F(RecordCli, ARecorderKilledWithSigkillLeavesAFileReadableToItsLastChunk) {
  ChildProcess recorder =
      spawn({STATEBUS_CLI, "record", "-o", path_, "--progress", "--flush-interval", "20", "cli/kill"});
  ChildProcess publisher = spawn({STATEBUS_TEST_CHILD, "publish", "pub", "cli/kill", "1000"});
  ASSERT_EQ(publisher.read_line(60s), "sent 1000");
  for (;;) {  // the recorder says when samples reached the file
    const auto line = recorder.read_line(30s);
    ASSERT_TRUE(line) << "the recorder did not report flushing 1000 samples";
    if (*line == "flushed 1000") break;
  }
  ASSERT_TRUE(recorder.signal(SIGKILL));
  ASSERT_TRUE(recorder.wait(30s));

  auto reader = mcap::Reader::open(path_);
  ASSERT_TRUE(reader) << reader.error().message();
  EXPECT_TRUE(reader->truncated());
  EXPECT_FALSE(reader->has_summary());
  std::uint64_t messages = 0;
  std::uint64_t last_sequence = 0;
  ASSERT_TRUE(reader->for_each_message([&](const mcap::Message& m) {
    ++messages;
    EXPECT_EQ(m.sequence, last_sequence + 1);
    last_sequence = m.sequence;
    return true;
  }));
  EXPECT_EQ(messages, 1000U);
  verify_with_npm_reader(
      {{"truncated", true},
       {"channels", {{"cli/kill", {{"messages", 1000}, {"schema", "test/Reading"}, {"encoding", "json"}}}}},
       {"schemas", {"test/Reading"}}});
}

TEST_F(RecordCli, PlayRepublishesARecordingAndRefusesCorruptFilesSayingWhere) {
  {
    RecorderOptions options;
    options.patterns = {"cli/play"};
    options.mcap_path = path_;
    auto original = Recorder::start(*node_, options);
    ASSERT_TRUE(original);
    ChildProcess publisher = spawn({STATEBUS_TEST_CHILD, "publish", "pub", "cli/play", "200"});
    ASSERT_EQ(publisher.read_line(60s), "sent 200");
    ASSERT_TRUE(original->wait_for_count("cli/play", 200, virtual_timeout(60s)));
  }
  RecorderOptions options;
  options.patterns = {"cli/play"};
  auto copy = Recorder::start(*node_, options);
  ASSERT_TRUE(copy);
  std::string errors;
  const auto [out, code] = run_cli({"play", path_, "--rate", "0", "--wait-for-subscribers", "30000"}, &errors);
  ASSERT_EQ(code, 0) << out << errors;
  EXPECT_TRUE(contains(out, "200 messages published")) << out;
  ASSERT_TRUE(copy->wait_for_count("cli/play", 200, virtual_timeout(60s)));
  const auto readings_got = copy->samples<Reading>("cli/play");
  ASSERT_TRUE(readings_got) << readings_got.error().message();
  const auto& readings = *readings_got;
  ASSERT_EQ(readings.size(), 200U);
  EXPECT_EQ(readings.back().value.index, 200U);

  // Corrupt the file in its middle: the error says which file and where.
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.write("CORRUPTION", 10);
  }
  const auto [bad_out, bad_code] = run_cli({"play", path_, "--rate", "0"}, &errors);
  EXPECT_EQ(bad_code, 2) << bad_out;  // the file given is not a good recording
  EXPECT_TRUE(contains(errors, path_)) << errors;

  const auto [missing_out, missing_code] = run_cli({"play", path_ + ".missing"}, &errors);
  EXPECT_EQ(missing_code, 2);
  EXPECT_TRUE(contains(errors, "cannot read")) << errors;
}

TEST_F(RecordCli, RecordRefusesBadPatternsAndExistingFiles) {
  std::string errors;
  auto [out, code] = run_cli({"record", "-o", path_, "home/he*ter"}, &errors);
  EXPECT_EQ(code, 2);
  EXPECT_TRUE(contains(errors, "he*ter")) << errors;
  std::ofstream(path_) << "precious";
  std::tie(out, code) = run_cli({"record", "-o", path_, "home/x"}, &errors);
  EXPECT_EQ(code, 2);
  EXPECT_TRUE(contains(errors, "--force")) << errors;
  std::ifstream in(path_);
  std::string kept;
  in >> kept;
  EXPECT_EQ(kept, "precious");
}

TEST_F(RecordCli, LogFollowsRecordsFilteredByLevelAndProcess) {
  ChildProcess log =
      spawn({STATEBUS_CLI, "log", "-n", "1", "--level", "warn", "--process", "beta", "--color", "never"});
  // It follows from the moment it says so: the records logged after that are its.
  std::string said;
  for (const auto deadline = std::chrono::steady_clock::now() + 60s;
       !contains(said, "following") && std::chrono::steady_clock::now() < deadline;) {
    said += log.read_stderr(100ms);
  }
  ASSERT_TRUE(contains(said, "following")) << said << log.describe();
  ChildProcess alpha = spawn({STATEBUS_TEST_CHILD, "log", "alpha", "2"});
  ChildProcess beta = spawn({STATEBUS_TEST_CHILD, "log", "beta", "2"});
  std::string out;
  while (auto line = log.read_line(30s)) out += *line + "\n";
  const auto status = log.wait(30s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out << log.read_stderr(5s);
  EXPECT_TRUE(contains(out, "warn")) << out;
  EXPECT_TRUE(contains(out, "beta/child: beta is done")) << out;
  EXPECT_FALSE(contains(out, "alpha")) << out;
  EXPECT_FALSE(contains(out, "record 1")) << out;

  std::string errors;
  const auto [bad_out, bad_code] = run_cli({"log", "--level", "loud"}, &errors);
  EXPECT_EQ(bad_code, 2);
  EXPECT_TRUE(contains(errors, "unknown level 'loud'")) << errors;
}

}  // namespace
}  // namespace statebus
