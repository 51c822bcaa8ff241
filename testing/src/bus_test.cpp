#include "statebus/testing/bus_test.hpp"

namespace statebus::testing {

void PrivateBusTest::SetUp() {
  auto isolation = isolate_bus();
  ASSERT_TRUE(isolation) << isolation.error().message();
  isolation_ = *isolation;
  if (isolation_ == Isolation::shared_machine) {
    // Without namespaces we share the machine's bus: never disturb a live one.
    auto live = find_daemon();
    ASSERT_FALSE(live) << "this system does not permit user or mount namespaces, so this test would share "
                          "the machine's bus, and a statebus daemon (pid "
                       << live->pid << ") is running there; stop it or allow namespaces "
                       << "(sysctl kernel.unprivileged_userns_clone=1) and run the test again";
  }
}

void BusTest::SetUp() {
  PrivateBusTest::SetUp();
  if (HasFatalFailure()) return;
  auto daemon = shared_daemon();
  ASSERT_TRUE(daemon) << daemon.error().message();
  daemon_ = *daemon;
}

}  // namespace statebus::testing
