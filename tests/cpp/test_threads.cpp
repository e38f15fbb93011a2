// Many threads on one model. A loaded Model is immutable and shared: every call that scores
// may run on any number of threads at once, and each must give exactly what one thread alone
// gives. This program is its own executable (floresta_thread_tests) so that `make tsan` can
// build it alone under ThreadSanitizer: there a data race is a failure even when the values
// happen to agree. Also here: an error raised on a worker thread reaches the caller.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using floresta::MatrixView;
using floresta::OutputKind;

constexpr int kThreads = 8;
constexpr int kRounds = 3;

// Bit-identical, NaN equal to NaN.
bool same(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Records of a model's raw fields, varied deterministically: every category and a missing
// value in turn for categorical fields, a spread of numbers (and a missing one) for numeric.
std::vector<floresta::Record> records_for(const floresta::Model& model, std::size_t n) {
  std::vector<floresta::Record> records(n);
  const auto& features = model.schema().features;
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < features.size(); ++c) {
      const floresta::Feature& f = features[c];
      const std::size_t pick = r * 7 + c * 3;
      if (pick % 11 == 0) {
        records[r].set(f.name, floresta::missing);
      } else if (f.is_categorical() && !f.string_categories.empty()) {
        records[r].set(f.name, f.string_categories[pick % f.string_categories.size()]);
      } else {
        double x = static_cast<double>(pick % 90) * 0.75 - 3.0;
        if (f.input.min) x = std::max(x, *f.input.min);  // within the model's input rule
        if (f.input.max) x = std::min(x, *f.input.max);
        records[r].set(f.name, x);
      }
    }
  return records;
}

// One model and everything a thread may ask of it, with the answers one thread gave.
struct Case {
  Case(std::string name_, std::function<floresta::Model()> load_) : name(std::move(name_)), load(std::move(load_)), model(load()) {}
  std::string name;
  std::function<floresta::Model()> load;  // a fresh model: explanations build their tables lazily
  floresta::Model model;
  std::vector<double> rows;  // row-major raw inputs
  std::size_t n = 0, cols = 0;
  std::vector<floresta::Record> records;
  // Single-thread answers.
  std::vector<double> predicted, raw, rowwise, contributions, from_records, explained;
};

std::vector<double> rowwise(const floresta::Model& m, const Case& c, OutputKind kind) {
  const std::size_t w = m.output_width(kind);
  std::vector<double> out(c.n * w);
  for (std::size_t r = 0; r < c.n; ++r) m.score_row(kind, c.rows.data() + r * c.cols, c.cols, out.data() + r * w);
  return out;
}

std::vector<double> over_records(const floresta::Model& m, const Case& c) {
  std::vector<double> out;
  for (const auto& record : c.records) {
    const auto one = m.predict(record);
    out.insert(out.end(), one.begin(), one.end());
  }
  return out;
}

std::vector<double> explained_records(const floresta::Model& m, const Case& c) {
  std::vector<double> out;
  for (const auto& record : c.records) {
    for (const auto& field : m.explain_record(record, 3)) out.push_back(field.contribution);
    const auto all = m.predict_contributions(record);
    out.insert(out.end(), all.begin(), all.end());
  }
  return out;
}

// A matrix case from committed test vectors (inputs tiled to `n` rows so batches split).
Case vectors_case(const std::string& name, std::size_t n) {
  const auto v = floresta::test::read_vectors(name);
  const std::string path = v.model;
  Case c(name, [path] { return floresta::load(path); });
  c.cols = v.cols;
  c.n = n;
  for (std::size_t r = 0; r < n; ++r)
    c.rows.insert(c.rows.end(), v.inputs64.begin() + (r % v.rows) * v.cols, v.inputs64.begin() + (r % v.rows + 1) * v.cols);
  for (const auto& record : v.records) c.records.push_back(floresta::Record::from_json(record));
  return c;
}

