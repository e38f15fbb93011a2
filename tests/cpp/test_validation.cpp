// One negative test per validation rule: each bad input gives a floresta::Error that names
// the problem, and nothing crashes.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;

json minimal_model() { return floresta::test::minimal_xgboost_model(); }

json& tree0(json& m) { return m["learner"]["gradient_booster"]["model"]["trees"][0]; }

// Loads and expects an Error whose message contains every fragment.
void expect_error(const std::string& bytes, std::initializer_list<const char*> fragments,
                  const floresta::LoadOptions& options = {}) {
  try {
    floresta::load_from_memory(bytes, "crafted.json", options);
    FAIL() << "no error; expected one mentioning " << *fragments.begin();
  } catch (const floresta::Error& e) {
    const std::string message = e.what();
    for (const char* f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "message: " << message;
  }
}
void expect_error(const json& model, std::initializer_list<const char*> fragments,
                  const floresta::LoadOptions& options = {}) {
  expect_error(model.dump(), fragments, options);
}
void expect_file_error(const std::string& path, std::initializer_list<const char*> fragments) {
  try {
    floresta::load(path);
    FAIL() << "no error; expected one mentioning " << *fragments.begin();
  } catch (const floresta::Error& e) {
    const std::string message = e.what();
    for (const char* f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "message: " << message;
  }
}

TEST(Validation, MinimalModelIsValidAndScoresAsWritten) {
  const auto model = floresta::load_from_memory(minimal_model().dump());
  const float rows[] = {0.0f, 0.0f, 1.0f, 0.0f, 1.0f, 5.0f, NAN, 9.0f};
  const auto raw = model.predict_raw(rows, 4, 2);
  EXPECT_FLOAT_EQ(raw[0], -1.0f);
  EXPECT_FLOAT_EQ(raw[1], 0.25f);
  EXPECT_FLOAT_EQ(raw[2], 1.0f);
  EXPECT_FLOAT_EQ(raw[3], -1.0f);  // NaN follows default_left of the root
}

TEST(Validation, EmptyInput) { expect_error(std::string("  \n"), {"crafted.json", "empty"}); }
TEST(Validation, UnknownFormat) { expect_error(std::string("model\nversion=v4\n"), {"unrecognised model format"}); }
TEST(Validation, MalformedJson) { expect_error(std::string("{\"learner\": {\"objective\": }"), {"malformed", "JSON"}); }
TEST(Validation, TruncatedJson) {
  const std::string text = minimal_model().dump();
  expect_error(text.substr(0, text.size() / 2), {"crafted.json", "JSON"});
}
TEST(Validation, TruncatedUbjson) {
  const std::string bytes = floresta::test::read_file(floresta::test::data_path("xgb_regression.ubj"));
  for (std::size_t cut : {std::size_t(3), std::size_t(100), bytes.size() / 2, bytes.size() - 1})
    expect_error(bytes.substr(0, cut), {"UBJSON"});
}
TEST(Validation, MalformedUbjson) {
  // "{", key "abc" (int8 length 3), then a value.
  const std::string key = std::string("{i\x03") + "abc";
  expect_error(key + "X", {"UBJSON at byte 7", "unknown marker 'X'"});
  expect_error(key + "[$l#i" + std::string("\x09\x00\x00", 3), {"typed array runs past the end"});
  expect_error(key + "[$l" + std::string(1, '\0'), {"a typed container needs a count"});
}
TEST(Validation, NestingTooDeep) {
  std::string deep = "{\"learner\":";
  for (int i = 0; i < 5000; ++i) deep += "[";
  expect_error(deep, {"nesting deeper than 1100"});
}
TEST(Validation, UnknownDocument) { expect_error(json{{"trees", 1}}, {"unrecognised model document"}); }

TEST(Validation, MissingField) {
  auto m = minimal_model();
  m["learner"].erase("objective");
  expect_error(m, {"/learner", "missing field 'objective'"});
}
TEST(Validation, MistypedField) {
  auto m = minimal_model();
  m["learner"]["learner_model_param"]["num_feature"] = json::array({2});
  expect_error(m, {"/learner/learner_model_param/num_feature", "expected an integer"});
}
TEST(Validation, MistypedArrayEntry) {
  auto m = minimal_model();
  tree0(m)["split_conditions"][1] = "abc";
  expect_error(m, {"split_conditions/1", "expected a number"});
}
// Rounds are cut after validation: a damaged tree in a round the caller does not score is
// still refused (it used to be cut away unseen).
TEST(Validation, RoundsAreCutAfterValidation) {
  auto m = minimal_model();
  auto& model = m["learner"]["gradient_booster"]["model"];
  json broken = tree0(m);
  broken["id"] = 1;
  broken["left_children"] = {1, -1, 0, -1, -1};  // node 2 points back at the root
  model["trees"].push_back(broken);
  model["tree_info"] = {0, 0};
  model["gbtree_model_param"]["num_trees"] = "2";
  model["iteration_indptr"] = {0, 1, 2};
  floresta::LoadOptions first_round;
  first_round.num_iterations = 1;
  expect_error(m, {"tree 1"}, first_round);
  m["learner"]["attributes"]["best_iteration"] = "0";
  floresta::LoadOptions best;
  best.use_best_iteration = true;
  expect_error(m, {"tree 1"}, best);
}
TEST(Validation, UnknownObjective) {
  auto m = minimal_model();
  m["learner"]["objective"]["name"] = "reg:made_up";
  expect_error(m, {"/learner/objective/name", "unsupported objective 'reg:made_up'", "binary:logistic", "survival:cox"});
}
TEST(Validation, UnknownBooster) {
  auto m = minimal_model();
  m["learner"]["gradient_booster"]["name"] = "gbforest";
  expect_error(m, {"unsupported booster 'gbforest'", "gblinear"});
}
TEST(Validation, LengthMismatch) {
  auto m = minimal_model();
  tree0(m)["right_children"] = {2, -1, 4, -1};
  expect_error(m, {"right_children", "4 entries, expected num_nodes = 5"});
}
TEST(Validation, ChildIndexOutOfRange) {
  auto m = minimal_model();
  tree0(m)["right_children"][2] = 9;
  expect_error(m, {"tree 0", "node 2", "child index 9 out of range"});
}
TEST(Validation, NodeWithOneChild) {
  auto m = minimal_model();
  tree0(m)["right_children"][2] = -1;
  expect_error(m, {"node 2 has exactly one child"});
}
TEST(Validation, FeatureIndexOutOfRange) {
  auto m = minimal_model();
  tree0(m)["split_indices"][2] = 7;
  expect_error(m, {"tree 0", "node 2", "feature index 7 out of range for 2 features"});
}
TEST(Validation, NodeWithTwoParents) {
  auto m = minimal_model();
  tree0(m)["left_children"][2] = 1;  // node 1 is already the root's left child
  expect_error(m, {"tree 0", "node 1 has two parents"});
}
TEST(Validation, Cycle) {
  auto m = minimal_model();
  tree0(m)["left_children"][2] = 2;
  expect_error(m, {"tree 0", "cycle"});
  auto back_to_root = minimal_model();
  tree0(back_to_root)["left_children"][2] = 0;
  expect_error(back_to_root, {"root", "cycle"});
}
TEST(Validation, CycleThroughDeeperAncestor) {
  // 0 -> (1, 2), 2 -> (3, 4), 3 -> (2, 5): node 3 links back to its ancestor 2.
  auto m = minimal_model();
  auto& t = tree0(m);
  t["tree_param"]["num_nodes"] = "6";
  t["left_children"] = {1, -1, 3, 2, -1, -1};
  t["right_children"] = {2, -1, 4, 5, -1, -1};
  for (const char* k : {"split_indices", "default_left", "split_type", "base_weights"}) t[k].push_back(0);
  t["split_conditions"].push_back(0.0);
  t["parents"].push_back(3);
  expect_error(m, {"links back to its ancestor 2", "cycle"});
}
TEST(Validation, TreeDeeperThanLimit) {
  floresta::LoadOptions options;
  options.max_depth = 1;
  expect_error(minimal_model(), {"deeper than the limit of 1"}, options);
}
TEST(Validation, CategoryValueOutOfRange) {
  auto m = minimal_model();
  auto& t = tree0(m);
  t["split_type"][2] = 1;
  t["categories_nodes"] = {2};
  t["categories_segments"] = {0};
  t["categories_sizes"] = {2};
  t["categories"] = {3, 1 << 25};
  expect_error(m, {"node 2", "category value 33554432 out of range"});
  t["categories"] = {3, -4};
  expect_error(m, {"category value -4 out of range"});
}
TEST(Validation, CategorySegmentOutsideArray) {
  auto m = minimal_model();
  auto& t = tree0(m);
  t["split_type"][2] = 1;
  t["categories_nodes"] = {2};
  t["categories_segments"] = {1};
  t["categories_sizes"] = {5};
  t["categories"] = {3};
  expect_error(m, {"categories_segments", "outside 'categories'"});
}
TEST(Validation, UnknownSplitType) {
  auto m = minimal_model();
  tree0(m)["split_type"][0] = 7;
  expect_error(m, {"split_type", "not a known split type"});
}
TEST(Validation, OutputGroupOutOfRange) {
  auto m = minimal_model();
  m["learner"]["gradient_booster"]["model"]["tree_info"][0] = 3;
  expect_error(m, {"tree_info/0", "output group 3 out of range"});
}
TEST(Validation, TreeCountMismatch) {
  auto m = minimal_model();
  m["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "2";
  expect_error(m, {"num_trees", "says 2 trees, the file has 1"});
}
TEST(Validation, BaseScoreWrongLength) {
  auto m = minimal_model();
  m["learner"]["learner_model_param"]["base_score"] = "[0.5,0.2]";
  expect_error(m, {"base_score has 2 values for 1 outputs"});
}
TEST(Validation, BaseScoreOutsideLogisticRange) {
  auto m = minimal_model();
  m["learner"]["learner_model_param"]["base_score"] = "1.5";
  expect_error(m, {"base_score 1.5 must lie in (0, 1)"});
}
TEST(Validation, FeatureNamesLengthMismatch) {
  auto m = minimal_model();
  m["learner"]["feature_names"] = {"a"};
  expect_error(m, {"feature_names", "1 names for num_feature = 2"});
}
TEST(Validation, IterationIndptrInconsistent) {
  auto m = minimal_model();
  m["learner"]["gradient_booster"]["model"]["iteration_indptr"] = {0, 3};
  expect_error(m, {"iteration_indptr"});
}

TEST(Validation, WrongColumnCountAtPredictTime) {
  const auto model = floresta::load_from_memory(minimal_model().dump(), "crafted.json");
  const float row[3] = {0, 0, 0};
  try {
    model.predict_raw(row, 1, 3);
    FAIL();
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("input has 3 columns, the model expects 2 features"), std::string::npos);
  }
  double out[1];
  EXPECT_THROW(model.score_row(floresta::OutputKind::kRaw, row, 1, out), floresta::Error);
}

TEST(Validation, MissingFileNamesThePath) {
  try {
    floresta::load("/nonexistent/model.json");
    FAIL();
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.json: cannot open"), std::string::npos);
  }
}

}  // namespace

// append_category_set against the obvious bit-by-bit construction: unsorted and repeated
// codes, both the byte-flag path (small codes) and the direct path (codes past 8,192).
TEST(CategorySets, AppendBuildsExactBitsets) {
  std::mt19937 random(7);
  for (const int64_t range : std::initializer_list<int64_t>{1, 31, 32, 33, 1000, 8192, 8193, 100000, int64_t(1) << 24}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<int64_t> codes(random() % 300);
      for (auto& c : codes) c = static_cast<int64_t>(random() % static_cast<uint64_t>(range));
      std::vector<uint32_t> expected;
      for (int64_t c : codes) {
        const auto w = static_cast<std::size_t>(c / 32);
        if (expected.size() <= w) expected.resize(w + 1, 0u);
        expected[w] |= 1u << (c % 32);
      }
      std::vector<uint32_t> words{0xdeadbeefu};  // what was there before stays
      ASSERT_TRUE(floresta::append_category_set(words, codes.data(), codes.size()));
      expected.insert(expected.begin(), 0xdeadbeefu);
      EXPECT_EQ(words, expected) << "range " << range << ", " << codes.size() << " codes";
    }
  }
}
TEST(CategorySets, AppendRefusesCodesOutOfRange) {
  for (const int64_t bad : std::initializer_list<int64_t>{-1, int64_t(1) << 24, std::numeric_limits<int64_t>::min()}) {
    const int64_t codes[] = {3, bad, 5};
    std::vector<uint32_t> words{1u};
    EXPECT_FALSE(floresta::append_category_set(words, codes, 3)) << bad;
    EXPECT_EQ(words, std::vector<uint32_t>{1u}) << "nothing appended for " << bad;
  }
  std::vector<uint32_t> words;
  EXPECT_TRUE(floresta::append_category_set(words, static_cast<const int64_t*>(nullptr), 0));
  EXPECT_TRUE(words.empty());
}

