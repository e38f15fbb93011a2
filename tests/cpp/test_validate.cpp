// The validate stage (src/compile/validate.cpp): children, cycles, depth, features, round bounds, rounds cut after validation.
#include <gtest/gtest.h>

#include <string>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace floresta::test;  // NOLINT: the shared fixtures and expect_*_error

// Rounds are cut after validation: a damaged tree in a round the caller does not score is
// still refused (it used to be cut away unseen).
TEST(Validate, RoundsAreCutAfterValidation) {
  auto m = minimal_xgboost_model();
  auto& model = m["learner"]["gradient_booster"]["model"];
  json broken = xgboost_tree0(m);
  broken["id"] = 1;
  broken["left_children"] = {1, -1, 0, -1, -1};  // node 2 points back at the root
  model["trees"].push_back(broken);
  model["tree_info"] = {0, 0};
  model["gbtree_model_param"]["num_trees"] = "2";
  model["iteration_indptr"] = {0, 1, 2};
  floresta::LoadOptions first_round;
  first_round.num_iterations = 1;
  expect_load_error(m, {"tree 1"}, first_round);
  m["learner"]["attributes"]["best_iteration"] = "0";
  floresta::LoadOptions best;
  best.use_best_iteration = true;
  expect_load_error(m, {"tree 1"}, best);
}
TEST(Validate, ChildIndexOutOfRange) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["right_children"][2] = 9;
  expect_load_error(m, {"tree 0", "node 2", "child index 9 out of range"});
}
TEST(Validate, NodeWithOneChild) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["right_children"][2] = -1;
  expect_load_error(m, {"node 2 has exactly one child"});
}
TEST(Validate, FeatureIndexOutOfRange) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["split_indices"][2] = 7;
  expect_load_error(m, {"tree 0", "node 2", "feature index 7 out of range for 2 features"});
}
TEST(Validate, NodeWithTwoParents) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["left_children"][2] = 1;  // node 1 is already the root's left child
  expect_load_error(m, {"tree 0", "node 1 has two parents"});
}
TEST(Validate, Cycle) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["left_children"][2] = 2;
  expect_load_error(m, {"tree 0", "cycle"});
  auto back_to_root = minimal_xgboost_model();
  xgboost_tree0(back_to_root)["left_children"][2] = 0;
  expect_load_error(back_to_root, {"root", "cycle"});
}
TEST(Validate, CycleThroughDeeperAncestor) {
  // 0 -> (1, 2), 2 -> (3, 4), 3 -> (2, 5): node 3 links back to its ancestor 2.
  auto m = minimal_xgboost_model();
  auto& t = xgboost_tree0(m);
  t["tree_param"]["num_nodes"] = "6";
  t["left_children"] = {1, -1, 3, 2, -1, -1};
  t["right_children"] = {2, -1, 4, 5, -1, -1};
  for (const char* k : {"split_indices", "default_left", "split_type", "base_weights"}) t[k].push_back(0);
  t["split_conditions"].push_back(0.0);
  t["parents"].push_back(3);
  expect_load_error(m, {"links back to its ancestor 2", "cycle"});
}
TEST(Validate, TreeDeeperThanLimit) {
  floresta::LoadOptions options;
  options.max_depth = 1;
  expect_load_error(minimal_xgboost_model(), {"deeper than the limit of 1"}, options);
}
TEST(Validate, IterationIndptrInconsistent) {
  auto m = minimal_xgboost_model();
  m["learner"]["gradient_booster"]["model"]["iteration_indptr"] = {0, 3};
  expect_load_error(m, {"iteration_indptr"});
}

}  // namespace
