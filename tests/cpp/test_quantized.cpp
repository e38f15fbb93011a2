// The quantized kernels against the value walk on generated forests: every width of bin
// columns the single-row kernels distinguish (bins in two registers, in four, in memory),
// trees shallower and deeper than the top tables, more trees than one call walks, inputs
// on the thresholds, NaN and zero; both decision rules' value types.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "floresta/floresta.hpp"

namespace {

constexpr double kGrid[] = {-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0};

// Appends a random subtree of at most `depth` levels to `tree`; returns its root's id.
// zero_missing: a quarter of the splits treat zero as missing (LightGBM; each such feature
// then takes bin columns of its own, so the widths below are those of XGBoost's rule).
int32_t grow(floresta::TreeSpec& tree, std::mt19937& random, int depth, int features, bool zero_missing) {
  const auto id = static_cast<int32_t>(tree.left_children.size());
  auto push = [&tree](double leaf) {
    tree.left_children.push_back(-1);
    tree.right_children.push_back(-1);
    tree.split_feature.push_back(0);
    tree.threshold.push_back(0.0);
    tree.leaf_value.push_back(leaf);
    tree.default_left.push_back(0);
    tree.is_categorical.push_back(0);
    tree.zero_is_missing.push_back(0);
  };
  push(std::uniform_real_distribution<double>(-1, 1)(random));
  if (depth == 0 || random() % 6 == 0) return id;
  const auto i = static_cast<std::size_t>(id);
  tree.split_feature[i] = static_cast<int32_t>(random() % static_cast<unsigned>(features));
  tree.threshold[i] = kGrid[random() % 8];
  tree.default_left[i] = static_cast<uint8_t>(random() % 2);
  tree.zero_is_missing[i] = static_cast<uint8_t>(zero_missing && random() % 4 == 0);
  const int32_t left = grow(tree, random, depth - 1, features, zero_missing);
  tree.left_children[i] = left;
  const int32_t right = grow(tree, random, depth - 1, features, zero_missing);
  tree.right_children[i] = right;
  return id;
}

floresta::ModelSpec random_forest(floresta::DecisionRule rule, int features, int trees, unsigned seed) {
  std::mt19937 random(seed);
  floresta::ModelSpec spec;
  spec.source = "generated";
  spec.rule = rule;
  spec.num_features = features;
  spec.base_margin = {0.5};
  spec.schema.features.resize(static_cast<std::size_t>(features));
  for (int f = 0; f < features; ++f) spec.schema.features[static_cast<std::size_t>(f)].name = "f" + std::to_string(f);
  for (int t = 0; t < trees; ++t) {
    floresta::TreeSpec tree;
    grow(tree, random, static_cast<int>(random() % 9), features, rule == floresta::DecisionRule::kLightGBM);  // depths 0-8
    spec.trees.push_back(std::move(tree));
  }
  return spec;
}

std::vector<double> random_rows(std::size_t rows, int features, unsigned seed) {
  std::mt19937 random(seed);
  std::vector<double> out(rows * static_cast<std::size_t>(features));
  for (double& x : out) {
    const unsigned pick = random() % 10;
    if (pick == 0) x = NAN;
    else if (pick < 5) x = kGrid[random() % 8];  // exactly on a threshold
    else x = std::uniform_real_distribution<double>(-3, 4)(random);
  }
  return out;
}

class QuantizedWidths : public ::testing::TestWithParam<int> {};

TEST_P(QuantizedWidths, SingleRowsAndBatchesAgreeWithTheValueWalk) {
  const int features = GetParam();
  for (const auto rule : {floresta::DecisionRule::kXGBoost, floresta::DecisionRule::kLightGBM}) {
    for (const int trees : {40, 130}) {  // one call of tree lanes, and chunks of 64
      const auto spec = random_forest(rule, features, trees, static_cast<unsigned>(features * 1000 + trees));
      floresta::LoadOptions plain_options;
      plain_options.quantize = false;
      const floresta::Model quantized = floresta::compile(spec);
      const floresta::Model plain = floresta::compile(spec, plain_options);
      const std::size_t rows = 300;
      const auto X = random_rows(rows, features, 7);
      const std::vector<float> X32(X.begin(), X.end());
      const auto cols = static_cast<std::size_t>(features);
      EXPECT_EQ(quantized.predict_raw(X.data(), rows, cols), plain.predict_raw(X.data(), rows, cols));
      EXPECT_EQ(quantized.predict_raw(X32.data(), rows, cols), plain.predict_raw(X32.data(), rows, cols));
      double a = 0, b = 0;
      for (std::size_t r = 0; r < rows; ++r) {
        quantized.score_row(floresta::OutputKind::kRaw, X.data() + r * cols, cols, &a);
        plain.score_row(floresta::OutputKind::kRaw, X.data() + r * cols, cols, &b);
        ASSERT_EQ(a, b) << "row " << r << ", " << trees << " trees";
        quantized.score_row(floresta::OutputKind::kRaw, X32.data() + r * cols, cols, &a);
        plain.score_row(floresta::OutputKind::kRaw, X32.data() + r * cols, cols, &b);
        ASSERT_EQ(a, b) << "float row " << r << ", " << trees << " trees";
      }
    }
  }
}

// XGBoost's rule: up to 31 features, bins in two registers (2 columns a feature and the leaf
// column); up to 63, four; more, the gather walk. LightGBM's zero-missing splits add columns.
INSTANTIATE_TEST_SUITE_P(BinColumns, QuantizedWidths, ::testing::Values(3, 31, 32, 63, 64, 90));

}  // namespace
