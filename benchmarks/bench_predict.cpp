// Google Benchmark: floresta scoring on the committed test models, per batch size and
// thread count. Reports ns per row and rows per second. (The full peer comparison lives in
// benchmarks/compare.py; this suite tracks floresta's own kernels.)
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "floresta/floresta.hpp"

namespace {

std::vector<float> random_rows(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> X(rows * cols);
  for (auto& x : X) x = normal(gen);
  return X;
}

void bench_model(benchmark::State& state, const std::string& file) {
  const auto model = floresta::load(std::string(FLORESTA_TEST_DATA) + "/" + file);
  const auto rows = static_cast<std::size_t>(state.range(0));
  floresta::PredictOptions options;
  options.n_threads = static_cast<int>(state.range(1));
  const auto X = random_rows(rows, model.num_features(), 42);
  std::vector<double> out(rows * model.output_width(floresta::OutputKind::kRaw));
  const auto view = floresta::MatrixView<float>::row_major(X.data(), rows, model.num_features());
  for (auto _ : state) {
    if (rows == 1) model.score_row(floresta::OutputKind::kRaw, X.data(), model.num_features(), out.data());
    else model.score(floresta::OutputKind::kRaw, view, out.data(), options);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
  state.counters["s_per_row"] = benchmark::Counter(static_cast<double>(state.iterations() * rows),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void args(benchmark::internal::Benchmark* b) {
  for (int rows : {1, 16, 1000, 100000})
    for (int threads : {1, 2})
      if (rows > 1 || threads == 1) b->Args({rows, threads});
}

BENCHMARK_CAPTURE(bench_model, xgb_binary_20x4, "xgb_binary.json")->Apply(args);
BENCHMARK_CAPTURE(bench_model, xgb_multiclass_categorical, "xgb_multiclass_categorical.ubj")->Apply(args);

}  // namespace

BENCHMARK_MAIN();
