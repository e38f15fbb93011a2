// Parity with the training libraries on committed models: every output the library itself
// computed (tests/data/*.vectors.json) is reproduced by floresta within 1e-6, classes exactly.
#include <gtest/gtest.h>

#include <string>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using floresta::OutputKind;
using floresta::test::read_vectors;

constexpr double kTolerance = 1e-6;

class Parity : public ::testing::TestWithParam<const char*> {};

// In: double, or float for XGBoost models (XGBoost casts inputs to float32 either way, so
// both must give its outputs; float32 rows take the vector kernels of categorical forests).
template <class In = double>
double worst_difference(const floresta::Model& model, OutputKind kind, const floresta::test::Vectors& v,
                        const std::vector<std::vector<double>>& expected) {
  const std::vector<In> inputs(v.inputs64.begin(), v.inputs64.end());
  const auto X = floresta::MatrixView<In>::row_major(inputs.data(), v.rows, v.cols);
  std::vector<double> out(v.rows * model.output_width(kind));
  model.score(kind, X, out.data());
  const std::size_t width = model.output_width(kind);
  EXPECT_EQ(expected.at(0).size(), width);
  double worst = 0;
  for (std::size_t r = 0; r < v.rows; ++r)
    for (std::size_t k = 0; k < width; ++k) worst = std::max(worst, std::fabs(out[r * width + k] - expected[r][k]));
  return worst;
}

TEST_P(Parity, OutputsMatchTheTrainingLibrary) {
  const auto v = read_vectors(GetParam());
  const floresta::Model model = floresta::load(v.model);
  ASSERT_EQ(model.num_features(), v.cols);
  const std::pair<const char*, OutputKind> kinds[] = {{"raw", OutputKind::kRaw},
                                                      {"proba", OutputKind::kProba},
                                                      {"value", OutputKind::kValue},
                                                      {"decision", OutputKind::kDecision},
                                                      {"distances", OutputKind::kDistances},
                                                      {"label", OutputKind::kClass}};
  int checked = 0;
  for (const auto& [name, kind] : kinds) {
    const auto it = v.outputs.find(name);
    if (it == v.outputs.end()) continue;
    double worst = worst_difference(model, kind, v, it->second);
    if (std::string(GetParam()).rfind("xgb_", 0) == 0)
      worst = std::max(worst, worst_difference<float>(model, kind, v, it->second));
    if (kind == OutputKind::kClass) EXPECT_EQ(worst, 0.0) << name;
    else EXPECT_LE(worst, kTolerance) << name;
    std::printf("  %-28s %-9s worst |difference| %.3g\n", GetParam(), name, worst);
    RecordProperty(std::string("worst_") + name, std::to_string(worst));
    ++checked;
  }
  EXPECT_GE(checked, 2) << "a vector file should carry at least two outputs";
}

