#!/usr/bin/env bash
# make sanitize: the C++ suite and both applications' programs under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan), with the vector kernels compiled in.
#   1. the whole C++ suite as a host would run it (kernel and plan chosen by the library;
#      test_kernels itself runs every kernel and plan this CPU has, and install_consumer builds
#      a host against the installed package);
#   2. the unit suite again with each scoring kernel this CPU runs and each plan forced in turn
#      (FLORESTA_KERNEL / FLORESTA_PLAN, paired so that four runs cover them all: a plan a model
#      cannot take falls back to the one it can, as the variables document);
#   3. the applications' own tests driving the instrumented phone_theft_server, bank_batch and
#      bank_stream_scorer: their scoring tests on the same four kernel and plan pairs, then the
#      hostile clients and records (Redis kills and restarts included) once.
#   scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(pwd)/.venv/bin/python
"$py" -c "import floresta" 2>/dev/null || make python  # the applications' tests import it
# -O1 -g1 (line tables only): the reports keep file and line, and the build takes 40% less time
# than -O2 -g (most of it the tests' GoogleTest code) while the suite runs as fast.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DFLORESTA_SANITIZE=ON -DFLORESTA_BUILD_BENCHMARKS=OFF -DFLORESTA_BUILD_EXAMPLES=ON -DPython_EXECUTABLE="$py" \
  -DCMAKE_CXX_FLAGS= >/dev/null
# The tests and the three programs the applications' tests drive, not every example and tool.
cmake --build build-asan -j "${JOBS:-2}" --target floresta_tests floresta_thread_tests phone_theft_server bank_stream_scorer bank_batch
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1

# The GoogleTest programs each in one process (CTest would start one per test: three times as
# long under ASan), then CTest's other tests.
echo "== sanitize: floresta_tests, floresta_thread_tests"
build-asan/tests/cpp/floresta_tests --gtest_brief=1 >build-asan/suite.log 2>&1 || { tail -80 build-asan/suite.log >&2; exit 1; }
grep -E "PASSED" build-asan/suite.log
build-asan/tests/cpp/floresta_thread_tests --gtest_brief=1 | tail -1
echo "== sanitize: install_consumer, isa_rule"
(cd build-asan && ctest --output-on-failure -R '^(install_consumer|isa_rule)$')

# The kernels this CPU runs, by the library's own rule (src/engine/kernel.cpp).
flags=$(grep -m1 -E '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
kernels=()
has avx2 fma popcnt avx512f avx512bw avx512vl avx512dq && kernels+=(avx512)
has avx2 fma popcnt && kernels+=(avx2)
has ssse3 sse4_1 sse4_2 popcnt && kernels+=(sse4)
kernels+=(portable)
plans=(bitvector quantized lanes value_walk)
for i in "${!plans[@]}"; do
  kernel=${kernels[$((i % ${#kernels[@]}))]}
  echo "== sanitize: floresta_tests with FLORESTA_KERNEL=$kernel FLORESTA_PLAN=${plans[$i]}"
  # Not Kernels.* (it runs every kernel and plan itself, by LoadOptions) nor DeclaredSizes.*
  # (loading only): a third of the suite's time under ASan, nothing forcing adds.
  FLORESTA_KERNEL=$kernel FLORESTA_PLAN=${plans[$i]} build-asan/tests/cpp/floresta_tests --gtest_brief=1 \
    --gtest_filter='-Kernels.*:DeclaredSizes.*' >build-asan/forced.log 2>&1 ||
    { tail -80 build-asan/forced.log >&2; exit 1; }
  grep -E "tests? ran|PASSED" build-asan/forced.log | tail -2
done

echo "== sanitize: the applications' programs"
export FLORESTA_SANITIZER=asan  # their tests report memory instead of bounding it (ASan's quarantine)
export PHONE_THEFT_SERVER=$(pwd)/build-asan/examples/phone_theft/phone_theft_server
export BANK_STREAM_SCORER=$(pwd)/build-asan/examples/bank/bank_stream_scorer BANK_BATCH=$(pwd)/build-asan/examples/bank/bank_batch
# Their scoring tests with each kernel and plan forced in turn (the same pairs as above)...
for i in "${!plans[@]}"; do
  kernel=${kernels[$((i % ${#kernels[@]}))]}
  echo "== sanitize: the applications with FLORESTA_KERNEL=$kernel FLORESTA_PLAN=${plans[$i]}"
  FLORESTA_KERNEL=$kernel FLORESTA_PLAN=${plans[$i]} "$py" -m pytest -q -p no:cacheprovider \
    examples/phone_theft/tests/test_server.py examples/bank/tests/test_stream_scorer.py examples/bank/tests/test_batch.py
done
# ...then, with the library's own choice, the hostile clients and records (test_stream_redis.py's
# kills and restarts are test_stream_hostile.py's too, repeated).
"$py" -m pytest -q -p no:cacheprovider examples/phone_theft/tests/test_hostile_clients.py examples/bank/tests/test_stream_hostile.py
