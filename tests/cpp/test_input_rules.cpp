// Input rules (the model file's `input` object): text folding, aliases, leading words,
// `otherwise`, ranges and display names, applied to records; refused values raise
// InputError naming the field and the rule; bad rules are refused at load, naming the rule.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using floresta::fold_text;
using floresta::Record;
using floresta::test::data_path;
using floresta::test::read_file;

// skl_pipeline.json (features bairro, marca, idade; bairro's categories include "SE",
// "M'BOI MIRIM", "CAPAO REDONDO") with the given input rules.
floresta::Model pipeline_with(const nlohmann::json& input) {
  auto document = nlohmann::json::parse(read_file(data_path("skl_pipeline.json")));
  document["input"] = input;
  return floresta::load_from_memory(document.dump(), "rules.json");
}

const nlohmann::json kRules = {
    {"bairro", {{"fold", {"case", "accents", "spaces"}}, {"display", {{"SE", "Sé"}, {"CAPAO REDONDO", "Capão Redondo"}}}}},
    {"marca",
     {{"fold", {"case", "accents", "spaces"}},
      {"aliases", {{"IPHONE", "Apple"}, {"GALAXY", "Samsung"}, {"MOTO G", "Motorola"}}},
      {"leading_words", true},
      {"otherwise", "Xiaomi"}}},
    {"idade", {{"min", 0}, {"max", 120}}}};

double code(const floresta::Model& model, const char* field, const char* text) {
  return model.encode(Record().set(field, text))[*model.schema().index_of(field)];
}

