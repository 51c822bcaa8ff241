#pragma once
/// GoogleTest fixtures with a private bus.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>

#include "statebus/bus/node.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/private_bus.hpp"

namespace statebus::testkit {

/// A test in a private namespace, with no daemon started. Where none can
/// be had (or STATEBUS_ISOLATION=off), the test shares the machine's bus:
/// it is skipped, saying why, while a daemon not its own runs there, and
/// removes what dead daemons and nodes left behind when it ends.
class PrivateBusTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  Isolation isolation_ = Isolation::shared_machine;
};

/// A test in a private namespace with the process's daemon running.
class BusTest : public PrivateBusTest {
 protected:
  void SetUp() override;
  Daemon* daemon_ = nullptr;
};

/// A BusTest whose process is on the bus as `node_name` (node_), for tests
/// that open ports themselves:
///   class Delivery : public testkit::NodeTest {
///    protected:
///     Delivery() : NodeTest("delivery-test") {}
///   };
class NodeTest : public BusTest {
 protected:
  explicit NodeTest(std::string node_name) : node_name_(std::move(node_name)) {}
  void SetUp() override;
  std::optional<Node> node_;

 private:
  std::string node_name_;
};

}  // namespace statebus::testkit
