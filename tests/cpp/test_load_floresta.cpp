// The floresta JSON loader (src/load_floresta.cpp): the author's `metadata` object, carried
// as JSON text for native and embedded-estimator documents, and cluster names (`classes`)
// for k-means models.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace floresta::test;  // NOLINT: the shared fixtures and expect_*_error

floresta::Model load_json(const json& document) { return floresta::load_from_memory(document.dump(), "model.json"); }

// What a model's author might attach: nested objects, arrays, every JSON scalar, non-ASCII text.
json sample_metadata() {
  return {{"alert_threshold", 0.83},
          {"model_card",
           {{"owner", "equipe de risco"}, {"version", 3}, {"tags", {"fraude", "cartão"}}, {"approved", true},
            {"retired", nullptr}, {"auc", 0.9123456789012345}, {"rows", 12345678901234LL}}},
          {"feature_descriptions", {{"a", "idade"}, {"b", "valor em R$"}}},
          {"empty", json::object()},
          {"list", json::array()}};
}

// A k-means model of `k` centres over features a and b: centre j at (j, 0).
json kmeans_model(int k) {
  std::vector<std::vector<double>> centers;
  for (int j = 0; j < k; ++j) centers.push_back({double(j), 0.0});
  json m = minimal_floresta_model();
  m.erase("trees");
  m["task"] = "clustering";
  m["num_outputs"] = k;
  m["base_margin"] = std::vector<double>(k, 0.0);
  m["kmeans"] = {{"centers", centers}};
  return m;
}

// A floresta file embedding an XGBoost model, as floresta.export writes XGBClassifier.
json embedded_xgboost_model() {
  return {{"floresta_format", 1},
          {"num_features", 2},
          {"estimator", {{"format", "xgboost"}, {"document", minimal_xgboost_model()}}}};
}

TEST(FlorestaMetadata, ReadBackAsTheSameObject) {
  for (json document : {minimal_floresta_model(), embedded_xgboost_model(), kmeans_model(3)}) {
    const floresta::Model plain = load_json(document);
    document["metadata"] = sample_metadata();
    const floresta::Model model = load_json(document);
    SCOPED_TRACE(model.format() + " " + model.objective());
    EXPECT_EQ(json::parse(model.metadata()), sample_metadata());
    EXPECT_EQ(model.metadata().find('\n'), std::string::npos) << "compact text expected";
    // Carried, never read: the answers are the same.
    const std::vector<float> X = {0.0f, 0.0f, 1.0f, 3.0f, 2.2f, -1.0f};
    EXPECT_EQ(model.predict(X.data(), 3, 2), plain.predict(X.data(), 3, 2));
  }
  json empty = minimal_floresta_model();
  empty["metadata"] = json::object();
  EXPECT_EQ(load_json(empty).metadata(), "{}");
}

TEST(FlorestaMetadata, AbsentIsEmptyTextInEveryFormat) {
  EXPECT_EQ(load_json(minimal_floresta_model()).metadata(), "");
  EXPECT_EQ(load_json(embedded_xgboost_model()).metadata(), "");
  EXPECT_EQ(load_json(minimal_xgboost_model()).metadata(), "");
  EXPECT_EQ(floresta::load_from_memory(minimal_lightgbm_text(), "model.txt").metadata(), "");
}

TEST(FlorestaMetadata, AnythingButAnObjectIsRefusedByName) {
  for (const json& value : {json(3), json("threshold=0.8"), json::array({1, 2}), json(nullptr), json(true)}) {
    SCOPED_TRACE(value.dump());
    for (json document : {minimal_floresta_model(), embedded_xgboost_model()}) {
      document["metadata"] = value;
      expect_load_error(document, {"crafted.json", "/metadata", "must be an object"});
    }
  }
}

// UBJSON documents may pack numeric arrays and hold non-finite numbers, which JSON text
// cannot: the metadata comes back as plain JSON, or is refused naming the place.
TEST(FlorestaMetadata, UbjsonPackedArraysBecomePlainArrays) {
  json document = minimal_floresta_model();
  document["metadata"] = {
      {"thresholds", {0.25, 0.5, 0.83}}, {"codes", {7, 8, 9}}, {"counts", {1, 2, 300000}}, {"name", "ubj"}};
  const std::vector<uint8_t> ubj = json::to_ubjson(document, true, true);  // typed, counted arrays
  const floresta::Model model = floresta::load_from_memory(std::string(ubj.begin(), ubj.end()), "model.ubj");
  EXPECT_EQ(json::parse(model.metadata()), document["metadata"]);

  document["metadata"] = {{"bad", {{"x", std::numeric_limits<double>::quiet_NaN()}}}};
  const std::vector<uint8_t> nan = json::to_ubjson(document);
  expect_load_error(std::string(nan.begin(), nan.end()), {"/metadata/bad/x", "not a finite number"});
}

TEST(FlorestaClusterNames, NamesAreTheClassLabelsOfAKMeansModel) {
  json document = kmeans_model(3);
  document["classes"] = {"baixo", "médio", "alto"};
  const floresta::Model model = load_json(document);
  EXPECT_TRUE(model.is_clusterer());
  EXPECT_EQ(model.class_labels(), (std::vector<std::string>{"baixo", "médio", "alto"}));
  EXPECT_EQ(model.schema().output_labels, model.class_labels());
  const std::vector<float> X = {0.1f, 0.0f, 2.4f, 1.0f, 0.9f, -0.5f};
  EXPECT_EQ(model.predict(X.data(), 3, 2), (std::vector<double>{0, 2, 1}));
}

TEST(FlorestaClusterNames, WithoutNamesTheLabelsAreTheIndices) {
  const floresta::Model model = load_json(kmeans_model(4));
  EXPECT_EQ(model.class_labels(), (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_TRUE(model.schema().output_labels.empty());
}

TEST(FlorestaClusterNames, BadNamesAreRefusedByName) {
  json count = kmeans_model(3);
  count["classes"] = {"a", "b"};
  expect_load_error(count, {"/classes", "has 2 labels, the model has 3 clusters"});
  json number = kmeans_model(3);
  number["classes"] = {"a", 1, "c"};
  expect_load_error(number, {"/classes/1", "a cluster name must be a string"});
  json repeated = kmeans_model(3);
  repeated["classes"] = {"a", "b", "a"};
  expect_load_error(repeated, {"/classes/2", "repeats the cluster name 'a'"});
}

TEST(FlorestaClusterNames, ClassesStayRefusedForRegressionAndOutlierModels) {
  json regression = minimal_floresta_model();
  regression["classes"] = {"a"};
  expect_load_error(regression, {"/classes", "only classifiers and k-means models have classes"});
  json outlier = minimal_floresta_model();
  outlier["task"] = "outlier";
  outlier["link"] = "isolation";
  outlier["classes"] = {"a"};
  expect_load_error(outlier, {"/classes", "only classifiers and k-means models have classes"});
}

TEST(FlorestaClusterNames, ClassifierLabelsAreUnchanged) {
  // Numbers and booleans stay allowed for classifiers (written as JSON text).
  json classifier = minimal_floresta_model();
  classifier["task"] = "binary";
  classifier["link"] = "sigmoid";
  classifier["classes"] = {false, true};
  EXPECT_EQ(load_json(classifier).class_labels(), (std::vector<std::string>{"false", "true"}));
  classifier["classes"] = {"no", "yes", "maybe"};
  expect_load_error(classifier, {"/classes", "has 3 labels, the model has 2 classes"});
}

}  // namespace