// load(path) maps regular files; what is not one takes the stream path, with the same errors.
TEST(Files, DirectoriesAndEmptyFilesAreRefused) {
  expect_file_error("/tmp", {"/tmp: cannot open model file (a directory)"});
  const std::string empty = testing::TempDir() + "floresta_empty_model.json";
  { std::ofstream(empty, std::ios::trunc); }
  expect_file_error(empty, {"empty model file"});
  expect_file_error("/dev/null", {"/dev/null: empty model file"});
}
TEST(Files, TruncatedFileOnDisk) {
  const std::string text = minimal_model().dump();
  const std::string path = testing::TempDir() + "floresta_truncated_model.json";
  std::ofstream(path, std::ios::trunc) << text.substr(0, text.size() / 2);
  expect_file_error(path, {"malformed or truncated JSON"});
}

// Trees are read and checked by several threads in big models: the same model, and the
// same error (the first bad tree in file order) whatever the thread count.
TEST(Threads, LoadingInParallelGivesTheSameModelAndTheSameError) {
  auto m = minimal_model();
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
    expect_error(m, {"tree 120", "child index 77 out of range"}, options);
  }
  model["trees"][120]["left_children"][0] = 1;
  model["trees"][200]["id"] = 5000;
  for (const int threads : {1, 2, 3}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    expect_error(m, {"/trees/200/id", "tree id 5000 is out of range"}, options);
  }
}
