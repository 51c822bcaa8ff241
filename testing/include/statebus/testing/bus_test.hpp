#pragma once
/// GoogleTest fixtures with a private bus.

#include <gtest/gtest.h>

#include "statebus/bus/daemon.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/private_bus.hpp"

namespace statebus::testing {

/// A test in a private namespace, with no daemon started.
class PrivateBusTest : public ::testing::Test {
 protected:
  void SetUp() override;
  Isolation isolation_ = Isolation::shared_machine;
};

/// A test in a private namespace with the process's daemon running.
class BusTest : public PrivateBusTest {
 protected:
  void SetUp() override;
  Daemon* daemon_ = nullptr;
};

}  // namespace statebus::testing
