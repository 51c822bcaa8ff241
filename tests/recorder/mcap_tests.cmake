# MCAP writer and reader: unit tests, a sample writer, and a check of its
# files with the independent npm reader @mcap/core (scripts/setup-npm.sh installs it).
# Included from tests/CMakeLists.txt.

add_executable(mcap_test ${CMAKE_CURRENT_LIST_DIR}/mcap_test.cpp)
target_link_libraries(mcap_test PRIVATE statebus::recorder GTest::gtest_main)
statebus_warnings(mcap_test)
gtest_discover_tests(mcap_test PROPERTIES LABELS unit DISCOVERY_TIMEOUT 30)

add_executable(statebus_mcap_sample ${CMAKE_CURRENT_LIST_DIR}/mcap_sample.cpp)
target_link_libraries(statebus_mcap_sample PRIVATE statebus::recorder)
statebus_warnings(statebus_mcap_sample)

# Not finding node is not a reason to skip: the test fails and says what to run.
find_program(STATEBUS_NODE node)
add_test(NAME mcap.npm_reader
         COMMAND ${CMAKE_COMMAND}
                 -DNODE=${STATEBUS_NODE}
                 -DSAMPLE=$<TARGET_FILE:statebus_mcap_sample>
                 -DJS_DIR=${PROJECT_SOURCE_DIR}/tests/mcap_js
                 -DOUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/mcap_npm_reader
                 -P ${CMAKE_CURRENT_LIST_DIR}/mcap_npm_reader.cmake)
set_tests_properties(mcap.npm_reader PROPERTIES LABELS integration TIMEOUT 120)
