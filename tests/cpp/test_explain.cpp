// Explanations (TreeSHAP) from C++: a tree whose Shapley values are worked out by hand from
// the definition, the buffer and convenience calls, single rows, threads, averaging, records,
// and the refusals. Parity with XGBoost, LightGBM and shap is in tests/python/test_explain.py.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

// x0 < 0.5 (cover 10) ? (x1 < 0.5 (cover 6) ? 1 (cover 2) : 2 (cover 4)) : 5 (cover 4), with
// XGBoost's rule (left iff x < t, NaN to the default side: left at the root, right below).
floresta::ModelSpec hand_tree(double base = 0.0) {
  floresta::ModelSpec spec;
  spec.source = "<hand tree>";
  spec.format = "test";
  spec.rule = floresta::DecisionRule::kXGBoost;
  spec.num_features = 2;
  spec.base_margin = {base};
  spec.schema.features = {{"a"}, {"b"}};
  floresta::TreeSpec tree;
  tree.left_children = {1, 3, -1, -1, -1};
  tree.right_children = {2, 4, -1, -1, -1};
  tree.split_feature = {0, 1, 0, 0, 0};
  tree.threshold = {0.5, 0.5, 0, 0, 0};
  tree.leaf_value = {0, 0, 5, 1, 2};
  tree.default_left = {1, 0, 0, 0, 0};
  tree.is_categorical = {0, 0, 0, 0, 0};
  tree.cover = {10, 6, 4, 2, 4};
  spec.trees = {tree};
  return spec;
}

// For x = (0, 1) the row reaches the leaf 2. With v(S) = E[f | x_S] (unknown features averaged
// by cover): v({}) = 0.6 * (2/6 * 1 + 4/6 * 2) + 0.4 * 5 = 3, v({a}) = 10/6, v({b}) = 0.6 * 2 +
// 0.4 * 5 = 3.2, v({a, b}) = 2. Shapley: phi_a = ((v(a) - v()) + (v(ab) - v(b))) / 2 = -19/15,
// phi_b = ((v(b) - v()) + (v(ab) - v(a))) / 2 = 4/15.
TEST(Explain, HandWorkedShapleyValues) {
  const auto model = floresta::compile(hand_tree(0.25));
  ASSERT_TRUE(model.can_explain()) << model.explain_refusal();
  EXPECT_EQ(model.contributions_width(), 3u);
  const float row[2] = {0.0f, 1.0f};
  double out[3];
  model.contributions_row(row, 2, out);
  EXPECT_NEAR(out[0], -19.0 / 15.0, 1e-15);
  EXPECT_NEAR(out[1], 4.0 / 15.0, 1e-15);
  EXPECT_NEAR(out[2], 3.25, 1e-15);  // expected value with the base margin
  EXPECT_NEAR(out[0] + out[1] + out[2], 2.25, 1e-15);
  EXPECT_EQ(model.expected_value(), std::vector<double>{out[2]});
  // A missing a goes left at the root (its default): the same path, the same values.
  const double missing_a[2] = {std::numeric_limits<double>::quiet_NaN(), 1.0};
  double again[3];
  model.contributions_row(missing_a, 2, again);
  for (int k = 0; k < 3; ++k) EXPECT_DOUBLE_EQ(again[k], out[k]);
  // x = (1, 0): the right leaf 5. b does not decide this row's path but would have, had a
  // been unknown: v({b}) = 0.6 * 1 + 0.4 * 5 = 2.6, v({a}) = v({a, b}) = 5, so
  // phi_a = ((5 - 3) + (5 - 2.6)) / 2 = 2.2 and phi_b = ((2.6 - 3) + (5 - 5)) / 2 = -0.2.
  const double right[2] = {1.0, 0.0};
  model.contributions_row(right, 2, again);
  EXPECT_NEAR(again[0], 2.2, 1e-15);
  EXPECT_NEAR(again[1], -0.2, 1e-15);
}

