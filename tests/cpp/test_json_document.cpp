// The JSON reader (src/json_document.cpp): malformed and truncated text, nesting depth, field paths in errors.
#include <gtest/gtest.h>

#include <string>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace floresta::test;  // NOLINT: the shared fixtures and expect_*_error

TEST(JsonDocument, MalformedJson) { expect_load_error(std::string("{\"learner\": {\"objective\": }"), {"malformed", "JSON"}); }
TEST(JsonDocument, TruncatedJson) {
  const std::string text = minimal_xgboost_model().dump();
  expect_load_error(text.substr(0, text.size() / 2), {"crafted.json", "JSON"});
}
TEST(JsonDocument, NestingTooDeep) {
  std::string deep = "{\"learner\":";
  for (int i = 0; i < 5000; ++i) deep += "[";
  expect_load_error(deep, {"nesting deeper than 1100"});
}
TEST(JsonDocument, MissingField) {
  auto m = minimal_xgboost_model();
  m["learner"].erase("objective");
  expect_load_error(m, {"/learner", "missing field 'objective'"});
}
TEST(JsonDocument, MistypedField) {
  auto m = minimal_xgboost_model();
  m["learner"]["learner_model_param"]["num_feature"] = json::array({2});
  expect_load_error(m, {"/learner/learner_model_param/num_feature", "expected an integer"});
}
TEST(JsonDocument, MistypedArrayEntry) {
  auto m = minimal_xgboost_model();
  xgboost_tree0(m)["split_conditions"][1] = "abc";
  expect_load_error(m, {"split_conditions/1", "expected a number"});
}

}  // namespace
