# Installs the build tree under test (the library the other tests ran: no second compile) into
# a scratch prefix, builds tests/cpp/consumer against it with find_package(floresta CONFIG
# REQUIRED), and runs the result on a model. CONSUMER_FLAGS: the sanitizer flags of an
# instrumented build (the exported target carries none, so a host of an instrumented library
# adds them itself).
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/cpp/consumer -B ${WORK_DIR}/consumer
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
    "-DCMAKE_CXX_FLAGS=${CONSUMER_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer ${MODEL})
if(NOT LAST_OUTPUT MATCHES "features=")
  message(FATAL_ERROR "consumer printed: ${LAST_OUTPUT}")
endif()
message(STATUS "consumer: ${LAST_OUTPUT}")