void expect_input_error(const std::function<void()>& action, const std::string& field, const std::string& rule,
                        const std::string& fragment) {
  try {
    action();
    FAIL() << "no error; expected " << rule << " on " << field;
  } catch (const floresta::InputError& e) {
    EXPECT_EQ(e.field(), field);
    EXPECT_EQ(e.rule(), rule);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

void expect_load_error(const nlohmann::json& input, const std::string& fragment) {
  try {
    pipeline_with(input);
    FAIL() << "loaded; expected: " << fragment;
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(FoldText, CaseAccentsAndSpacesEachOnTheirOwn) {
  EXPECT_EQ(fold_text("  Capão \t  Redondo ", true, true, true), "CAPAO REDONDO");
  EXPECT_EQ(fold_text("São Paulo", false, true, false), "Sao Paulo");
  EXPECT_EQ(fold_text("são  paulo", true, false, false), "SÃO  PAULO");
  EXPECT_EQ(fold_text("a\u00a0 b", false, false, true), "a b");  // no-break space is a space
  EXPECT_EQ(fold_text("M\u2019Boi Mirim", true, true, true), "M'BOI MIRIM");
  EXPECT_EQ(fold_text("Çàéîõü ñ ß æ œ ÿ", true, true, true), "CAEIOU N SS AE OE Y");
  EXPECT_EQ(fold_text("Łódź Škoda Ångström", true, true, true), "LODZ SKODA ANGSTROM");
  EXPECT_EQ(fold_text("01º D.P. Sé, 2ª Vara", true, true, true), "01O D.P. SE, 2A VARA");
  // Upper case without folding accents, Latin Extended-A included (even and odd pairs).
  EXPECT_EQ(fold_text("ąćĺžÿ", true, false, false), "ĄĆĹŽŸ");
  EXPECT_EQ(fold_text("", true, true, true), "");
  EXPECT_EQ(fold_text("   ", true, true, true), "");
}

TEST(FoldText, OtherCharactersAndInvalidUtf8PassUnchanged) {
  EXPECT_EQ(fold_text("東京 €5", true, true, true), "東京 €5");
  const std::string invalid = std::string("a\xff") + "b\xc3";  // a stray byte and a cut sequence
  EXPECT_EQ(fold_text(invalid, true, true, true), std::string("A\xff") + "B\xc3");
}

TEST(InputRules, AnySpellingOfACategoryGetsItsTrainingCode) {
  const auto model = pipeline_with(kRules);
  const auto plain = floresta::load(data_path("skl_pipeline.json"));
  const double se = plain.encode(Record().set("bairro", "SE"))[0];
  for (const char* text : {"SE", "Sé", " se ", "sé", "S\u00c9"}) EXPECT_EQ(code(model, "bairro", text), se) << text;
  EXPECT_EQ(code(model, "bairro", "m’boi   mirim"), plain.encode(Record().set("bairro", "M'BOI MIRIM"))[0]);
  // The answer follows: the same person written any way scores the same.
  const Record canonical = Record::from_json(R"({"bairro": "CAPAO REDONDO", "marca": "Apple", "idade": 30})");
  const Record written = Record::from_json(R"({"bairro": " capão  redondo", "marca": "iPhone 13 Pro", "idade": 30})");
  EXPECT_EQ(model.predict_proba(written), plain.predict_proba(canonical));
}

TEST(InputRules, AliasesLeadingWordsAndOtherwise) {
  const auto model = pipeline_with(kRules);
  const double apple = code(model, "marca", "Apple"), samsung = code(model, "marca", "Samsung");
  const double motorola = code(model, "marca", "Motorola"), xiaomi = code(model, "marca", "Xiaomi");
  EXPECT_EQ(code(model, "marca", "iphone"), apple);
  EXPECT_EQ(code(model, "marca", "IPHONE 11"), apple);
  EXPECT_EQ(code(model, "marca", "galaxy a10"), samsung);
  EXPECT_EQ(code(model, "marca", "samsung galaxy s20"), samsung);  // a category's name leads
  EXPECT_EQ(code(model, "marca", "Moto G7"), xiaomi);              // "MOTO G7" is not "MOTO G" + words
  EXPECT_EQ(code(model, "marca", "moto g 7"), motorola);            // the longest leading alias
  EXPECT_EQ(code(model, "marca", "Nokia 3310"), xiaomi);            // otherwise
  EXPECT_EQ(code(model, "marca", "IPHONEX"), xiaomi);               // a word must end where the alias ends
}

TEST(InputRules, ValuesOutsideTheRuleAreRefusedByFieldAndRule) {
  const auto model = pipeline_with(kRules);
  expect_input_error([&] { model.encode(Record().set("bairro", "Atlântida")); }, "bairro", "vocabulary",
                     "unknown value \"Atlântida\" (read as \"ATLANTIDA\")");
  expect_input_error([&] { model.encode(Record().set("idade", 200)); }, "idade", "range", "200 is outside the valid range [0, 120]");
  expect_input_error([&] { model.encode(Record().set("idade", -1)); }, "idade", "range", "[0, 120]");
  expect_input_error([&] { model.encode(Record().set("idade", INFINITY)); }, "idade", "range", "inf");
  expect_input_error([&] { model.encode(Record().set("idade", "trinta")); }, "idade", "type", "is numeric");
  expect_input_error([&] { model.encode(Record().set("bairro", 3.0)); }, "bairro", "type", "as a string");
  // The rule refuses whatever the record options say; ends of the range are valid.
  floresta::RecordOptions lenient;
  lenient.unknown_category = floresta::UnknownCategory::kAsTrained;
  expect_input_error([&] { model.encode(Record().set("bairro", "Atlântida"), lenient); }, "bairro", "vocabulary", "unknown value");
  EXPECT_EQ(model.encode(Record().set("idade", 120))[2], 120);
  EXPECT_EQ(model.encode(Record().set("idade", 0))[2], 0);
  // Missing stays missing.
  EXPECT_TRUE(std::isnan(model.encode(Record().set("idade", floresta::missing))[2]));
  EXPECT_TRUE(std::isnan(model.encode(Record().set("idade", NAN))[2]));
}

TEST(InputRules, AFeatureWithoutARuleKeepsTheRecordPolicies) {
  const auto model = pipeline_with({{"idade", {{"min", 0}}}});
  EXPECT_NO_THROW(model.encode(Record().set("bairro", "Atlântida")));  // as trained
  floresta::RecordOptions strict;
  strict.unknown_category = floresta::UnknownCategory::kError;
  expect_input_error([&] { model.encode(Record().set("bairro", "Sé"), strict); }, "bairro", "vocabulary", "not seen in training");
  EXPECT_EQ(model.encode(Record().set("idade", 1e9))[2], 1e9);  // no max
}

TEST(InputRules, TheSchemaCarriesTheRulesAndDisplayNames) {
  const auto model = pipeline_with(kRules);
  const floresta::InputRule& bairro = model.schema().features[0].input;
  EXPECT_TRUE(bairro.present && bairro.fold_case && bairro.fold_accents && bairro.fold_spaces);
  ASSERT_EQ(bairro.display.size(), 2u);
  EXPECT_EQ(bairro.display[1], (std::pair<std::string, std::string>{"SE", "Sé"}));  // object keys in sorted order
  const floresta::InputRule& idade = model.schema().features[2].input;
  EXPECT_EQ(*idade.min, 0);
  EXPECT_EQ(*idade.max, 120);
  EXPECT_FALSE(floresta::load(data_path("skl_pipeline.json")).schema().features[0].input.present);
}

TEST(InputRules, BadRulesAreRefusedAtLoadNamingTheRule) {
  expect_load_error({{"ciudad", {{"fold", {"case"}}}}}, "/input/ciudad");
  expect_load_error({{"ciudad", {{"fold", {"case"}}}}}, "names no feature");
  expect_load_error({{"bairro", {{"fold", {"umlauts"}}}}}, "unknown folding 'umlauts'");
  expect_load_error({{"bairro", {{"folds", {"case"}}}}}, "unknown input rule field");
  expect_load_error({{"bairro", "upper"}}, "expected an object");
  expect_load_error({{"marca", {{"aliases", {{"IPHONE", "Aple"}}}}}}, "alias target \"Aple\" is not one of the feature's categories");
  expect_load_error({{"marca", {{"otherwise", "Outros"}}}}, "otherwise \"Outros\"");
  expect_load_error({{"bairro", {{"display", {{"SÉ", "Sé"}}}}}}, "display name's category \"SÉ\"");
  expect_load_error({{"marca", {{"fold", {"case"}}, {"aliases", {{"apple", "Samsung"}}}}}},
                    "\"apple\" and \"Apple\" both read as \"APPLE\" but mean different categories");
  expect_load_error({{"idade", {{"fold", {"case"}}}}}, "need a categorical feature with string categories");
  expect_load_error({{"bairro", {{"min", 0}}}}, "min and max are for numeric features");
  expect_load_error({{"idade", {{"min", 10}, {"max", 5}}}}, "min 10 is above max 5");
  expect_load_error({{"idade", {{"min", "zero"}}}}, "expected a number");
  expect_load_error({{"marca", {{"leading_words", "yes"}}}}, "expected true or false");
}

}  // namespace
