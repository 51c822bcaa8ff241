# statebus_module(<name> [SOURCES ...] [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Defines statebus_<name> with ALIAS statebus::<name>, public headers in
# <name>/include (installed), internal ones shared with the modules above in
# <name>/internal (not installed), warnings on, and installs it into the
# statebus export.
function(statebus_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wconversion -Wsign-conversion
 -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
endfunction()

function(statebus_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target statebus_${name})
  if(M_SOURCES)
    add_library(${target} ${M_SOURCES})
    target_include_directories(${target}
      PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
             $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
      PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    # <name>/internal: headers the modules above (and the tests) share with
    # this one, never installed (statebus/internal/*.hpp).
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/internal)
      target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/internal>)
    endif()
    target_link_libraries(${target} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
    target_compile_features(${target} PUBLIC cxx_std_17)
    statebus_warnings(${target})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target}
      INTERFACE $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
                $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${target} INTERFACE ${M_PUBLIC_DEPS})
    target_compile_features(${target} INTERFACE cxx_std_17)
  endif()
  # A sanitized or instrumented library needs its runtime wherever it is linked,
  # also in projects that use the installed package.
  set(_link_scope PUBLIC)
  if(NOT M_SOURCES)
    set(_link_scope INTERFACE)
  endif()
  if(STATEBUS_SANITIZE)
    target_link_options(${target} ${_link_scope} -fsanitize=${STATEBUS_SANITIZE})
  endif()
  if(STATEBUS_COVERAGE)
    target_link_options(${target} ${_link_scope} --coverage)
  endif()
  add_library(statebus::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  install(TARGETS ${target} EXPORT statebusTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
