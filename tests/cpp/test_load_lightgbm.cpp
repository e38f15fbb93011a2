// The LightGBM loaders (src/load_lightgbm_text.cpp, src/load_lightgbm_json.cpp), text and dump JSON: a valid hand-written model, one negative test per rule.
#include <gtest/gtest.h>

#include <string>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

std::string model_text(const std::string& tree_override = "", const std::string& header_extra = "") {
  return floresta::test::minimal_lightgbm_text(tree_override, header_extra);
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("fixture lacks " + from);
  return text.replace(at, from.size(), to);
}

void expect_error(const std::string& text, const char* fragment) {
  floresta::test::expect_load_error(text, {fragment}, {}, "crafted.txt");
}

TEST(LightGBMText, HandWrittenModelScoresAsWritten) {
  const auto model = floresta::load_from_memory(model_text(), "crafted.txt");
  EXPECT_EQ(model.format(), "lightgbm-text");
  EXPECT_TRUE(model.schema().features[1].is_categorical());
  const double rows[] = {0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.5, 3.0, 0.6, 1.0, NAN, 1.0, 0.0, NAN, 0.0, -1.0, 0.0, 3.7};
  const auto out = model.predict(rows, 9, 2);
  const double expected[] = {1, 2, 1, 1, 3, 1, 2, 2, 1};  // NaN root -> 0 <= 0.5; NaN/negative category -> right
  for (int i = 0; i < 9; ++i) EXPECT_EQ(out[i], expected[i]) << "row " << i;
}

TEST(LightGBMText, TruncatedFile) {
  const std::string text = model_text();
  expect_error(text.substr(0, text.size() / 2), "truncated LightGBM model");
}
TEST(LightGBMText, MissingHeaderField) { expect_error(replace(model_text(), "max_feature_idx=1\n", ""), "missing 'max_feature_idx='"); }
TEST(LightGBMText, UnknownObjective) {
  expect_error(replace(model_text(), "objective=regression", "objective=rank_magic"), "unsupported LightGBM objective 'rank_magic'");
}
TEST(LightGBMText, NotANumber) { expect_error(replace(model_text(), "threshold=0.5 0", "threshold=0.5x 0"), "line 15: threshold: '0.5x' is not a number"); }
TEST(LightGBMText, NumbersMayHaveExtraBlanksAndSigns) {
  // Tabs, repeated and trailing blanks and a leading '+' read as LightGBM's own parser reads them.
  const auto plain = floresta::load_from_memory(model_text(), "crafted.txt");
  const auto spaced = floresta::load_from_memory(
      replace(replace(model_text(), "threshold=0.5 0", "threshold= +0.5\t 0 "), "leaf_value=1 2 3", "leaf_value=1  +2 3\t"),
      "crafted.txt");
  const double rows[] = {0.0, 1.0, 0.0, 2.0, 0.5, 3.0, 0.6, 1.0};
  EXPECT_EQ(plain.predict(rows, 4, 2), spaced.predict(rows, 4, 2));
  expect_error(replace(model_text(), "threshold=0.5 0", "threshold=0.5 1e5x"), "threshold: '1e5x' is not a number");
  expect_error(replace(model_text(), "threshold=0.5 0", "threshold=+-0.5 0"), "threshold: '+-0.5' is not a number");
  expect_error(replace(model_text(), "left_child=1 -1", "left_child=1.0 -1"), "left_child: '1.0' is not an integer");
}
TEST(LightGBMText, BitsetWordOutOfRange) {
  expect_error(replace(model_text(), "cat_threshold=10", "cat_threshold=-10"), "cat_threshold word -10 is not a 32-bit unsigned value");
  expect_error(replace(model_text(), "cat_threshold=10", "cat_threshold=4294967296"), "is not a 32-bit unsigned value");
}
TEST(LightGBMText, MismatchedArrayLengths) {
  expect_error(replace(model_text(), "left_child=1 -1", "left_child=1 -1 -2"), "left_child has 3 values, expected 2");
}
TEST(LightGBMText, BadChildEncoding) {
  expect_error(replace(model_text(), "right_child=-3 -2", "right_child=-9 -2"), "names leaf 8 of 3");
  expect_error(replace(model_text(), "left_child=1 -1", "left_child=1 0"), "is not a valid internal node");
}
TEST(LightGBMText, UnknownDecisionType) { expect_error(replace(model_text(), "decision_type=2 1", "decision_type=2 99"), "unknown decision_type 99"); }
TEST(LightGBMText, BadBitsetBounds) {
  expect_error(replace(model_text(), "cat_boundaries=0 1", "cat_boundaries=0 5"), "cat_boundaries out of order or past cat_threshold");
  expect_error(replace(model_text(), "threshold=0.5 0", "threshold=0.5 4"), "names bitset 4 of 1");
}
TEST(LightGBMText, FeatureOutOfRange) { expect_error(replace(model_text(), "split_feature=0 1", "split_feature=0 7"), "feature index 7 out of range"); }
TEST(LightGBMText, MulticlassTreeCount) {
  std::string text = replace(model_text(), "num_class=1\nnum_tree_per_iteration=1", "num_class=3\nnum_tree_per_iteration=2");
  expect_error(replace(text, "objective=regression", "objective=multiclass num_class:3"), "needs as many trees per iteration");
}
TEST(LightGBMText, BadPandasCategorical) {
  expect_error(model_text() + "pandas_categorical:[[\"a\", \n", "pandas_categorical is not valid JSON");
}
TEST(LightGBMJson, UnknownDecisionType) {
  const std::string json =
      R"({"num_class":1,"num_tree_per_iteration":1,"max_feature_idx":0,"objective":"regression","tree_info":[)"
      R"({"tree_structure":{"split_feature":0,"threshold":1.0,"decision_type":"<","default_left":true,"missing_type":"None",)"
      R"("left_child":{"leaf_value":1},"right_child":{"leaf_value":2}}}]})";
  expect_error(json, "unknown decision type '<'");
  expect_error(replace(json, R"("decision_type":"<")", R"("decision_type":"<=")").substr(0, 120), "JSON");
  const auto model = floresta::load_from_memory(replace(json, R"("decision_type":"<")", R"("decision_type":"<=")"));
  const double rows[] = {1.0, 1.5};
  EXPECT_EQ(model.predict(rows, 2, 1), (std::vector<double>{1.0, 2.0}));
}

}  // namespace

