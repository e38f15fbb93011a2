// Parity with XGBoost on committed models: margins and outputs XGBoost computed itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using floresta::OutputKind;
using floresta::test::read_vectors;

constexpr double kTolerance = 1e-6;

class XGBoostParity : public ::testing::TestWithParam<const char*> {};

TEST_P(XGBoostParity, MarginsAndOutputsMatchXGBoost) {
  const auto v = read_vectors(GetParam());
  const floresta::Model model = floresta::load(v.model);
  ASSERT_EQ(model.num_features(), v.cols);
  const auto X = floresta::MatrixView<float>::row_major(v.inputs.data(), v.rows, v.cols);

  const auto raw = model.predict_raw(X);
  const std::size_t groups = model.num_outputs();
  ASSERT_EQ(v.raw.at(0).size(), groups);
  double worst_raw = 0;
  for (std::size_t r = 0; r < v.rows; ++r)
    for (std::size_t g = 0; g < groups; ++g) worst_raw = std::max(worst_raw, std::fabs(raw[r * groups + g] - v.raw[r][g]));
  EXPECT_LE(worst_raw, kTolerance);

  // Booster.predict: p for binary, probabilities for softprob, values for regression.
  double worst_out = 0;
  if (model.is_classifier()) {
    const auto proba = model.predict_proba(X);
    const auto cls = model.predict(X);
    const std::size_t k = model.output_width(OutputKind::kProba);
    for (std::size_t r = 0; r < v.rows; ++r) {
      const auto& expected = v.predict[r];
      if (k == 2) {
        worst_out = std::max(worst_out, std::fabs(proba[r * 2 + 1] - expected[0]));
        EXPECT_EQ(cls[r], expected[0] > 0.5 ? 1.0 : 0.0) << "row " << r;
      } else {
        for (std::size_t c = 0; c < k; ++c) worst_out = std::max(worst_out, std::fabs(proba[r * k + c] - expected[c]));
        const auto top = std::max_element(expected.begin(), expected.end()) - expected.begin();
        EXPECT_EQ(cls[r], static_cast<double>(top)) << "row " << r;
      }
    }
  } else {
    const auto out = model.predict(X);
    for (std::size_t r = 0; r < v.rows; ++r) worst_out = std::max(worst_out, std::fabs(out[r] - v.predict[r][0]));
  }
  EXPECT_LE(worst_out, kTolerance);
  RecordProperty("worst_raw_difference", std::to_string(worst_raw));
  RecordProperty("worst_output_difference", std::to_string(worst_out));
  std::printf("  %s: worst |margin diff| %.3g, worst |output diff| %.3g\n", GetParam(), worst_raw, worst_out);
}

INSTANTIATE_TEST_SUITE_P(CommittedModels, XGBoostParity,
                         ::testing::Values("xgb_binary", "xgb_regression", "xgb_dart", "xgb_multiclass_categorical"));

TEST(XGBoostParity, DoubleInputsAreCastToFloatLikeXGBoost) {
  const auto v = read_vectors("xgb_binary");
  const auto model = floresta::load(v.model);
  std::vector<double> wide(v.inputs.begin(), v.inputs.end());
  EXPECT_EQ(model.predict_raw(wide.data(), v.rows, v.cols), model.predict_raw(v.inputs.data(), v.rows, v.cols));
}

TEST(XGBoostParity, UbjsonAndJsonOfOneModelAgree) {
  // The categorical model ships as UBJSON; its vocabulary must come through.
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

}  // namespace
