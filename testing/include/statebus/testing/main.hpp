#pragma once
/// Child processes from functions of the test program itself.
///
///   STATEBUS_TEST_FUNCTION(fake_sensor) {           // int(int argc, char** argv)
///     auto node = statebus::Node::connect("fake-sensor");
///     ...
///     return 0;
///   }
///   // in a test: scenario->spawn_function("sensor", "fake_sensor", {"--fast"});
///
/// The test program must link statebus::testing_main (instead of
/// GTest::gtest_main): its main() runs the named function when started as
/// `PROGRAM --statebus-test-function NAME ARGS…`, and the tests otherwise.
/// A new process, not a fork: the child connects to the bus on its own,
/// which iceoryx requires, and sanitizers and coverage see it whole.

#include <functional>
#include <string>

namespace statebus::testkit {

using TestFunction = int (*)(int argc, char** argv);

/// Registers `function` under `name` (done by STATEBUS_TEST_FUNCTION). Returns true.
bool register_test_function(const char* name, TestFunction function);
/// The function registered under `name`, or null.
TestFunction find_test_function(const std::string& name);

}  // namespace statebus::testkit

#define STATEBUS_TEST_FUNCTION(name)                                                                   \
  static int statebus_test_function_##name(int argc, char** argv);                                    \
  [[maybe_unused]] static const bool statebus_test_function_registered_##name =                       \
      ::statebus::testkit::register_test_function(#name, &statebus_test_function_##name);            \
  static int statebus_test_function_##name([[maybe_unused]] int argc, [[maybe_unused]] char** argv)
