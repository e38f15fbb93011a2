// The XGBoost JSON loader (src/load_xgboost.cpp): a valid hand-written model, the fields it refuses, parallel tree reading.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace floresta::test;  // NOLINT: the shared fixtures and expect_*_error

TEST(XGBoostJson, MinimalModelIsValidAndScoresAsWritten) {
  const auto model = floresta::load_from_memory(minimal_xgboost_model().dump());
  const float rows[] = {0.0f, 0.0f, 1.0f, 0.0f, 1.0f, 5.0f, NAN, 9.0f};
  const auto raw = model.predict_raw(rows, 4, 2);
  EXPECT_FLOAT_EQ(raw[0], -1.0f);
  EXPECT_FLOAT_EQ(raw[1], 0.25f);
  EXPECT_FLOAT_EQ(raw[2], 1.0f);
  EXPECT_FLOAT_EQ(raw[3], -1.0f);  // NaN follows default_left of the root
}
TEST(XGBoostJson, UnknownObjective) {
  auto m = minimal_xgboost_model();
  m["learner"]["objective"]["name"] = "reg:made_up";
  expect_load_error(m, {"/learner/objective/name", "unsupported objective 'reg:made_up'", "binary:logistic", "survival:cox"});
}
TEST(XGBoostJson, UnknownBooster) {
  auto m = minimal_xgboost_model();
  m["learner"]["gradient_booster"]["name"] = "gbforest";
  expect_load_error(m, {"unsupported booster 'gbforest'", "gblinear"});
}
TEST(XGBoostJson, LengthMismatch) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["right_children"] = {2, -1, 4, -1};
  expect_load_error(m, {"right_children", "4 entries, expected num_nodes = 5"});
}
TEST(XGBoostJson, CategoryValueOutOfRange) {
  auto m = minimal_xgboost_model();
  auto& t = xgboost_tree0(m);
  t["split_type"][2] = 1;
  t["categories_nodes"] = {2};
  t["categories_segments"] = {0};
  t["categories_sizes"] = {2};
  t["categories"] = {3, 1 << 25};
  expect_load_error(m, {"node 2", "category value 33554432 out of range"});
  t["categories"] = {3, -4};
  expect_load_error(m, {"category value -4 out of range"});
}
TEST(XGBoostJson, CategorySegmentOutsideArray) {
  auto m = minimal_xgboost_model();
  auto& t = xgboost_tree0(m);
  t["split_type"][2] = 1;
  t["categories_nodes"] = {2};
  t["categories_segments"] = {1};
  t["categories_sizes"] = {5};
  t["categories"] = {3};
  expect_load_error(m, {"categories_segments", "outside 'categories'"});
}
TEST(XGBoostJson, UnknownSplitType) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["split_type"][0] = 7;
  expect_load_error(m, {"split_type", "not a known split type"});
}
TEST(XGBoostJson, OutputGroupOutOfRange) {
  auto m = minimal_xgboost_model();
  m["learner"]["gradient_booster"]["model"]["tree_info"][0] = 3;
  expect_load_error(m, {"tree_info/0", "output group 3 out of range"});
}
TEST(XGBoostJson, TreeCountMismatch) {
  auto m = minimal_xgboost_model();
  m["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "2";
  expect_load_error(m, {"num_trees", "says 2 trees, the file has 1"});
}
TEST(XGBoostJson, BaseScoreWrongLength) {
  auto m = minimal_xgboost_model();
  m["learner"]["learner_model_param"]["base_score"] = "[0.5,0.2]";
  expect_load_error(m, {"base_score has 2 values for 1 outputs"});
}
TEST(XGBoostJson, BaseScoreOutsideLogisticRange) {
  auto m = minimal_xgboost_model();
  m["learner"]["learner_model_param"]["base_score"] = "1.5";
  expect_load_error(m, {"base_score 1.5 must lie in (0, 1)"});
}
TEST(XGBoostJson, FeatureNamesLengthMismatch) {
  auto m = minimal_xgboost_model();
  m["learner"]["feature_names"] = {"a"};
  expect_load_error(m, {"feature_names", "1 names for num_feature = 2"});
}

// Trees are read and checked by several threads in big models: the same model, and the
// same error (the first bad tree in file order) whatever the thread count.
TEST(XGBoostJson, LoadingInParallelGivesTheSameModelAndTheSameError) {
  auto m = minimal_xgboost_model();
  auto& model = m["learner"]["gradient_booster"]["model"];
  const json tree = model["trees"][0];
  model["trees"] = json::array();
  model["tree_info"] = json::array();
  model["iteration_indptr"] = json::array({0});
  for (int i = 0; i < 300; ++i) {
    json t = tree;
    t["id"] = i;
    t["split_conditions"][0] = 0.5 + 0.01 * i;
    model["trees"].push_back(t);
    model["tree_info"].push_back(0);
    model["iteration_indptr"].push_back(i + 1);
  }
  model["gbtree_model_param"]["num_trees"] = "300";
  const std::string good = m.dump();
  std::vector<double> rows;
  for (int i = 0; i < 200; ++i) rows.insert(rows.end(), {0.02 * i, 0.013 * i});
  std::vector<std::vector<double>> outputs;
  for (const int threads : {1, 2, 3}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    const auto loaded = floresta::load_from_memory(good, "crafted.json", options);
    outputs.push_back(loaded.predict_raw(rows.data(), 200, 2));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[0], outputs[2]);
  // Two bad trees, one in each half: every thread count names the first.
  model["trees"][120]["left_children"][0] = 77;
  model["trees"][250]["split_indices"][2] = 9;
  for (const int threads : {1, 2, 3}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    expect_load_error(m, {"tree 120", "child index 77 out of range"}, options);
  }
  model["trees"][120]["left_children"][0] = 1;
  model["trees"][200]["id"] = 5000;
  for (const int threads : {1, 2, 3}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    expect_load_error(m, {"/trees/200/id", "tree id 5000 is out of range"}, options);
  }
}

}  // namespace
