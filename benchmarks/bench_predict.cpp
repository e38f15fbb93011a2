// Google Benchmark suite: floresta scoring the benchmark shapes (benchmarks/make_models.py)
// for batch sizes 1, 16, 1,000 and 100,000 rows on 1 and 2 threads, plus model loading.
// Counters: time_per_row (seconds, printed with an SI prefix: 1.2u = 1.2 microseconds) and
// rows_per_second.
//
//   build/benchmarks/bench_predict [--benchmark_filter=...]     (run from the repository root,
//   or set FLORESTA_BENCH_MODELS to the models folder)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "floresta/floresta.hpp"

namespace {

std::string models_dir() {
  const char* env = std::getenv("FLORESTA_BENCH_MODELS");
  return env ? env : std::string(FLORESTA_SOURCE_DIR) + "/benchmarks/models";
}

// A float32 C-order .npy file (what make_models.py writes).
struct Rows {
  std::vector<float> values;
  std::size_t rows = 0, cols = 0;
};

Rows read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw floresta::Error(path + ": cannot open (run benchmarks/make_models.py)");
  char magic[8];
  in.read(magic, 8);
  uint16_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 2);
  std::string header(header_len, ' ');
  in.read(header.data(), header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw floresta::Error(path + ": expected a C-order float32 array");
  const auto open = header.find('('), comma = header.find(',', open), close = header.find(')', open);
  Rows rows;
  rows.rows = std::stoul(header.substr(open + 1, comma - open - 1));
  rows.cols = std::stoul(header.substr(comma + 1, close - comma - 1));
  rows.values.resize(rows.rows * rows.cols);
  in.read(reinterpret_cast<char*>(rows.values.data()), static_cast<std::streamsize>(rows.values.size() * sizeof(float)));
  return rows;
}

struct Case {
  std::string name, model, rows;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> out = {{"a_phone_xgb_10class", "a_phone_xgb.ubj", "a_phone_xgb"},
                             {"b_fraud_lgb_300", "b_fraud_lgb.txt", "b_fraud_lgb"},
                             {"c_binary_xgb_100x6", "c_binary_xgb.json", "c_binary_xgb"},
                             {"d_regression_lgb_1000x31", "d_regression_lgb.txt", "d_regression_lgb"}};
    for (int k : {7, 64, 256})
      for (int d : {2, 16, 64}) {
        const std::string stem = "e_kmeans_k" + std::to_string(k) + "_d" + std::to_string(d);
        out.push_back({stem, stem + ".json", stem});
      }
    return out;
  }();
  return all;
}

void score(benchmark::State& state, const Case& c) {
  static std::string loaded_name;
  static std::unique_ptr<floresta::Model> model;
  static Rows rows;
  if (loaded_name != c.name) {  // one model in memory at a time
    model = std::make_unique<floresta::Model>(floresta::load(models_dir() + "/" + c.model));
    rows = read_npy(models_dir() + "/" + c.rows + ".rows.npy");
    loaded_name = c.name;
  }
  const auto n = static_cast<std::size_t>(state.range(0));
  floresta::PredictOptions options;
  options.n_threads = static_cast<int>(state.range(1));
  const auto kind = model->predict_kind() == floresta::OutputKind::kClass && !model->is_clusterer()
                        ? floresta::OutputKind::kProba
                        : model->predict_kind();
  std::vector<double> out(n * model->output_width(kind));
  const auto view = floresta::MatrixView<float>::row_major(rows.values.data(), n, rows.cols);
  std::size_t next = 0;  // single rows: a different row each call, as a server sees them
  for (auto _ : state) {
    if (n == 1) {
      model->score_row(kind, rows.values.data() + next * rows.cols, rows.cols, out.data());
      next = next + 1 == rows.rows ? 0 : next + 1;
    } else {
      model->score(kind, view, out.data(), options);
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double total = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.counters["rows_per_second"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
  state.counters["time_per_row"] = benchmark::Counter(total, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void load(benchmark::State& state, const Case& c) {
  for (auto _ : state) benchmark::DoNotOptimize(floresta::load(models_dir() + "/" + c.model));
}

}  // namespace

int main(int argc, char** argv) {
  for (const Case& c : cases()) {
    for (int rows : {1, 16, 1000, 100000})
      for (int threads : {1, 2})
        if (rows > 16 || threads == 1)
          benchmark::RegisterBenchmark(("score/" + c.name).c_str(), score, c)->Args({rows, threads})->ArgNames({"rows", "threads"})->UseRealTime();
  }
  for (const Case& c : cases())
    if (c.name[0] == 'd' || c.name[0] == 'a')
      benchmark::RegisterBenchmark(("load/" + c.name).c_str(), load, c)->Unit(benchmark::kMillisecond)->Iterations(3);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
