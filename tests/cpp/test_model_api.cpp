// The scoring API: batch vs single row, threads, strides, Eigen, metadata, options.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <thread>

#include "floresta/eigen.hpp"
#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using floresta::OutputKind;
using floresta::test::data_path;
using floresta::test::read_vectors;

// Tiles the committed rows into a bigger batch so that threads really split it.
std::vector<float> tile(const std::vector<float>& rows, std::size_t times) {
  std::vector<float> out;
  for (std::size_t i = 0; i < times; ++i) out.insert(out.end(), rows.begin(), rows.end());
  return out;
}

TEST(ModelApi, Metadata) {
  const auto model = floresta::load(data_path("xgb_binary.json"));
  EXPECT_EQ(model.num_features(), 8u);
  EXPECT_EQ(model.num_outputs(), 1u);
  EXPECT_EQ(model.num_classes(), 2);
  EXPECT_TRUE(model.is_classifier());
  EXPECT_EQ(model.objective(), "binary:logistic");
  EXPECT_EQ(model.num_trees(), 20u);
  EXPECT_EQ(model.feature_names().at(0), "f0");
  EXPECT_EQ(model.output_width(OutputKind::kProba), 2u);
  const auto reg = floresta::load(data_path("xgb_regression.ubj"));
  EXPECT_FALSE(reg.is_classifier());
  EXPECT_EQ(reg.num_classes(), 0);
}

TEST(ModelApi, SingleRowEqualsBatch) {
  for (const char* name : {"xgb_binary", "xgb_multiclass_categorical", "xgb_regression"}) {
    const auto v = read_vectors(name);
    const auto model = floresta::load(v.model);
    for (OutputKind kind : {OutputKind::kRaw, model.predict_kind()}) {
      std::vector<double> batch(v.rows * model.output_width(kind));
      model.score(kind, floresta::MatrixView<float>::row_major(v.inputs.data(), v.rows, v.cols), batch.data());
      std::vector<double> one(model.output_width(kind));
      for (std::size_t r = 0; r < v.rows; ++r) {
        model.score_row(kind, v.inputs.data() + r * v.cols, v.cols, one.data());
        for (std::size_t k = 0; k < one.size(); ++k) EXPECT_EQ(one[k], batch[r * one.size() + k]) << name << " row " << r;
      }
    }
  }
}

TEST(ModelApi, ThreadsGiveIdenticalResults) {
  const auto v = read_vectors("xgb_multiclass_categorical");
  const auto model = floresta::load(v.model);
  const auto X = tile(v.inputs, 50);
  const std::size_t rows = v.rows * 50;
  const auto serial = model.predict_proba(X.data(), rows, v.cols);
  for (int threads : {2, 3, 0}) {
    floresta::PredictOptions options;
    options.n_threads = threads;
    EXPECT_EQ(model.predict_proba(X.data(), rows, v.cols, options), serial) << threads << " threads";
  }
}

TEST(ModelApi, ManyThreadsShareOneModel) {
  const auto v = read_vectors("xgb_binary");
  const auto model = floresta::load(v.model);
  const auto expected = model.predict_raw(v.inputs.data(), v.rows, v.cols);
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      bool same = true;
      for (int i = 0; i < 50; ++i) same = same && model.predict_raw(v.inputs.data(), v.rows, v.cols) == expected;
      ok[t] = same;
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 8; ++t) EXPECT_TRUE(ok[t]) << "thread " << t;
}

TEST(ModelApi, ColumnMajorAndEigenInputsScoreInPlace) {
  const auto v = read_vectors("xgb_binary");
  const auto model = floresta::load(v.model);
  const auto expected = model.predict_proba(v.inputs.data(), v.rows, v.cols);

  std::vector<float> fortran(v.rows * v.cols);
  for (std::size_t r = 0; r < v.rows; ++r)
    for (std::size_t c = 0; c < v.cols; ++c) fortran[c * v.rows + r] = v.inputs[r * v.cols + c];
  EXPECT_EQ(model.predict_proba(floresta::MatrixView<float>::column_major(fortran.data(), v.rows, v.cols)), expected);

  Eigen::MatrixXf col_major = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      v.inputs.data(), static_cast<Eigen::Index>(v.rows), static_cast<Eigen::Index>(v.cols));
  const floresta::RowMatrixXd p = floresta::predict_proba(model, col_major);
  ASSERT_EQ(p.cols(), 2);
  EXPECT_EQ(std::vector<double>(p.data(), p.data() + p.size()), expected);
  const Eigen::MatrixXd as_double = col_major.cast<double>();
  EXPECT_EQ(floresta::predict_raw(model, as_double).col(0).size(), static_cast<Eigen::Index>(v.rows));
  const auto classes = floresta::predict(model, col_major);
  for (Eigen::Index r = 0; r < classes.rows(); ++r) EXPECT_EQ(classes(r, 0), p(r, 1) > 0.5 ? 1.0 : 0.0);
}

