#include "statebus/testing/bus_test.hpp"

#include <unistd.h>

namespace statebus::testkit {

void PrivateBusTest::SetUp() {
  auto isolation = isolate_bus();
  ASSERT_TRUE(isolation) << isolation.error().message();
  isolation_ = *isolation;
  if (isolation_ == Isolation::shared_machine) {
    // Without namespaces we share the machine's bus: never disturb a live
    // one. This process's own daemon (an earlier test of the same run) is ours.
    auto live = find_daemon();
    if (live && live->pid != ::getpid()) {
      GTEST_SKIP() << "this test shares the machine's bus (" << isolation_reason()
                   << "), and a statebus daemon that is not this test's (pid " << live->pid
                   << ") is running there: stop it, or allow namespaces, and run the test again";
    }
  }
}

void PrivateBusTest::TearDown() {
  // On the machine's bus, leave it as found: what daemons and nodes this
  // test killed left behind goes (a private bus vanishes with its namespace).
  if (isolation_ != Isolation::shared_machine || IsSkipped()) return;
  auto removed = remove_stale_bus();
  EXPECT_TRUE(removed) << "cannot clean up the machine's bus after the test: " << removed.error().message();
}

void BusTest::SetUp() {
  PrivateBusTest::SetUp();
  if (HasFatalFailure() || IsSkipped()) return;
  auto daemon = shared_daemon();
  ASSERT_TRUE(daemon) << daemon.error().message();
  daemon_ = *daemon;
}

void NodeTest::SetUp() {
  BusTest::SetUp();
  if (HasFatalFailure() || IsSkipped()) return;
  auto node = Node::connect(node_name_);
  ASSERT_TRUE(node) << node.error().message();
  node_ = std::move(*node);
}

}  // namespace statebus::testkit
