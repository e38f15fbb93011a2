// The quantized kernels against the value walk on generated forests: every width of bin
// columns the single-row kernels distinguish (bins in two registers, in four, in memory),
// trees shallower and deeper than the top tables, more trees than one call walks, inputs
// on the thresholds, NaN and zero; both decision rules' value types. Deep leaf-wise trees
// (the batch walk's work list), forests no deeper than six levels (its shortcut) and
// several output groups too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "floresta/floresta.hpp"
#include "generated_forests.hpp"

namespace {

using floresta::test::random_forest;
using floresta::test::random_rows;
using floresta::test::Shape;

// Every row's raw outputs, batch and single rows, double and float inputs, in both models.
void expect_same_scores(const floresta::Model& quantized, const floresta::Model& plain, int features, std::size_t rows,
                        const std::string& what) {
  const auto X = random_rows(rows, features, 7);
  const std::vector<float> X32(X.begin(), X.end());
  const auto cols = static_cast<std::size_t>(features);
  EXPECT_EQ(quantized.predict_raw(X.data(), rows, cols), plain.predict_raw(X.data(), rows, cols)) << what;
  EXPECT_EQ(quantized.predict_raw(X32.data(), rows, cols), plain.predict_raw(X32.data(), rows, cols)) << what;
  const std::size_t width = quantized.output_width(floresta::OutputKind::kRaw);
  std::vector<double> a(width), b(width);
  for (std::size_t r = 0; r < rows; ++r) {
    quantized.score_row(floresta::OutputKind::kRaw, X.data() + r * cols, cols, a.data());
    plain.score_row(floresta::OutputKind::kRaw, X.data() + r * cols, cols, b.data());
    ASSERT_EQ(a, b) << what << ", row " << r;
    quantized.score_row(floresta::OutputKind::kRaw, X32.data() + r * cols, cols, a.data());
    plain.score_row(floresta::OutputKind::kRaw, X32.data() + r * cols, cols, b.data());
    ASSERT_EQ(a, b) << what << ", float row " << r;
  }
}

class QuantizedWidths : public ::testing::TestWithParam<int> {};

TEST_P(QuantizedWidths, SingleRowsAndBatchesAgreeWithTheValueWalk) {
  const int features = GetParam();
  for (const auto rule : {floresta::DecisionRule::kXGBoost, floresta::DecisionRule::kLightGBM}) {
    for (const int trees : {40, 130}) {  // one call of tree lanes, and chunks of 64
      const auto spec = random_forest(rule, features, trees, static_cast<unsigned>(features * 1000 + trees));
      floresta::LoadOptions plain_options;
      plain_options.quantize = false;
      // 300 rows: two whole blocks of 128 and one of 44 (three registers, the last partial).
      expect_same_scores(floresta::compile(spec), floresta::compile(spec, plain_options), features, 300,
                         std::to_string(trees) + " trees");
    }
  }
}

TEST(QuantizedShapes, LeafWiseShallowAndGroupedForestsAgreeWithTheValueWalk) {
  floresta::LoadOptions plain_options;
  plain_options.quantize = false;
  for (const auto rule : {floresta::DecisionRule::kXGBoost, floresta::DecisionRule::kLightGBM})
    for (const auto shape : {Shape::kLeafWise, Shape::kShallow})
      for (const int groups : {1, 3}) {
        const auto spec = random_forest(rule, 20, 53, static_cast<unsigned>(17 * groups + static_cast<int>(shape)), shape, groups);
        const std::string what = std::string(shape == Shape::kLeafWise ? "leaf-wise" : "shallow") + ", " +
                                 std::to_string(groups) + " groups";
        uint32_t deepest = 0;
        for (const auto& tree : spec.trees) {
          std::vector<uint32_t> depth(tree.num_nodes(), 0);  // children follow their parents here
          for (std::size_t i = 0; i < tree.num_nodes(); ++i)
            if (tree.left_children[i] >= 0)
              depth[static_cast<std::size_t>(tree.left_children[i])] = depth[static_cast<std::size_t>(tree.right_children[i])] = depth[i] + 1;
          deepest = std::max(deepest, *std::max_element(depth.begin(), depth.end()));
        }
        if (shape == Shape::kLeafWise) EXPECT_GE(deepest, 12u) << what;
        else EXPECT_LE(deepest, 6u) << what;
        const floresta::Model quantized = floresta::compile(spec), plain = floresta::compile(spec, plain_options);
        // Blocks of 128 and 77 rows; 16 and 40 rows (one and three registers: eight and two
        // trees' table levels at once).
        for (const std::size_t rows : {333, 16, 40}) expect_same_scores(quantized, plain, 20, rows, what);
      }
}

// XGBoost's rule: up to 31 features, bins in two registers (2 columns a feature and the leaf
// column); up to 63, four; more, bins gathered from memory. LightGBM's zero-missing splits add columns.
INSTANTIATE_TEST_SUITE_P(BinColumns, QuantizedWidths, ::testing::Values(3, 31, 32, 63, 64, 90));

}  // namespace

namespace {

// Thresholds deduplicated by hashing their bits: -0.0 and 0.0 are one threshold, and
// thousands of distinct ones on a feature grow the table several times.
TEST(QuantizedShapes, SignedZerosAndThousandsOfThresholds) {
  for (const auto rule : {floresta::DecisionRule::kXGBoost, floresta::DecisionRule::kLightGBM}) {
    floresta::ModelSpec spec;
    spec.source = "generated";
    spec.rule = rule;
    spec.num_features = 2;
    spec.base_margin = {0.0};
    spec.schema.features.resize(2);
    spec.schema.features[0].name = "a";
    spec.schema.features[1].name = "b";
    for (int t = 0; t < 3000; ++t) {
      floresta::TreeSpec tree;
      tree.left_children = {1, -1, -1};
      tree.right_children = {2, -1, -1};
      tree.split_feature = {t % 2, 0, 0};
      const double zero = t % 3 == 0 ? -0.0 : 0.0;
      tree.threshold = {t % 5 == 0 ? zero : (t % 2 == 0 ? 0.001 * (t % 1999) - 1 : 0.5 * (t % 7)), 0, 0};
      tree.leaf_value = {0, 0.001 * t, -0.002 * t};
      tree.default_left = {static_cast<uint8_t>(t % 2), 0, 0};
      tree.is_categorical = {0, 0, 0};
      spec.trees.push_back(tree);
    }
    floresta::LoadOptions plain_options;
    plain_options.quantize = false;
    const floresta::Model quantized = floresta::compile(spec), plain = floresta::compile(spec, plain_options);
    std::vector<double> X;
    for (int i = -1100; i <= 1100; ++i) X.insert(X.end(), {0.001 * i, 0.25 * (i % 13)});
    X.insert(X.end(), {-0.0, 0.0, 0.0, -0.0, NAN, 0.0});
    const std::size_t n = X.size() / 2;
    EXPECT_EQ(quantized.predict_raw(X.data(), n, 2), plain.predict_raw(X.data(), n, 2));
  }
}

}  // namespace