TEST(ModelApi, ProbaOnARegressorIsAnError) {
  const auto model = floresta::load(data_path("xgb_regression.ubj"));
  const std::vector<float> row(model.num_features(), 0.0f);
  EXPECT_THROW(model.predict_proba(row.data(), 1, row.size()), floresta::Error);
}

TEST(ModelApi, ModelsCopyCheaplyAndScoreTheSame) {
  const auto model = floresta::load(data_path("xgb_dart.json"));
  const floresta::Model copy = model;  // NOLINT: the copy is the point
  const std::vector<float> row(model.num_features(), 0.1f);
  EXPECT_EQ(copy.predict_raw(row.data(), 1, row.size()), model.predict_raw(row.data(), 1, row.size()));
}

// The shipped phone-theft model (examples/models, one file): its class labels and category
// vocabularies reach C++ with no sidecar file, and a raw record is encoded through them.
TEST(ModelApi, ShippedPhoneTheftModelCarriesLabelsAndVocabularies) {
  const auto model = floresta::load(data_path("../../examples/models/phone_theft.json"));
  const std::vector<std::string> labels = model.class_labels();
  ASSERT_EQ(labels.size(), 10u);
  EXPECT_EQ(labels.front(), "Escolas / Universidade");
  EXPECT_EQ(labels.back(), "Via P\u00fablica");
  EXPECT_EQ(model.feature_names(), (std::vector<std::string>{"bairro", "marca", "dia", "periodo", "idade", "sexo"}));
  const floresta::Schema& schema = model.schema();
  EXPECT_TRUE(schema.features.at(0).is_categorical());
  EXPECT_FALSE(schema.features.at(4).is_categorical());
  EXPECT_GE(schema.features.at(0).string_categories.size(), 300u);
  const auto tatuape = schema.category_code(0, "TATUAPE");
  const auto samsung = schema.category_code(1, "Samsung");
  const auto terca = schema.category_code(2, "TERCA");
  const auto manha = schema.category_code(3, "MANHA");
  const auto mulher = schema.category_code(5, "MULHER");
  ASSERT_TRUE(tatuape && samsung && terca && manha && mulher);

  const auto record = floresta::Record::from_json(
      R"({"bairro": "TATUAPE", "marca": "Samsung", "dia": "TERCA", "periodo": "MANHA", "idade": 22, "sexo": "MULHER"})");
  const std::vector<double> row = {double(*tatuape), double(*samsung), double(*terca), double(*manha), 22.0, double(*mulher)};
  const std::vector<double> by_codes = model.predict_proba(row.data(), 1, row.size());
  EXPECT_EQ(model.predict_proba(record), by_codes);
  const auto ranked = model.predict_ranked(record);
  ASSERT_EQ(ranked.size(), 10u);
  EXPECT_EQ(ranked.front().label, labels.at(ranked.front().index));
  for (std::size_t i = 1; i < ranked.size(); ++i) EXPECT_GE(ranked[i - 1].probability, ranked[i].probability);
  double total = 0;
  for (const auto& r : ranked) total += r.probability;
  EXPECT_NEAR(total, 1.0, 1e-6);  // a float32 softmax, as XGBoost computes it
  // The file's input rules: any spelling of a bairro is that bairro; an unknown one is refused
  // whatever the record options say (the rule states what the model takes); not given is missing.
  const auto written = floresta::Record::from_json(
      R"({"bairro": " tatuapé ", "marca": "galaxy a10", "dia": "terça-feira", "periodo": "Pela manhã", "idade": 22, "sexo": "f"})");
  EXPECT_EQ(model.predict_proba(written), by_codes);
  const auto unseen = floresta::Record::from_json(R"({"bairro": "ATLANTIDA", "idade": 30})");
  EXPECT_THROW(model.predict_proba(unseen), floresta::InputError);
  EXPECT_EQ(model.predict_proba(floresta::Record::from_json(R"({"bairro": null, "idade": 30})")).size(), 10u);
}

// The column count is checked at predict time, batch and single row.
TEST(ModelApi, WrongColumnCountAtPredictTime) {
  const auto model = floresta::load_from_memory(floresta::test::minimal_xgboost_model().dump(), "crafted.json");
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

}  // namespace
