// main() of test programs that start children from their own functions.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "statebus/testing/main.hpp"

namespace statebus::testkit {
namespace {
std::map<std::string, TestFunction>& registry() {
  static std::map<std::string, TestFunction> functions;
  return functions;
}
}  // namespace

bool register_test_function(const char* name, TestFunction function) {
  registry()[name] = function;
  return true;
}

TestFunction find_test_function(const std::string& name) {
  const auto found = registry().find(name);
  return found == registry().end() ? nullptr : found->second;
}

}  // namespace statebus::testkit

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--statebus-test-function") == 0) {
    const auto function = statebus::testkit::find_test_function(argv[2]);
    if (function == nullptr) {
      std::fprintf(stderr, "%s: no STATEBUS_TEST_FUNCTION(%s) in this program\n", argv[0], argv[2]);
      return 127;
    }
    // The function sees its name as argv[0], then its own arguments.
    return function(argc - 2, argv + 2);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
