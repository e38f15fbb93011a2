// Records from C++: JSON objects and hand-built Records score exactly like encoded rows and
// like the training library, and every record policy behaves as documented.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using floresta::Record;
using floresta::RecordOptions;
using floresta::test::data_path;

void expect_error(const std::function<void()>& action, const std::string& fragment) {
  try {
    action();
    FAIL() << "no error; expected: " << fragment;
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Records, PipelineRecordsMatchScikitLearnAndTheMatrixPath) {
  const auto v = floresta::test::read_vectors("skl_pipeline");
  const auto model = floresta::load(v.model);
  ASSERT_EQ(v.records.size(), v.rows);
  const auto& expected = v.outputs.at("proba");
  const std::size_t k = model.output_width(floresta::OutputKind::kProba);
  for (std::size_t r = 0; r < v.rows; ++r) {
    const Record record = Record::from_json(v.records[r]);
    const auto proba = model.predict_proba(record);
    for (std::size_t c = 0; c < k; ++c) EXPECT_NEAR(proba[c], expected[r][c], 1e-6) << "record " << r;
    const auto row = model.encode(record);
    EXPECT_EQ(model.predict_proba(row.data(), 1, row.size()), proba) << "record " << r;
    EXPECT_EQ(model.predict(record)[0], v.outputs.at("label")[r][0]);
  }
}

TEST(Records, HandBuiltRecordEqualsJson) {
  const auto model = floresta::load(data_path("skl_pipeline.json"));
  Record built;
  built.set("bairro", "SE").set("marca", "Apple").set("idade", 31.0);
  const Record parsed = Record::from_json(R"({"idade": 31, "marca": "Apple", "bairro": "SE"})");
  EXPECT_EQ(model.predict_proba(built), model.predict_proba(parsed));
}

TEST(Records, XGBoostVocabularyEncodesStringsAsTrainingCodes) {
  const auto model = floresta::load(data_path("xgb_multiclass_categorical.ubj"));
  const auto& schema = model.schema();
  const double code_b = static_cast<double>(*schema.category_code(0, std::string("B07")));
  const double code_m = static_cast<double>(*schema.category_code(1, std::string("Xiaomi")));
  const double row[] = {code_b, code_m, 33.0, 20.5};
  const Record record = Record::from_json(R"({"bairro": "B07", "marca": "Xiaomi", "idade": 33, "hora": 20.5})");
  EXPECT_EQ(model.predict_proba(record), model.predict_proba(row, 1, 4));
}

TEST(RecordPolicies, UnknownCategoryAsTrainedOrError) {
  const auto model = floresta::load(data_path("xgb_multiclass_categorical.ubj"));
  const auto unseen = Record::from_json(R"({"bairro": "B07", "marca": "Nokia", "idade": 33, "hora": 20.5})");
  const auto missing = Record::from_json(R"({"bairro": "B07", "marca": null, "idade": 33, "hora": 20.5})");
  EXPECT_EQ(model.predict_proba(unseen), model.predict_proba(missing));  // XGBoost trees: unseen = missing
  RecordOptions strict;
  strict.unknown_category = floresta::UnknownCategory::kError;
  expect_error([&] { model.predict_proba(unseen, strict); }, "field 'marca': unknown category \"Nokia\"");
  // In a pipeline the encoder's own handling applies (OrdinalEncoder unknown_value=-1).
  const auto pipeline = floresta::load(data_path("skl_pipeline.json"));
  const auto encoded = pipeline.encode(Record::from_json(R"({"bairro": "SE", "marca": "Nokia", "idade": 20})"));
  EXPECT_EQ(encoded[1], -1.0);
}

TEST(RecordPolicies, MissingFieldIsAMissingValue) {
  const auto model = floresta::load(data_path("skl_pipeline.json"));
  const auto absent = Record::from_json(R"({"bairro": "SE", "marca": "Apple"})");
  const auto null = Record::from_json(R"({"bairro": "SE", "marca": "Apple", "idade": null})");
  EXPECT_TRUE(std::isnan(model.encode(absent)[2]));
  EXPECT_EQ(model.predict_proba(absent), model.predict_proba(null));
}

TEST(RecordPolicies, ExtraFieldIgnoredOrError) {
  const auto model = floresta::load(data_path("skl_pipeline.json"));
  const auto extra = Record::from_json(R"({"bairro": "SE", "marca": "Apple", "idade": 20, "nome": "Ana"})");
  const auto plain = Record::from_json(R"({"bairro": "SE", "marca": "Apple", "idade": 20})");
  EXPECT_EQ(model.predict_proba(extra), model.predict_proba(plain));
  RecordOptions strict;
  strict.extra_fields = floresta::ExtraFields::kError;
  expect_error([&] { model.predict_proba(extra, strict); }, "field 'nome' is not one of the model's features (bairro, marca, idade)");
}

// User text in a message is clipped, at a character boundary: a 1 MB field name or category
// makes a short message that is still valid UTF-8 (Python turns it into a str).
TEST(RecordPolicies, LongTextIsClippedInMessages) {
  const auto model = floresta::load(data_path("skl_pipeline.json"));
  std::string long_text;
  for (int i = 0; i < 500000; ++i) long_text += "\xc3\xa9";  // é, two bytes
  RecordOptions strict;
  strict.extra_fields = floresta::ExtraFields::kError;
  strict.unknown_category = floresta::UnknownCategory::kError;
  for (const auto& record : {Record{}.set(long_text, 1.0), Record{}.set("idade", long_text), Record{}.set("marca", long_text)}) {
    try {
      model.predict_proba(record, strict);
      ADD_FAILURE() << "accepted";
    } catch (const floresta::Error& e) {
      const std::string message = e.what();
      EXPECT_LT(message.size(), 400u) << message.substr(0, 400);
      EXPECT_NE(message.find("\xc3\xa9..."), std::string::npos) << message;  // whole characters, then the ellipsis
      EXPECT_EQ(message.find("\xc3..."), std::string::npos) << message;
    }
  }
}

TEST(RecordPolicies, WrongTypeNamesTheField) {
  const auto model = floresta::load(data_path("skl_pipeline.json"));
  expect_error([&] { model.encode(Record::from_json(R"({"idade": "vinte"})")); }, "field 'idade' is numeric; got the string \"vinte\"");
  expect_error([&] { model.encode(Record::from_json(R"({"marca": 3})")); }, "field 'marca' takes one of its categories as a string");
  expect_error([] { Record::from_json(R"({"idade": [1, 2]})"); }, "field 'idade' holds a array");
  expect_error([] { Record::from_json(R"([1, 2])"); }, "expected a JSON object");
  expect_error([] { Record::from_json(R"({"idade": )"); }, "malformed or truncated JSON");
}

TEST(LabelledOutputs, RankedClassesMostLikelyFirst) {
  const auto model = floresta::load(data_path("xgb_multiclass_categorical.ubj"));
  const auto record = Record::from_json(R"({"bairro": "B07", "marca": "Xiaomi", "idade": 33, "hora": 20.5})");
  const auto proba = model.predict_proba(record);
  const auto ranked = model.predict_ranked(record);
  ASSERT_EQ(ranked.size(), 10u);
  for (std::size_t i = 1; i < ranked.size(); ++i) EXPECT_GE(ranked[i - 1].probability, ranked[i].probability);
  for (const auto& r : ranked) {
    EXPECT_EQ(r.probability, proba[r.index]);
    EXPECT_EQ(r.label, std::to_string(r.index));
  }
  EXPECT_EQ(model.predict_ranked(record, 3).size(), 3u);
  const double tie[] = {0.25, 0.5, 0.25};
  const auto three = floresta::load(data_path("skl_pipeline.json"));
  const auto tied = three.rank(tie);
  EXPECT_EQ(tied[0].index, 1u);
  EXPECT_EQ(tied[1].index, 0u);  // equal probabilities keep class order
  EXPECT_EQ(tied[2].index, 2u);
  const auto regressor = floresta::load(data_path("xgb_regression.ubj"));
  expect_error([&] { regressor.rank(tie); }, "needs a classifier");
}

}  // namespace

namespace {

// Regression: Record::set(name, 20.5) once picked the int overload and stored 20.
TEST(Records, SetKeepsFractionalNumbers) {
  Record record;
  record.set("hora", 20.5).set("idade", 33).set("bairro", std::string("SE")).set("marca", floresta::missing);
  EXPECT_EQ(std::get<double>(record.fields[0].second), 20.5);
  EXPECT_EQ(std::get<double>(record.fields[1].second), 33.0);
  EXPECT_EQ(std::get<std::string>(record.fields[2].second), "SE");
  EXPECT_TRUE(std::holds_alternative<floresta::Missing>(record.fields[3].second));
  EXPECT_EQ(std::get<double>(Record::from_json(R"({"hora": 20.5})").fields[0].second), 20.5);
}

}  // namespace
