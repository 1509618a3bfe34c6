# Finds Debian's llvm-19/mlir-19 and sets up TableGen and lit.
#
# Every kiln target links the two shared libraries (libMLIR.so, libLLVM.so)
# and nothing else from LLVM: mixing them with the static component
# libraries registers command-line options twice and aborts at start-up.
find_package(MLIR REQUIRED CONFIG
  HINTS /usr/lib/llvm-19/lib/cmake/mlir)
if(NOT LLVM_VERSION_MAJOR EQUAL 19)
  message(FATAL_ERROR "kiln needs MLIR 19, found ${LLVM_PACKAGE_VERSION} "
                      "(apt-get install libmlir-19-dev mlir-19-tools)")
endif()
message(STATUS "kiln: MLIR ${LLVM_PACKAGE_VERSION} from ${MLIR_CMAKE_DIR}")

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
set(LLVM_RUNTIME_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/bin)
set(LLVM_LIBRARY_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/lib)
set(MLIR_BINARY_DIR ${CMAKE_BINARY_DIR})
include(TableGen)
include(AddLLVM)
include(AddMLIR)

include_directories(SYSTEM ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
separate_arguments(KILN_LLVM_DEFINITIONS NATIVE_COMMAND ${LLVM_DEFINITIONS})
add_definitions(${KILN_LLVM_DEFINITIONS})

# The one way kiln links MLIR and LLVM.
add_library(kiln_mlir INTERFACE)
target_link_libraries(kiln_mlir INTERFACE MLIR LLVM)

set(KILN_LIT ${LLVM_TOOLS_BINARY_DIR}/../build/utils/lit/lit.py)
if(NOT EXISTS ${KILN_LIT})
  set(KILN_LIT /usr/lib/llvm-19/build/utils/lit/lit.py)
endif()
