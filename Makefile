# floresta — the two commands: `make demo` and `make test`. Both install what is missing.
VENV    := .venv
PY      := $(VENV)/bin/python
BUILD   := build
JOBS    ?= 2

.PHONY: all deps build python demo test test-cpp test-python fuzz fuzz-smoke fuzz-corpus sanitize tsan test-arm64 bench bench-explain bench-serve bench-stream bench-spark serve clean

all: build python

deps:
	@scripts/install_deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(abspath $(PY)) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The Python package, installed into .venv through scikit-build-core (pip install .).
python: deps
	@$(PY) -m pip install -q --no-build-isolation .

# São Paulo phone theft: the example person's 10 places, from C++ and then from Python;
# then the bank: a generated day's fraud alerts and customer segments, from C++ and Python,
# and a generated stream through Redis, the stream scorer and the sink.
demo: build python
	@echo "== C++ host: $(BUILD)/examples/phone_theft/phone_theft =="
	@$(BUILD)/examples/phone_theft/phone_theft --model examples/models/phone_theft.json --person examples/models/phone_theft_person.json
	@echo
	@echo "== Python: examples/demo.py =="
	@$(PY) examples/demo.py
	@echo
	@echo "== Bank: a generated day scored in batch (examples/bank/demo.py) =="
	@$(PY) examples/bank/demo.py prepare $(BUILD)/bank_demo
	@echo "== C++ host: $(BUILD)/examples/bank/bank_batch =="
	@$(BUILD)/examples/bank/bank_batch --fraud-model examples/models/bank_fraud.json --transactions $(BUILD)/bank_demo/day.jsonl --segments-model examples/models/bank_segments.json --customers $(BUILD)/bank_demo/customers.jsonl
	@echo
	@echo "== Python: examples/bank/demo.py score =="
	@$(PY) examples/bank/demo.py score $(BUILD)/bank_demo
	@echo
	@echo "== Bank stream: Redis, bank_stream_scorer, bank_stream_sink (examples/bank/stream_demo.py) =="
	@$(PY) examples/bank/stream_demo.py $(BUILD) $(BUILD)/bank_stream_demo

test: build python test-cpp test-python fuzz-smoke

# The libFuzzer harnesses (tests/fuzz: every loader, records, the applications' inputs) under ASan + UBSan, built with
# Clang in build-fuzz: regressions replayed, then FUZZ_SECONDS of fuzzing each (scripts/fuzz.sh).
FUZZ_SECONDS ?= 300
fuzz: deps
	@JOBS=$(JOBS) scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: deps
	@JOBS=$(JOBS) scripts/fuzz.sh 10

# The seed corpora rewritten from real exports (tests/fuzz/make_corpus.py), then minimised.
fuzz-corpus: build python
	@$(PY) tests/fuzz/make_corpus.py
	@JOBS=$(JOBS) scripts/fuzz.sh minimise

test-cpp:
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The library's tests, then the applications' (data, model, notebook, server, browser).
test-python:
	@$(PY) -m pytest -q tests/python
	@$(PY) -m pytest -q examples/phone_theft/tests
	@$(PY) -m pytest -q examples/bank/tests

# The phone-theft web service and page on the shipped model: http://127.0.0.1:8080/
serve: build
	@$(BUILD)/examples/phone_theft/phone_theft_server --model examples/models/phone_theft.json $(SERVE_FLAGS)

# The C++ suite under AddressSanitizer + UndefinedBehaviorSanitizer (also run by .ci/run),
# with the vector kernels compiled in: the whole CTest suite, the unit suite again with each
# kernel and plan forced in turn, then both applications' programs driven by their tests
# (scripts/sanitize.sh says which).
sanitize: deps
	@JOBS=$(JOBS) scripts/sanitize.sh

# ThreadSanitizer: the thread stress test (tests/cpp/test_threads.cpp), the phone-theft
# service's model swap under load and the stream scorer's pipeline (scripts/tsan.sh).
tsan: deps
	@JOBS=$(JOBS) scripts/tsan.sh

# Benchmarks (not tests): models with fixed seeds, the C++ suite, then every peer side by side.
# lleaves needs llvmlite 0.43 and shap's numba 0.46+: the explanations run first, then
# compare.py on the bench pins, then the dev pins are put back (requirements-dev.txt says why).
bench: build python
	@test -f benchmarks/models/README || $(PY) benchmarks/make_models.py
	@$(PY) benchmarks/explain.py
	@$(PY) -m pip install -q -r requirements-bench.txt
	@$(BUILD)/benchmarks/bench_predict --benchmark_min_time=0.2 --benchmark_out=benchmarks/results/bench_predict.json --benchmark_out_format=json
	@$(PY) benchmarks/compare.py
	@$(PY) -m pip install -q -r requirements-dev.txt

# Explanations per second beside XGBoost, LightGBM and shap: benchmarks/results/explain.*
bench-explain: build python
	@test -f benchmarks/models/README || $(PY) benchmarks/make_models.py
	@$(PY) benchmarks/explain.py

# The phone-theft server under load (wrk), beside a Python reference server: benchmarks/results/serve.*
bench-serve: build python
	@$(PY) -m pip install -q -r requirements-bench.txt
	@$(PY) benchmarks/serve/run.py
	@$(PY) -m pip install -q -r requirements-dev.txt

# The bank stream scorer on Redis beside a Python consumer: benchmarks/results/stream.*
bench-stream: build python
	@$(PY) benchmarks/stream/run.py

bench-spark: build python
	@$(PY) benchmarks/spark/run.py

# The C++ suite cross-compiled for 64-bit ARM (aarch64) and run under qemu-user.
test-arm64:
	@JOBS=$(JOBS) scripts/test_arm64.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-arm64 build-fuzz
