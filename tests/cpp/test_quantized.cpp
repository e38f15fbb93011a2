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

// The number of split levels of the forest's deepest tree.
uint32_t deepest_level(const floresta::ModelSpec& spec) {
  uint32_t deepest = 0;
  for (const auto& tree : spec.trees) {
    std::vector<uint32_t> depth(tree.num_nodes(), 0);  // children follow their parents here
    for (std::size_t i = 0; i < tree.num_nodes(); ++i)
      if (tree.left_children[i] >= 0)
        depth[static_cast<std::size_t>(tree.left_children[i])] = depth[static_cast<std::size_t>(tree.right_children[i])] = depth[i] + 1;
    deepest = std::max(deepest, *std::max_element(depth.begin(), depth.end()));
  }
  return deepest;
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
        const uint32_t deepest = deepest_level(spec);
        if (shape == Shape::kLeafWise) EXPECT_GE(deepest, 12u) << what;
        else EXPECT_LE(deepest, 6u) << what;
        const floresta::Model quantized = floresta::compile(spec), plain = floresta::compile(spec, plain_options);
        // Blocks of 128 and 77 rows; 16 and 40 rows (one and three registers: eight and two
        // trees' table levels at once).
        for (const std::size_t rows : {333, 16, 40}) expect_same_scores(quantized, plain, 20, rows, what);
      }
}