Case records_case(const std::string& path, std::size_t n) {
  Case c(path, [path] { return floresta::load(path); });
  c.records = records_for(c.model, 40);
  c.cols = c.model.num_features();
  c.n = n;
  for (std::size_t r = 0; r < n; ++r) {
    const auto row = c.model.encode(c.records[r % c.records.size()]);
    c.rows.insert(c.rows.end(), row.begin(), row.end());
  }
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  all.push_back(vectors_case("xgb_binary", 600));
  all.push_back(vectors_case("lgb_multiclass", 600));
  all.push_back(vectors_case("xgb_multiclass_categorical", 600));
  all.push_back(vectors_case("skl_pipeline", 600));
  all.push_back(vectors_case("skl_random_forest", 600));
  all.push_back(vectors_case("skl_isolation_forest", 600));
  all.push_back(vectors_case("skl_kmeans", 600));
  all.push_back(records_case(std::string(FLORESTA_TEST_DATA) + "/../../examples/models/phone_theft.json", 300));
  for (Case& c : all) {
    const floresta::Model& m = c.model;
    const auto X = MatrixView<double>::row_major(c.rows.data(), c.n, c.cols);
    c.predicted = m.predict(X);
    c.raw = m.is_clusterer() ? m.predict(X) : m.predict_raw(X);
    c.rowwise = rowwise(m, c, m.predict_kind());
    if (m.can_explain()) c.contributions = m.predict_contributions(X);
    c.from_records = over_records(m, c);
    if (m.can_explain()) c.explained = explained_records(m, c);
  }
  return all;
}

// Every path of every model on kThreads threads at once, each thread taking the paths in its
// own order; the matrix calls also split their rows over threads of their own (n_threads 3).
TEST(Threads, EveryPathOnManyThreadsAgreesWithOneThread) {
  std::vector<Case> all = cases();
  // Fresh models, so the explanation tables are built by whichever thread asks first.
  std::vector<floresta::Model> shared;
  for (const Case& c : all) shared.push_back(c.load());
  std::atomic<int> ready{0};
  std::mutex mutex;
  std::vector<std::string> mismatches;
  auto check = [&](bool ok, const Case& c, const char* path, int thread) {
    if (ok) return;
    std::lock_guard<std::mutex> lock(mutex);
    mismatches.push_back(c.name + " " + path + " on thread " + std::to_string(thread));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int round = 0; round < kRounds; ++round)
        for (std::size_t i = 0; i < all.size(); ++i) {
          const Case& c = all[(i + t) % all.size()];
          const floresta::Model& m = shared[(i + t) % all.size()];
          const auto X = MatrixView<double>::row_major(c.rows.data(), c.n, c.cols);
          floresta::PredictOptions several;
          several.n_threads = 3;
          for (int step = 0; step < 5; ++step) switch ((step + t + round) % 5) {
              case 0:
                check(same(m.predict(X, several), c.predicted), c, "predict (3 threads)", t);
                break;
              case 1:
                check(same(m.is_clusterer() ? m.predict(X) : m.predict_raw(X), c.raw), c, "predict_raw", t);
                break;
              case 2:
                check(same(rowwise(m, c, m.predict_kind()), c.rowwise), c, "score_row", t);
                break;
              case 3:
                check(same(over_records(m, c), c.from_records), c, "records", t);
                break;
              case 4:
                if (!m.can_explain()) break;
                check(same(m.predict_contributions(X, several), c.contributions), c, "contributions", t);
                check(same(explained_records(m, c), c.explained), c, "explain_record", t);
                break;
            }
        }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(mismatches.empty()) << mismatches.size() << " mismatches, the first: " << mismatches.front();
  // The cases cover what they claim to.
  int explained = 0, with_records = 0, clusterers = 0;
  for (const Case& c : all) {
    explained += c.model.can_explain();
    with_records += !c.records.empty();
    clusterers += c.model.is_clusterer();
  }
  EXPECT_GE(explained, 4);
  EXPECT_GE(with_records, 2);
  EXPECT_EQ(clusterers, 1);
}