// The quantized kernels (bins, 16-bit compares) and the value walk give identical outputs,
// from batches (lanes of rows) and from single rows (lanes of trees), float and double.
TEST_P(Parity, QuantizedAndValueWalksAgreeExactly) {
  const auto v = read_vectors(GetParam());
  const floresta::Model quantized = floresta::load(v.model);
  floresta::LoadOptions plain_options;
  plain_options.quantize = false;
  const floresta::Model plain = floresta::load(v.model, plain_options);
  if (quantized.is_clusterer()) GTEST_SKIP() << "k-means has no trees";
  const OutputKind kind = OutputKind::kRaw;
  const std::size_t width = quantized.output_width(kind);
  const auto X64 = floresta::MatrixView<double>::row_major(v.inputs64.data(), v.rows, v.cols);
  std::vector<float> inputs32(v.inputs64.begin(), v.inputs64.end());
  const auto X32 = floresta::MatrixView<float>::row_major(inputs32.data(), v.rows, v.cols);
  EXPECT_EQ(quantized.predict_raw(X64), plain.predict_raw(X64));
  EXPECT_EQ(quantized.predict_raw(X32), plain.predict_raw(X32));
  std::vector<double> a(width), b(width);
  for (std::size_t r = 0; r < v.rows; ++r) {
    quantized.score_row(kind, v.inputs64.data() + r * v.cols, v.cols, a.data());
    plain.score_row(kind, v.inputs64.data() + r * v.cols, v.cols, b.data());
    ASSERT_EQ(a, b) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(CommittedModels, Parity,
                         ::testing::Values("xgb_binary", "xgb_regression", "xgb_dart", "xgb_multiclass_categorical",
                                           "lgb_binary_categorical", "lgb_multiclass", "skl_random_forest",
                                           "skl_hist_gradient_boosting", "skl_isolation_forest", "skl_pipeline",
                                           "skl_kmeans"));

TEST(XGBoostParity, DoubleInputsAreCastToFloatLikeXGBoost) {
  const auto v = read_vectors("xgb_binary");
  const auto model = floresta::load(v.model);
  std::vector<double> wide(v.inputs.begin(), v.inputs.end());
  EXPECT_EQ(model.predict_raw(wide.data(), v.rows, v.cols), model.predict_raw(v.inputs.data(), v.rows, v.cols));
}

TEST(XGBoostParity, UbjsonCarriesTheCategoryVocabulary) {
  const auto model = floresta::load(floresta::test::data_path("xgb_multiclass_categorical.ubj"));
  EXPECT_EQ(model.format(), "xgboost-ubjson");
  EXPECT_EQ(model.num_classes(), 10);
  const auto& schema = model.schema();
  ASSERT_EQ(schema.size(), 4u);
  EXPECT_EQ(schema.features[0].name, "bairro");
  EXPECT_TRUE(schema.features[0].is_categorical());
  EXPECT_EQ(schema.features[0].string_categories.size(), 30u);
  EXPECT_EQ(schema.category_code(1, std::string("Apple")), 0);
  EXPECT_EQ(schema.category_code(1, std::string("Xiaomi")), 4);
  EXPECT_FALSE(schema.category_code(1, std::string("Nokia")).has_value());
  EXPECT_FALSE(schema.features[2].is_categorical());
}

TEST(FormatDetection, EachFormatIsRecognisedFromItsContent) {
  EXPECT_EQ(floresta::load(floresta::test::data_path("xgb_binary.json")).format(), "xgboost-json");
  EXPECT_EQ(floresta::load(floresta::test::data_path("xgb_regression.ubj")).format(), "xgboost-ubjson");
  EXPECT_EQ(floresta::load(floresta::test::data_path("lgb_binary_categorical.txt")).format(), "lightgbm-text");
  EXPECT_EQ(floresta::load(floresta::test::data_path("lgb_multiclass.json")).format(), "lightgbm-json");
  EXPECT_EQ(floresta::load(floresta::test::data_path("skl_random_forest.json")).format(), "floresta-json");
}

TEST(OutlierDetection, IsolationForestOutputs) {
  const auto model = floresta::load(floresta::test::data_path("skl_isolation_forest.json"));
  EXPECT_TRUE(model.is_outlier_detector());
  EXPECT_FALSE(model.is_classifier());
  const std::vector<double> row(model.num_features(), 0.0);
  double score = 0, decision = 0, label = 0;
  model.score_row(OutputKind::kValue, row.data(), row.size(), &score);
  model.score_row(OutputKind::kDecision, row.data(), row.size(), &decision);
  model.score_row(OutputKind::kClass, row.data(), row.size(), &label);
  EXPECT_DOUBLE_EQ(decision, score - model.decision_offset());
  EXPECT_EQ(label, decision < 0 ? -1.0 : 1.0);
  EXPECT_THROW(model.predict_proba(row.data(), 1, row.size()), floresta::Error);
  const auto regressor = floresta::load(floresta::test::data_path("xgb_regression.ubj"));
  EXPECT_THROW(regressor.score_row(OutputKind::kDecision, row.data(), 8, &decision), floresta::Error);
}

}  // namespace
