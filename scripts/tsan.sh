#!/usr/bin/env bash
# ThreadSanitizer (make tsan): builds the thread stress test (tests/cpp/test_threads.cpp) and
# both applications' threaded programs with -fsanitize=thread in build-tsan, runs the stress
# test, then drives the instrumented programs through the tests that exercise their threads:
# the phone-theft service's model swap under concurrent requests (SIGHUP while 8 clients
# post), its concurrent requests and SIGTERM drain, its gate under hostile clients; the stream scorer's pipeline with its
# metrics thread, kills and restarts. Any report ThreadSanitizer writes fails the run.
# The portable kernel only (FLORESTA_SIMD=OFF, half the build): kernels are pure functions of
# the model and the rows; what threads share is the model and its lazily built tables, reached
# the same way by every kernel (the AVX kernels are checked under ASan by make sanitize).
#   scripts/tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(pwd)/.venv/bin/python
"$py" -c "import floresta" 2>/dev/null || make python  # the applications' tests import it
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DFLORESTA_TSAN=ON -DFLORESTA_SIMD=OFF -DFLORESTA_BUILD_BENCHMARKS=OFF \
  -DFLORESTA_INSTALL=OFF -DPython_EXECUTABLE="$py" -DCMAKE_CXX_FLAGS= >/dev/null
cmake --build build-tsan -j "${JOBS:-2}" --target floresta_thread_tests phone_theft_server bank_stream_scorer
reports=$(pwd)/build-tsan/reports
rm -rf "$reports"
mkdir -p "$reports"
# Reports go to files (a server's stderr is the test's to read); each process writes its own.
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$reports/tsan"
export FLORESTA_SANITIZER=tsan  # the applications' tests report memory instead of bounding it

echo "== tsan: floresta_thread_tests"
build-tsan/tests/cpp/floresta_thread_tests --gtest_brief=1

echo "== tsan: the phone-theft service (model swap, concurrent requests, drain, the gate under hostile clients)"
PHONE_THEFT_SERVER=$(pwd)/build-tsan/examples/phone_theft/phone_theft_server \
  "$py" -m pytest -q -p no:cacheprovider examples/phone_theft/tests/test_server.py examples/phone_theft/tests/test_hostile_clients.py \
  -k "sighup or concurrent or sigterm or explain_a_batch or hostile"

echo "== tsan: the bank stream scorer (pipeline, metrics thread, kills, Redis restarts)"
BANK_STREAM_SCORER=$(pwd)/build-tsan/examples/bank/bank_stream_scorer \
  "$py" -m pytest -q -p no:cacheprovider examples/bank/tests/test_stream_redis.py \
  -k "end_to_end or metrics or sigterm or redis_killed or two_consumers"

if [ -n "$(ls -A "$reports")" ]; then
  for report in "$reports"/*; do
    echo "---- $report" >&2
    head -80 "$report" >&2
  done
  echo "tsan: ThreadSanitizer reported the races above (all reports: $reports)" >&2
  exit 1
fi
echo "tsan: no reports"