// The pipeline's first one-hot encoder made to refuse unknown categories, and rows that are
// all known but the ones named: an unknown bairro (code -1) on a row scored by a worker.
floresta::Model strict_pipeline() {
  auto j = nlohmann::json::parse(floresta::test::read_file(floresta::test::data_path("skl_pipeline.json")));
  j["preprocessing"]["tables"][0]["unknown_is_error"] = true;
  // Covers (leaf counts), so that explanations reach the encoder too.
  for (auto& tree : j["trees"]) {
    const auto left = tree["left_children"].get<std::vector<int>>();
    const auto right = tree["right_children"].get<std::vector<int>>();
    std::vector<double> cover(left.size(), 0.0);
    std::function<double(int)> count = [&](int node) -> double {
      return cover[node] = left[node] < 0 ? 1.0 : count(left[node]) + count(right[node]);
    };
    count(0);
    tree["cover"] = cover;
  }
  return floresta::load_from_memory(j.dump(), "strict_pipeline.json");
}

std::vector<double> rows_with_unknown_bairro(std::size_t n, std::initializer_list<std::size_t> unknown_rows) {
  std::vector<double> rows;
  for (std::size_t r = 0; r < n; ++r) rows.insert(rows.end(), {static_cast<double>(r % 5), static_cast<double>(r % 4), 30.0});
  for (const std::size_t r : unknown_rows) rows[r * 3] = -1.0;
  return rows;
}

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const floresta::Error& error) {
    return error.what();
  }
  return "";
}

TEST(Threads, AnErrorOnAWorkerThreadReachesTheCaller) {
  const floresta::Model model = strict_pipeline();
  ASSERT_TRUE(model.can_explain()) << model.explain_refusal();
  floresta::PredictOptions four;
  four.n_threads = 4;
  // 4,000 rows on 4 threads: rows 3,000-3,999 are a worker's.
  const auto rows = rows_with_unknown_bairro(4000, {3500});
  const auto X = MatrixView<double>::row_major(rows.data(), 4000, 3);
  for (const std::string& message :
       {error_of([&] { model.predict(X, four); }), error_of([&] { model.predict_contributions(X, four); })}) {
    EXPECT_NE(message.find("row 3500: OneHotEncoder on 'bairro': unknown category"), std::string::npos) << message;
  }
  // Two bad rows on two workers: the caller hears of the first, as a loop over the rows would.
  const auto two = rows_with_unknown_bairro(4000, {1200, 3100});
  const auto Y = MatrixView<double>::row_major(two.data(), 4000, 3);
  EXPECT_NE(error_of([&] { model.predict(Y, four); }).find("row 1200:"), std::string::npos);
  // The model is unharmed: the good rows still score, the same on 1 and 4 threads.
  const auto good = rows_with_unknown_bairro(4000, {});
  const auto G = MatrixView<double>::row_major(good.data(), 4000, 3);
  EXPECT_TRUE(same(model.predict(G, four), model.predict(G)));
  // One row alone is not numbered.
  EXPECT_EQ(error_of([&] { model.predict(X.row(3500), 1, 3); }).rfind("OneHotEncoder on 'bairro'", 0), 0u);
}

// Loading on several threads: an error in a tree read by a worker reaches the caller (the
// declared-size tests check the budget this way too), and every thread count loads the same model.
TEST(Threads, ALoadErrorOnAWorkerThreadReachesTheCaller) {
  auto j = nlohmann::json::parse(floresta::test::read_file(floresta::test::data_path("skl_random_forest.json")));
  // 256 trees (its 8, repeated), so that 4 threads each validate and compile 64 of them.
  const auto trees = j["trees"];
  j["trees"] = nlohmann::json::array();
  for (int copy = 0; copy < 32; ++copy)
    for (const auto& tree : trees) j["trees"].push_back(tree);
  j["average_divisor"] = 256.0;
  const std::size_t last = j["trees"].size() - 1;
  j["trees"][last]["left_children"][0] = 1000000;
  for (const int threads : {1, 2, 4}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    const std::string message = error_of([&] { floresta::load_from_memory(j.dump(), "broken.json", options); });
    EXPECT_NE(message.find("tree " + std::to_string(last)), std::string::npos) << threads << " threads: " << message;
  }
}

}  // namespace