// Big text models are read by several threads: the same model and the same error (the first
// bad tree in file order) whatever the thread count.
TEST(LightGBMText, ParallelReadingGivesTheSameModelAndTheSameError) {
  auto many_trees = [](int bad_a, int bad_b) {
    std::string trees;
    for (int t = 0; t < 300; ++t) {
      const std::string left = t == bad_a ? "left_child=1 -9" : "left_child=1 -1";
      const std::string threshold = t == bad_b ? "x" : std::to_string(0.01 * t);
      trees += "Tree=" + std::to_string(t) + "\nnum_leaves=3\nnum_cat=1\nsplit_feature=0 1\nthreshold=" + threshold +
               " 0\ndecision_type=2 1\n" + left + "\nright_child=-3 -2\nleaf_value=1 2 " + std::to_string(t) +
               "\ncat_boundaries=0 1\ncat_threshold=10\nis_linear=0\nshrinkage=1\n\n";
    }
    const std::string text = model_text();
    return text.substr(0, text.find("Tree=0")) + trees + "end of trees\n";
  };
  const std::string good = many_trees(-1, -1);
  const double rows[] = {0.0, 1.0, 0.5, 3.0, 2.0, 2.0, 1.3, NAN};
  std::vector<std::vector<double>> outputs;
  for (const int threads : {1, 2, 3}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    outputs.push_back(floresta::load_from_memory(good, "crafted.txt", options).predict_raw(rows, 4, 2));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[0], outputs[2]);
  const std::string bad = many_trees(120, 250);
  for (const int threads : {1, 2, 3}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    try {
      floresta::load_from_memory(bad, "crafted.txt", options);
      FAIL() << "no error";
    } catch (const floresta::Error& e) {
      EXPECT_NE(std::string(e.what()).find("left_child of node 1 names leaf 8 of 3"), std::string::npos) << e.what();
    }
  }
}

// Found by fuzz_lightgbm_text (tests/fuzz/regressions/lightgbm_text/crash-f33f689e-no-trees.txt):
// a text model whose Tree= blocks are gone (a damaged header line swallowed them) compiled
// by indexing an empty vector. It is a forest of no trees: its margin is 0.
TEST(FuzzRegression, LightGBMTextF33f689eNoTrees) {
  const auto model = floresta::load(floresta::test::data_path("../fuzz/regressions/lightgbm_text/crash-f33f689e-no-trees.txt"));
  EXPECT_EQ(model.num_trees(), 0u);
  const std::vector<double> row(model.num_features(), 0.5);
  EXPECT_EQ(model.predict_raw(row.data(), 1, row.size()), std::vector<double>{0.0});
}
