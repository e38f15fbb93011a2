#!/usr/bin/env bash
# `make test-arm64`: cross-compiles the library and the C++ suite for 64-bit ARM (aarch64)
# with Debian's g++-aarch64-linux-gnu and runs the suite under user-mode QEMU (qemu-aarch64,
# called explicitly: no binfmt registration, no root beyond installing the packages).
# On ARM the x86 vector kernels are compiled out, so this proves the portable kernels, the
# loaders and the byte-level code (ARM's plain `char` is unsigned) on a second architecture.
#
# The whole suite runs (through CTest, each test its own qemu process: about 40 s on two
# cores; the cross build takes about 6 minutes, most of it compiling the tests).
#
# Environment:
#   FLORESTA_ARM64_FILTER=...   run only this GoogleTest filter, in one process, e.g.
#                               'Corpus/*:CommittedModels/*' (parity vectors, compat corpus)
#   JOBS=N                      parallel compile and test jobs (default 2)
#   BUILD_ARM64=dir             build directory (default build-arm64)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_ARM64:-build-arm64}
JOBS=${JOBS:-2}
SYSROOT=/usr/aarch64-linux-gnu

# --- what is missing -------------------------------------------------------------------
packages=(cmake make g++-aarch64-linux-gnu libeigen3-dev nlohmann-json3-dev libgtest-dev)
command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null || packages+=(qemu-user)
# No recommends: qemu-user recommends qemu-user-binfmt, which this script does not need.
scripts/apt_install.sh --no-install-recommends "${packages[@]}"
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)

# --- build -----------------------------------------------------------------------------
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release \
  -DFLORESTA_BUILD_TESTS=ON \
  -DFLORESTA_BUILD_BENCHMARKS=OFF \
  -DFLORESTA_BUILD_EXAMPLES=OFF \
  -DFLORESTA_BUILD_PYTHON=OFF \
  -DFLORESTA_INSTALL=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target floresta floresta_tests floresta_thread_tests
built=$(date +%s)
echo "== aarch64 build: $((built - start)) s =="

# --- run under qemu-user -----------------------------------------------------------------
tests="$BUILD_DIR/tests/cpp/floresta_tests"
# ELF e_machine (bytes 18-19) is 183 (EM_AARCH64): the suite really is ARM code.
[ "$(od -An -tu2 -j18 -N2 "$tests" | tr -d ' ')" = 183 ] || { echo "error: $tests is not an aarch64 executable" >&2; exit 1; }
if [ -n "${FLORESTA_ARM64_FILTER:-}" ]; then
  echo "== floresta_tests under $(basename "$QEMU") (filter: $FLORESTA_ARM64_FILTER) =="
  "$QEMU" -L "$SYSROOT" "$tests" --gtest_filter="$FLORESTA_ARM64_FILTER" --gtest_brief=1
else
  # CTest runs each test through CMAKE_CROSSCOMPILING_EMULATOR (the toolchain file's qemu).
  # install_consumer builds a host program against an installed copy: not for a cross build.
  echo "== C++ suite under $(basename "$QEMU") (ctest) =="
  (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" -E install_consumer)
fi
echo "== aarch64 tests: $(($(date +%s) - built)) s =="