TEST(Explain, BatchSingleRowThreadsAndTypesAgree) {
  const auto v = floresta::test::read_vectors("lgb_multiclass");
  const auto model = floresta::load(v.model);
  ASSERT_TRUE(model.can_explain()) << model.explain_refusal();
  const std::size_t width = model.contributions_width();
  EXPECT_EQ(width, model.num_outputs() * (model.num_features() + 1));
  const auto X = floresta::MatrixView<float>::row_major(v.inputs.data(), v.rows, v.cols);
  const auto batch = model.predict_contributions(X);
  floresta::PredictOptions threads;
  threads.n_threads = 2;
  EXPECT_EQ(model.predict_contributions(X, threads), batch);
  std::vector<double> as_double(v.inputs.begin(), v.inputs.end());
  EXPECT_EQ(model.predict_contributions(floresta::MatrixView<double>::row_major(as_double.data(), v.rows, v.cols)), batch);
  const auto raw = model.predict_raw(X);
  std::vector<double> one(width);
  for (std::size_t r = 0; r < v.rows; ++r) {
    model.contributions_row(as_double.data() + r * v.cols, v.cols, one.data());
    for (std::size_t k = 0; k < width; ++k) ASSERT_EQ(one[k], batch[r * width + k]) << "row " << r;
    // One output alone: the same values as that output's part of the whole.
    const std::size_t per = model.num_features() + 1;
    std::vector<double> alone(per);
    for (std::size_t g = 0; g < model.num_outputs(); ++g) {
      model.contributions_row(v.inputs.data() + r * v.cols, v.cols, g, alone.data());
      for (std::size_t k = 0; k < per; ++k) ASSERT_EQ(alone[k], one[g * per + k]) << "row " << r << " output " << g;
    }
    // Additivity: each output's contributions sum to its margin (LightGBM adds in double).
    for (std::size_t g = 0; g < model.num_outputs(); ++g) {
      double sum = 0;
      for (std::size_t f = 0; f <= model.num_features(); ++f) sum += one[g * (model.num_features() + 1) + f];
      EXPECT_NEAR(sum, raw[r * model.num_outputs() + g], 1e-9) << "row " << r << " output " << g;
    }
  }
}

TEST(Explain, ConcurrentFirstCallsAgree) {
  // The path tables are built by whichever thread explains first (std::call_once); every
  // thread then reads them. Four threads start on a fresh model at once.
  const auto v = floresta::test::read_vectors("xgb_multiclass_categorical");
  const auto serial = floresta::load(v.model).predict_contributions(
      floresta::MatrixView<float>::row_major(v.inputs.data(), v.rows, v.cols));
  const auto model = floresta::load(v.model);
  std::vector<std::vector<double>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      results[t] = model.predict_contributions(floresta::MatrixView<float>::row_major(v.inputs.data(), v.rows, v.cols));
    });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, serial);
}

TEST(Explain, AveragedForestsExplainTheAverage) {
  auto spec = hand_tree();
  spec.trees.push_back(spec.trees[0]);
  spec.trees[1].leaf_value = {0, 0, 7, 3, 4};
  spec.average_divisor = 2;
  const auto model = floresta::compile(spec);
  const double row[2] = {0.0, 1.0};
  double out[3];
  model.contributions_row(row, 2, out);
  double raw = 0;
  model.score_row(floresta::OutputKind::kRaw, row, 2, &raw);
  EXPECT_NEAR(out[0] + out[1] + out[2], raw / 2, 1e-12);
  EXPECT_NEAR(out[2], (3.0 + 5.0) / 2, 1e-12);  // the second tree's expectation is the first's + 2
}

TEST(Explain, RefusedWithAReasonButStillPredicts) {
  auto spec = hand_tree();
  spec.trees[0].cover.clear();
  const auto model = floresta::compile(spec);
  EXPECT_FALSE(model.can_explain());
  EXPECT_NE(model.explain_refusal().find("no node covers"), std::string::npos) << model.explain_refusal();
  const double row[2] = {0.0, 1.0};
  double out[3];
  EXPECT_THROW(model.contributions_row(row, 2, out), floresta::Error);
  EXPECT_EQ(model.predict_raw(row, 1, 2), std::vector<double>{2.0});

  spec = hand_tree();
  spec.trees[0].cover[1] = 0;  // a split no training weight reached
  spec.trees[0].cover[3] = spec.trees[0].cover[4] = 0;
  EXPECT_NE(floresta::compile(spec).explain_refusal().find("cover is 0"), std::string::npos);

  spec = hand_tree();
  spec.trees[0].cover[2] = std::numeric_limits<double>::quiet_NaN();
  try {
    floresta::compile(spec);
    FAIL() << "a NaN cover was accepted";
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tree 0: cover of node 2"), std::string::npos) << e.what();
  }
  spec = hand_tree();
  spec.trees[0].cover.pop_back();
  EXPECT_THROW(floresta::compile(spec), floresta::Error);

  // A single-leaf tree needs no cover.
  spec = hand_tree();
  floresta::TreeSpec leaf;
  leaf.left_children = leaf.right_children = {-1};
  leaf.split_feature = {0};
  leaf.threshold = {0};
  leaf.leaf_value = {0.5};
  leaf.default_left = leaf.is_categorical = {0};
  spec.trees.push_back(leaf);
  const auto with_leaf = floresta::compile(spec);
  ASSERT_TRUE(with_leaf.can_explain()) << with_leaf.explain_refusal();
  EXPECT_NEAR(with_leaf.expected_value()[0], 3.5, 1e-15);
}