// Single rows read six levels from tables on AVX-512 (Quantization::row_top) and, when no
// tree of a call is deeper, the leaves' nodes from the tables' last words: forests whose
// deepest tree has five, six and seven levels (one past the tables), one call of tree lanes
// and several.
TEST(QuantizedShapes, ForestsAtTheEdgeOfTheRowTablesAgreeWithTheValueWalk) {
  floresta::LoadOptions plain_options;
  plain_options.quantize = false;
  for (const auto rule : {floresta::DecisionRule::kXGBoost, floresta::DecisionRule::kLightGBM})
    for (const int levels : {5, 6, 7})
      for (const int trees : {40, 200}) {
        auto spec = floresta::test::random_forest(rule, 20, 0, 0);
        std::mt19937 random(static_cast<unsigned>(levels * 100 + trees));
        for (int t = 0; t < trees; ++t) {
          floresta::TreeSpec tree;
          floresta::test::grow(tree, random, levels, 20, rule == floresta::DecisionRule::kLightGBM);
          spec.trees.push_back(std::move(tree));
        }
        const std::string what = std::to_string(levels) + " levels, " + std::to_string(trees) + " trees";
        ASSERT_EQ(deepest_level(spec), static_cast<uint32_t>(levels)) << what;
        expect_same_scores(floresta::compile(spec), floresta::compile(spec, plain_options), 20, 40, what);
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

// Categorical splits are quantized (quantized.hpp) when their codes fit in 16-bit bins; the
// forest's own diagnostics, reached through the compile stage.
#include "compile/stages.hpp"
#include "engine/forest.hpp"
#include "json_document.hpp"
#include "loaders.hpp"
#include "test_support.hpp"

namespace {

template <class Rule>
floresta::detail::Forest<Rule> compiled(const floresta::ModelSpec& spec) {
  return floresta::detail::compile_forest<Rule>(spec, floresta::LoadOptions{});
}

TEST(QuantizedCategorical, CategoricalForestsAreQuantized) {
  using floresta::DecisionRule;
  using namespace floresta::detail;
  const auto spec = [](DecisionRule rule) { return floresta::test::random_categorical_forest(rule, 6, 50, 3, 1000, 10); };
  const auto xgboost = compiled<XGBoostRule>(spec(DecisionRule::kXGBoost));
  const auto lightgbm = compiled<LightGBMRule>(spec(DecisionRule::kLightGBM));
  const auto hist = compiled<SkLearnHistRule>(spec(DecisionRule::kSkLearnHist));
  for (const bool quantized_categorical : {xgboost.quantized.has_categorical, lightgbm.quantized.has_categorical,
                                           hist.quantized.has_categorical})
    EXPECT_TRUE(quantized_categorical);
  EXPECT_FALSE(xgboost.quantized.empty());
  // The committed models: XGBoost (UBJSON) and LightGBM with categorical features.
  const std::string ubj = floresta::test::data_path("xgb_multiclass_categorical.ubj");
  const std::string bytes = floresta::test::read_file(ubj);
  LoaderInput xgb_input;
  xgb_input.bytes = bytes;
  xgb_input.encoding = sniff_json_encoding(bytes);
  const auto document = parse_json_document(bytes, xgb_input.encoding, ubj);
  xgb_input.document = &document;
  xgb_input.source = ubj;
  xgb_input.file_bytes = bytes.size();
  const auto xgb_file = compiled<XGBoostRule>(load_xgboost(xgb_input));
  EXPECT_TRUE(xgb_file.has_categorical && xgb_file.quantized.has_categorical);
  const std::string txt = floresta::test::data_path("lgb_binary_categorical.txt");
  const std::string text = floresta::test::read_file(txt);
  LoaderInput lgb_input;
  lgb_input.bytes = text;
  lgb_input.source = txt;
  lgb_input.file_bytes = text.size();
  const auto lgb_file = compiled<LightGBMRule>(load_lightgbm_text(lgb_input));
  EXPECT_TRUE(lgb_file.has_categorical && lgb_file.quantized.has_categorical);
  floresta::LoadOptions plain;
  plain.quantize = false;
  EXPECT_TRUE(floresta::detail::compile_forest<XGBoostRule>(spec(DecisionRule::kXGBoost), plain).quantized.empty());
}

// A stump on feature 0 sending the codes of `codes` right (XGBoost) or left (LightGBM),
// knowing `bits` codes.
floresta::ModelSpec categorical_stump(floresta::DecisionRule rule, const std::vector<int64_t>& codes, uint32_t bits) {
  floresta::ModelSpec spec = floresta::test::random_forest(rule, 2, 0, 1);
  floresta::TreeSpec tree;
  tree.left_children = {1, -1, -1};
  tree.right_children = {2, -1, -1};
  tree.split_feature = {0, 0, 0};
  tree.threshold = {0, 0, 0};
  tree.leaf_value = {0, -1.5, 2.5};
  tree.default_left = {1, 0, 0};  // LightGBM: codes past n_bits go left, unlisted ones right
  tree.is_categorical = {1, 0, 0};
  tree.category_offsets = {0};
  floresta::append_category_set(tree.category_words, codes.data(), codes.size());
  tree.category_offsets.insert(tree.category_offsets.end(), 3, static_cast<uint32_t>(tree.category_words.size()));
  tree.category_bits = {bits, 0, 0};
  spec.trees.push_back(tree);
  return spec;
}

// Sets whose codes do not fit in 16-bit bins keep the value walk, and score the same. XGBoost
// sends every code past its largest listed one left, whatever the split knows, so only the
// listed codes count; LightGBM tells unlisted codes below n_bits from those past it.
TEST(QuantizedCategorical, CodesPastSixteenBitsKeepTheValueWalk) {
  using floresta::DecisionRule;
  using namespace floresta::detail;
  const std::vector<int64_t> small = {3, 65000}, large = {3, 70000};
  EXPECT_FALSE(compiled<XGBoostRule>(categorical_stump(DecisionRule::kXGBoost, small, 65001)).quantized.empty());
  EXPECT_FALSE(compiled<XGBoostRule>(categorical_stump(DecisionRule::kXGBoost, small, 1u << 24)).quantized.empty());
  EXPECT_TRUE(compiled<XGBoostRule>(categorical_stump(DecisionRule::kXGBoost, large, 70001)).quantized.empty());
  EXPECT_FALSE(compiled<LightGBMRule>(categorical_stump(DecisionRule::kLightGBM, small, 65001)).quantized.empty());
  EXPECT_TRUE(compiled<LightGBMRule>(categorical_stump(DecisionRule::kLightGBM, {3}, 70000)).quantized.empty());
  std::vector<double> X;
  for (const double code : {3.0, 4.0, 65000.0, 65001.0, 69999.0, 70000.0, 70001.0, -1.0, double(NAN), 16777216.0})
    X.insert(X.end(), {code, 0.0});
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM})
    for (const auto* codes : {&small, &large})
      for (const uint32_t bits : {65001u, 70001u}) {
        const auto spec = categorical_stump(rule, *codes, bits);
        floresta::LoadOptions plain;
        plain.quantize = false;
        const floresta::Model quantized = floresta::compile(spec), value = floresta::compile(spec, plain);
        EXPECT_EQ(quantized.predict_raw(X.data(), X.size() / 2, 2), value.predict_raw(X.data(), X.size() / 2, 2));
      }
}

}  // namespace
