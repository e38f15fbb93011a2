// k-means labels from every kernel this CPU runs, float32 rows, against a reference argmin in
// double: the shapes the register-blocked kernels split into (centres not a multiple of the
// tile, features not a multiple of a register, batches under one register of rows, partial
// blocks, several blocks), every row layout, exact ties (lowest index) and rows of NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "floresta/floresta.hpp"

namespace {

using floresta::MatrixView;
using floresta::OutputKind;
using Centers = std::vector<std::vector<float>>;

floresta::Model kmeans_model(const Centers& centers, const std::string& kernel) {
  const std::size_t d = centers[0].size();
  nlohmann::json features = nlohmann::json::array();
  for (std::size_t f = 0; f < d; ++f) features.push_back({{"name", "f" + std::to_string(f)}, {"type", "numeric"}});
  const nlohmann::json document = {{"floresta_format", 1},
                                   {"task", "clustering"},
                                   {"decision_rule", "sklearn_tree"},
                                   {"link", "identity"},
                                   {"num_outputs", centers.size()},
                                   {"base_margin", std::vector<double>(centers.size(), 0.0)},
                                   {"num_features", d},
                                   {"features", features},
                                   {"kmeans", {{"centers", centers}}}};
  floresta::LoadOptions options;
  options.kernel = kernel;
  return floresta::load_from_memory(document.dump(), "kmeans.json", options);
}

// The lowest-index argmin of ||c||^2 - 2 x.c in double, or -1 where the two best values are
// within float32 rounding of each other (there the summation order may decide).
std::vector<int> reference_labels(const Centers& centers, const std::vector<float>& X, std::size_t rows) {
  const std::size_t k = centers.size(), d = centers[0].size();
  std::vector<int> labels(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<double> values(k);
    double scale = 0;
    for (std::size_t j = 0; j < k; ++j) {
      double norm = 0, dot = 0;
      for (std::size_t f = 0; f < d; ++f) {
        norm += double(centers[j][f]) * centers[j][f];
        dot += double(X[r * d + f]) * centers[j][f];
        scale += std::abs(double(X[r * d + f]) * centers[j][f]) + double(centers[j][f]) * centers[j][f];
      }
      values[j] = norm - 2 * dot;
    }
    std::size_t best = 0;
    for (std::size_t j = 1; j < k; ++j)
      if (values[j] < values[best]) best = j;
    bool clear = true;
    for (std::size_t j = 0; j < k; ++j)
      if (j != best && values[j] - values[best] < 1e-5 * scale / double(k)) clear = false;
    labels[r] = clear ? static_cast<int>(best) : -1;
  }
  return labels;
}

std::vector<double> labels_of(const floresta::Model& model, const MatrixView<float>& X) {
  std::vector<double> out(X.rows);
  model.score(OutputKind::kClass, X, out.data());
  return out;
}

// Row-major, column-major and strided (every other row and column) copies of X: one label each.
void expect_labels(const floresta::Model& model, const std::vector<float>& X, std::size_t rows, std::size_t d,
                   const std::vector<int>& expected, const std::string& what) {
  std::vector<float> columns(rows * d), strided(4 * rows * d);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t f = 0; f < d; ++f) {
      columns[f * rows + r] = X[r * d + f];
      strided[(2 * r) * (2 * d) + 2 * f] = X[r * d + f];
    }
  const MatrixView<float> views[] = {MatrixView<float>::row_major(X.data(), rows, d),
                                     MatrixView<float>::column_major(columns.data(), rows, d),
                                     {strided.data(), rows, d, static_cast<std::ptrdiff_t>(4 * d), 2}};
  const char* names[] = {"row-major", "column-major", "strided"};
  for (int v = 0; v < 3; ++v) {
    const auto labels = labels_of(model, views[v]);
    for (std::size_t r = 0; r < rows; ++r)
      if (expected[r] >= 0) ASSERT_EQ(labels[r], expected[r]) << what << ", " << names[v] << ", row " << r;
  }
}

TEST(KMeansKernels, LabelsMatchTheReferenceOnEveryShape) {
  std::mt19937 random(5);
  std::normal_distribution<float> normal;
  // Centres: under, at and over a tile of three or four, and several tiles with each
  // remainder. Features: under, at and over a register of eight, and several registers.
  for (const std::size_t k : {1, 2, 3, 4, 5, 7, 8, 13, 40})
    for (const std::size_t d : {1, 2, 3, 7, 8, 9, 16, 21, 64, 70}) {
      Centers centers(k, std::vector<float>(d));
      for (auto& c : centers)
        for (float& v : c) v = 2 * normal(random);
      // 500 rows: blocks of 48 and 96 rows and a partial one; prefixes below: batches under
      // one register, under one tile, one block and a partial block.
      const std::size_t rows = 500;
      std::vector<float> X(rows * d);
      for (float& v : X) v = 2 * normal(random);
      const auto expected = reference_labels(centers, X, rows);
      std::size_t unclear = 0;
      for (const int label : expected) unclear += label < 0;
      EXPECT_LE(unclear, rows / 20) << "k " << k << " d " << d;  // the reference still decides most rows
      for (const std::string& kernel : floresta::available_kernels()) {
        const auto model = kmeans_model(centers, kernel);
        const std::string what = "kernel " + kernel + ", k " + std::to_string(k) + ", d " + std::to_string(d);
        expect_labels(model, X, rows, d, expected, what);
        for (const std::size_t n : {1, 3, 4, 5, 8, 9, 15, 16, 17, 25, 97}) {
          const std::vector<float> head(X.begin(), X.begin() + static_cast<std::ptrdiff_t>(n * d));
          expect_labels(model, head, n, d, expected, what + ", " + std::to_string(n) + " rows");
        }
      }
    }
}

TEST(KMeansKernels, TiesTakeTheLowestIndexAndNaNRowsTheFirst) {
  // Integer centres, some repeated; rows on the centres and halfway between two of them:
  // every sum is exact, so the values tie exactly and the lowest index must win.
  const Centers grid = {{0, 0, 0}, {2, 0, 0}, {0, 2, 0}, {2, 0, 0}, {0, 0, 0}, {2, 2, 0}, {0, 2, 0}};
  const std::vector<std::vector<float>> points = {{0, 0, 0}, {2, 0, 0}, {0, 2, 0}, {2, 2, 0}, {1, 0, 0},
                                                  {0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {1, 2, 0}, {3, 3, 0}};
  const std::vector<int> expected_points = {0, 1, 2, 5, 0, 0, 0, 1, 2, 5};
  const float nan = std::nanf("");
  for (const std::size_t copies : {1, 4, 30}) {  // single rows and small batches, then blocks
    std::vector<float> X;
    std::vector<int> expected;
    for (std::size_t c = 0; c < copies; ++c)
      for (std::size_t i = 0; i < points.size(); ++i) {
        X.insert(X.end(), points[i].begin(), points[i].end());
        expected.push_back(expected_points[i]);
      }
    X.insert(X.end(), {nan, nan, nan});  // no value is smaller than +inf: the first centre
    expected.push_back(0);
    for (const std::string& kernel : floresta::available_kernels()) {
      const auto model = kmeans_model(grid, kernel);
      expect_labels(model, X, expected.size(), 3, expected, "kernel " + kernel + ", " + std::to_string(copies) + " copies");
      for (std::size_t r = 0; r < expected.size(); ++r) {
        double label = -1;
        model.score_row(OutputKind::kClass, X.data() + 3 * r, 3, &label);
        EXPECT_EQ(label, expected[r]) << "kernel " << kernel << ", single row " << r;
      }
    }
  }
}

}  // namespace
