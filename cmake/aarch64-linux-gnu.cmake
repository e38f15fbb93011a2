# Cross-compiles floresta for 64-bit ARM Linux with Debian's cross toolchain
# (apt-get install g++-aarch64-linux-gnu qemu-user) and runs what it builds under qemu-user.
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# scripts/test_arm64.sh (`make test-arm64`) does this and runs the C++ suite.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# The aarch64 sysroot (libc, libstdc++) Debian's cross packages install.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)    # build tools are the host's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)     # never link the host's x86-64 libraries
# Header-only dependencies (nlohmann_json, Eigen3) are architecture-independent: their
# headers live in /usr/include and their CMake package files in /usr/share/cmake and
# /usr/share/eigen3/cmake, outside the sysroot, so headers and packages are looked up in
# both places. Packages with compiled libraries (GTest) must not come from the host:
# tests/cpp/CMakeLists.txt builds GoogleTest from /usr/src/googletest when cross-compiling.
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# Target programs (gtest_discover_tests at build time, ctest) run under user-mode QEMU,
# with the sysroot as the dynamic loader's prefix; no binfmt registration is needed.
find_program(FLORESTA_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(FLORESTA_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${FLORESTA_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu")
endif()