TEST(Explain, RecordsNameTheFieldsThatMattered) {
  const auto model = floresta::compile(hand_tree());
  floresta::Record record;
  record.set("a", 0.0).set("b", 1.0);
  const auto parts = model.explain_record(record);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].field, "a");
  EXPECT_NEAR(parts[0].contribution, -19.0 / 15.0, 1e-15);
  EXPECT_EQ(std::get<double>(parts[0].value), 0.0);
  EXPECT_EQ(parts[1].field, "b");
  const auto top = model.explain_record(record, 1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].field, "a");
  floresta::Record partial;
  partial.set("b", 1.0);  // a is missing: NaN, its default side
  EXPECT_TRUE(std::holds_alternative<floresta::Missing>(model.explain_record(partial)[0].value));
  EXPECT_THROW(model.explain_record(record, 0, 3), floresta::Error);
  double alone[3];
  EXPECT_THROW(model.contributions_row(alone, 2, 1, alone), floresta::Error);  // one output only
}

}  // namespace

namespace {

// A caterpillar of `depth` splits, split k on feature k (x_k <= 0.5 goes left to a leaf of
// value k + 1; the spine goes right), covers halving down the spine: one path with `depth`
// distinct features.
floresta::ModelSpec caterpillar(int depth) {
  floresta::ModelSpec spec;
  spec.source = "<caterpillar>";
  spec.format = "test";
  spec.rule = floresta::DecisionRule::kLightGBM;
  spec.num_features = depth;
  spec.base_margin = {0.0};
  for (int f = 0; f < depth; ++f) spec.schema.features.push_back({"f" + std::to_string(f)});
  floresta::TreeSpec tree;
  const int n = 2 * depth + 1;  // split k at node 2k, its leaf at 2k + 1, the last leaf at 2 depth
  tree.left_children.assign(n, -1);
  tree.right_children.assign(n, -1);
  tree.split_feature.assign(n, 0);
  tree.threshold.assign(n, 0.5);
  tree.leaf_value.assign(n, 0.0);
  tree.default_left.assign(n, 0);
  tree.is_categorical.assign(n, 0);
  tree.cover.assign(n, 0.0);
  double cover = std::ldexp(1.0, depth + 1);
  for (int k = 0; k < depth; ++k) {
    tree.left_children[2 * k] = 2 * k + 1;
    tree.right_children[2 * k] = 2 * k + 2;
    tree.split_feature[2 * k] = k;
    tree.cover[2 * k] = cover;
    tree.cover[2 * k + 1] = cover / 2;
    tree.leaf_value[2 * k + 1] = k + 1;
    cover /= 2;
  }
  tree.cover[n - 1] = cover;
  tree.leaf_value[n - 1] = -1;
  spec.trees = {tree};
  return spec;
}

}  // namespace

// Paths longer than the unrolled steps (16 features) and than a 64-bit word of "ones" (the
// scratch fallback): the contributions still add up to the margin and stay finite.
TEST(Explain, LongPathsAddUp) {
  for (int depth : {20, 40, 70}) {
    const auto model = floresta::compile(caterpillar(depth));
    ASSERT_TRUE(model.can_explain()) << model.explain_refusal();
    for (int exit : {0, depth / 2, depth}) {  // the row leaves the spine at split `exit` (depth: never)
      std::vector<double> row(static_cast<std::size_t>(depth), 1.0);
      if (exit < depth) row[static_cast<std::size_t>(exit)] = 0.0;
      std::vector<double> out(model.contributions_width());
      model.contributions_row(row.data(), row.size(), out.data());
      double raw = 0, sum = 0;
      model.score_row(floresta::OutputKind::kRaw, row.data(), row.size(), &raw);
      for (double v : out) sum += v;
      EXPECT_NEAR(sum, raw, 1e-9 * std::max(1.0, std::fabs(raw))) << "depth " << depth << " exit " << exit;
      EXPECT_EQ(raw, exit < depth ? exit + 1.0 : -1.0);
      for (double v : out) EXPECT_TRUE(std::isfinite(v));
    }
  }
}
