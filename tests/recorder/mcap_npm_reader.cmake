# cmake -P script behind the mcap.npm_reader test: writes a sample MCAP file
# and a copy cut inside its last chunk, then reads both with @mcap/core.
# Arguments: -DNODE= -DSAMPLE= -DJS_DIR= -DOUT_DIR=

set(_setup "run scripts/setup-npm.sh (after installing nodejs and npm) to set it up")
if(NOT NODE OR NOT EXISTS "${NODE}")
  message(FATAL_ERROR "mcap.npm_reader: node (Node.js) was not found when configuring; ${_setup}, then re-run cmake")
endif()
if(NOT EXISTS "${JS_DIR}/node_modules/@mcap/core/package.json")
  message(FATAL_ERROR "mcap.npm_reader: ${JS_DIR}/node_modules/@mcap/core is missing; ${_setup}")
endif()

file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")
set(_file "${OUT_DIR}/sample.mcap")
execute_process(COMMAND "${SAMPLE}" "${_file}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "mcap.npm_reader: ${SAMPLE} failed (${_rc})")
endif()

foreach(_case "${_file}" "${_file}.truncated")
  execute_process(COMMAND "${NODE}" "${JS_DIR}/verify.mjs" "${_case}" "${_case}.expect.json"
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "mcap.npm_reader: @mcap/core does not read ${_case} as expected (exit ${_rc})")
  endif()
endforeach()
