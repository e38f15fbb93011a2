// Helpers shared by the C++ tests: reading committed test vectors and model bytes, hand-written
// models, and expecting load errors.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "floresta/floresta.hpp"

namespace floresta::test {

inline std::string data_path(const std::string& name) { return std::string(FLORESTA_TEST_DATA) + "/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reference outputs written by tests/data/make_test_vectors.py: inputs, and any of
// raw / proba / value / decision / label, each rows x k, computed by the training library.
struct Vectors {
  std::string model, library;
  std::size_t rows = 0, cols = 0;
  std::vector<float> inputs;    // row-major, NaN for missing
  std::vector<double> inputs64;  // the same, in double
  std::map<std::string, std::vector<std::vector<double>>> outputs;
  std::vector<std::string> records;  // the rows as JSON objects of raw values, when present
};

inline Vectors read_vectors(const std::string& name) {
  const auto j = nlohmann::json::parse(read_file(data_path(name + ".vectors.json")));
  Vectors v;
  v.model = data_path(j.at("model").get<std::string>());
  v.library = j.at("library").get<std::string>();
  v.rows = j.at("inputs").size();
  v.cols = j.at("inputs").at(0).size();
  for (const auto& row : j.at("inputs"))
    for (const auto& x : row) {
      const double d = x.is_null() ? std::numeric_limits<double>::quiet_NaN() : x.get<double>();
      v.inputs64.push_back(d);
      v.inputs.push_back(static_cast<float>(d));
    }
  for (const char* key : {"raw", "proba", "value", "decision", "label", "distances"})
    if (j.contains(key)) v.outputs[key] = j.at(key).get<std::vector<std::vector<double>>>();
  if (j.contains("records"))
    for (const auto& record : j.at("records")) v.records.push_back(record.dump());
  return v;
}

// A valid XGBoost model: one tree, x0 < 0.5 ? -1 : (x1 < 2 ? 0.25 : 1); tests break one field.
inline nlohmann::json minimal_xgboost_model(const std::string& objective = "binary:logistic") {
  using nlohmann::json;
  json tree = {
      {"id", 0},
      {"tree_param", {{"num_nodes", "5"}, {"num_feature", "2"}, {"size_leaf_vector", "1"}}},
      {"left_children", {1, -1, 3, -1, -1}},
      {"right_children", {2, -1, 4, -1, -1}},
      {"parents", {2147483647, 0, 0, 2, 2}},
      {"split_indices", {0, 0, 1, 0, 0}},
      {"split_conditions", {0.5, -1.0, 2.0, 0.25, 1.0}},
      {"default_left", {1, 0, 0, 0, 0}},
      {"split_type", {0, 0, 0, 0, 0}},
      {"categories", json::array()},
      {"categories_nodes", json::array()},
      {"categories_segments", json::array()},
      {"categories_sizes", json::array()},
      {"base_weights", {0, 0, 0, 0, 0}}};
  return {{"version", {3, 2, 0}},
          {"learner",
           {{"attributes", json::object()},
            {"feature_names", {"a", "b"}},
            {"feature_types", {"float", "float"}},
            {"objective", {{"name", objective}}},
            {"learner_model_param",
             {{"base_score", "[5E-1]"}, {"num_class", "0"}, {"num_feature", "2"}, {"num_target", "1"}}},
            {"gradient_booster",
             {{"name", "gbtree"},
              {"model",
               {{"gbtree_model_param", {{"num_trees", "1"}, {"num_parallel_tree", "1"}}},
                {"iteration_indptr", {0, 1}},
                {"tree_info", {0}},
                {"trees", {tree}}}}}}}}};
}

// A valid LightGBM text model: x0 <= 0.5 ? (x1 in {1, 3} ? 1 : 2) : 3, with missing type None
// at the root. `tree_override` replaces the Tree=0 block; `header_extra` adds header lines.
inline std::string minimal_lightgbm_text(const std::string& tree_override = "", const std::string& header_extra = "") {
  std::string tree =
      "Tree=0\nnum_leaves=3\nnum_cat=1\nsplit_feature=0 1\nthreshold=0.5 0\ndecision_type=2 1\n"
      "left_child=1 -1\nright_child=-3 -2\nleaf_value=1 2 3\ncat_boundaries=0 1\ncat_threshold=10\n"
      "is_linear=0\nshrinkage=1\n";
  if (!tree_override.empty()) tree = tree_override;
  return "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\n"
         "objective=regression\n" + header_extra + "feature_names=a b\nfeature_infos=[0:1] 1:3\n\n" + tree +
         "\n\nend of trees\n";
}

// A valid floresta JSON tree: x0 <= 0.5 ? 1 : 2.
inline nlohmann::json minimal_floresta_tree() {
  return {{"left_children", {1, -1, -1}},
          {"right_children", {2, -1, -1}},
          {"split_feature", {0, 0, 0}},
          {"threshold", {0.5, 0, 0}},
          {"default_left", {0, 0, 0}},
          {"leaf_value", {0, 1, 2}}};
}
// A valid floresta JSON regression model of that one tree over features a and b; tests break one field.
inline nlohmann::json minimal_floresta_model() {
  return {{"floresta_format", 1},
          {"task", "regression"},
          {"decision_rule", "sklearn_tree"},
          {"link", "identity"},
          {"num_outputs", 1},
          {"base_margin", {0}},
          {"num_features", 2},
          {"features", {{{"name", "a"}, {"type", "numeric"}}, {{"name", "b"}, {"type", "numeric"}}}},
          {"trees", {minimal_floresta_tree()}}};
}

// The first tree of a minimal_xgboost_model() (or any XGBoost JSON model).
inline nlohmann::json& xgboost_tree0(nlohmann::json& m) { return m["learner"]["gradient_booster"]["model"]["trees"][0]; }

// Loads bytes named `name` and expects an Error whose message contains every fragment.
inline void expect_load_error(const std::string& bytes, std::initializer_list<const char*> fragments,
                              const floresta::LoadOptions& options = {}, const std::string& name = "crafted.json") {
  try {
    floresta::load_from_memory(bytes, name, options);
    FAIL() << "no error; expected one mentioning " << *fragments.begin();
  } catch (const floresta::Error& e) {
    const std::string message = e.what();
    for (const char* f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "message: " << message;
  }
}
inline void expect_load_error(const nlohmann::json& model, std::initializer_list<const char*> fragments,
                              const floresta::LoadOptions& options = {}) {
  expect_load_error(model.dump(), fragments, options);
}
// Loads a file by path and expects an Error whose message contains every fragment.
inline void expect_file_error(const std::string& path, std::initializer_list<const char*> fragments) {
  try {
    floresta::load(path);
    FAIL() << "no error; expected one mentioning " << *fragments.begin();
  } catch (const floresta::Error& e) {
    const std::string message = e.what();
    for (const char* f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "message: " << message;
  }
}

}  // namespace floresta::test
