#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with Clang, ASan and UBSan in build-fuzz, replays
# every regression input (tests/fuzz/regressions/<harness>/, each a crash once found), then
# fuzzes each harness for SECONDS from its committed seed corpus (tests/fuzz/corpus/<harness>/,
# copied: new inputs stay in build-fuzz/corpus). A crash, leak, timeout or out-of-memory stops
# the run with the input saved in build-fuzz/artifacts/ (add it to regressions/ with its fix).
#   scripts/fuzz.sh SECONDS [HARNESS...]
#   scripts/fuzz.sh minimise [HARNESS...]   the committed corpora cut to the inputs that add
#                                            coverage (libFuzzer's -merge=1), e.g. after make_corpus.py
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(xgboost_json xgboost_ubjson lightgbm_text lightgbm_json floresta_json record phone_theft_request bank_transaction)
command -v clang++ >/dev/null || scripts/apt_install.sh clang
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLORESTA_FUZZ=ON -DFLORESTA_SIMD=ON \
  -DFLORESTA_BUILD_TESTS=OFF -DFLORESTA_BUILD_BENCHMARKS=OFF -DFLORESTA_BUILD_EXAMPLES=ON -DFLORESTA_INSTALL=OFF \
  -DCMAKE_CXX_FLAGS= >/dev/null
cmake --build build-fuzz -j "${JOBS:-2}" --target "${harnesses[@]/#/fuzz_}"
if [ "$seconds" = minimise ]; then
  for h in "${harnesses[@]}"; do
    rm -rf "build-fuzz/minimised/$h"
    mkdir -p "build-fuzz/minimised/$h"
    "build-fuzz/tests/fuzz/fuzz_$h" -merge=1 -rss_limit_mb=2048 -timeout=60 "build-fuzz/minimised/$h" "tests/fuzz/corpus/$h" \
      >"build-fuzz/minimised/$h.log" 2>&1 || { tail -30 "build-fuzz/minimised/$h.log" >&2; exit 1; }
    # libFuzzer names what it keeps by the SHA-1 of its bytes: the committed inputs keep their
    # names, and those it did not keep are removed.
    before=$(ls "tests/fuzz/corpus/$h" | wc -l)
    for f in "tests/fuzz/corpus/$h"/*; do
      [ -e "build-fuzz/minimised/$h/$(sha1sum "$f" | cut -d' ' -f1)" ] || rm "$f"
    done
    echo "== fuzz_$h: corpus minimised, $before inputs -> $(ls "tests/fuzz/corpus/$h" | wc -l)"
  done
  exit 0
fi
rm -rf build-fuzz/artifacts build-fuzz/logs
mkdir -p build-fuzz/artifacts build-fuzz/logs
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for h in "${harnesses[@]}"; do
  dict=tests/fuzz/json.dict
  case $h in lightgbm_text) dict=tests/fuzz/lightgbm.dict ;; xgboost_ubjson) dict=tests/fuzz/ubjson.dict ;; record|phone_theft_request) dict=tests/fuzz/record.dict ;; bank_transaction) dict=tests/fuzz/bank.dict ;; esac
  log=build-fuzz/logs/$h.log
  if [ -d "tests/fuzz/regressions/$h" ] && [ -n "$(ls -A "tests/fuzz/regressions/$h")" ]; then
    echo "== fuzz_$h: replaying tests/fuzz/regressions/$h"
    if ! "build-fuzz/tests/fuzz/fuzz_$h" -rss_limit_mb=2048 -timeout=60 "tests/fuzz/regressions/$h"/* >"$log" 2>&1; then
      tail -60 "$log" >&2
      exit 1
    fi
  fi
  rm -rf "build-fuzz/corpus/$h"
  mkdir -p "build-fuzz/corpus/$h"
  echo "== fuzz_$h: ${seconds} s from tests/fuzz/corpus/$h"
  if ! "build-fuzz/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=60 -max_len=262144 \
      -dict="$dict" -artifact_prefix="build-fuzz/artifacts/$h-" -print_final_stats=1 \
      "build-fuzz/corpus/$h" "tests/fuzz/corpus/$h" >"$log" 2>&1; then
    tail -60 "$log" >&2
    echo "fuzz_$h failed; the input is in build-fuzz/artifacts/ (full log: $log)" >&2
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$log" || true
done
