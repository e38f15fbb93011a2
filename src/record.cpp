// Records: JSON objects in, raw input rows out, with the documented policies (record.hpp),
// through the lookups each model builds once (record_encoding.hpp).
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "fail.hpp"
#include "floresta/error.hpp"
#include "floresta/model.hpp"
#include "json_document.hpp"
#include "model_data.hpp"
#include "record_encoding.hpp"

namespace floresta {

Record Record::from_json(const std::string& json_object) {
  const detail::Json document = detail::parse_json_document(json_object, detail::JsonEncoding::kText, "record");
  if (!document.is_object()) detail::fail("record: expected a JSON object of field names to values");
  Record record;
  for (const auto& [name, value] : document.items()) {
    if (value.is_null()) record.set(name, missing);
    else if (value.is_number()) record.set(name, value.get<double>());
    else if (value.is_boolean()) record.set(name, value.get<bool>() ? 1.0 : 0.0);
    else if (value.is_string()) record.set(name, value.get<std::string>());
    else detail::fail("record: field '", detail::clipped(name), "' holds a ", value.type_name(), "; expected a number, string, boolean or null");
  }
  return record;
}

namespace detail {

namespace {

// Checks a feature's input rule against its vocabulary and builds its lookup: every category
// and alias folded as the rule says, each folded text meaning one category.
RecordEncoding::InputLookup index_input_rule(const Feature& feature, const std::string& source) {
  const InputRule& rule = feature.input;
  RecordEncoding::InputLookup lookup;
  const std::string where = source + ": input rule of feature '" + feature.name + "'";
  const bool texts = feature.is_categorical() && !feature.string_categories.empty();
  const bool folds = rule.fold_case || rule.fold_accents || rule.fold_spaces;
  if (!texts && (folds || !rule.aliases.empty() || rule.leading_words || rule.otherwise || !rule.display.empty()))
    fail(where, ": fold, aliases, leading_words, otherwise and display need a categorical feature with string categories");
  if (feature.is_categorical() && (rule.min || rule.max)) fail(where, ": min and max are for numeric features");
  if (rule.min && rule.max && *rule.min > *rule.max) fail(where, ": min ", *rule.min, " is above max ", *rule.max);
  if (!texts) return lookup;
  std::unordered_map<std::string, std::size_t> code_of;
  for (std::size_t k = 0; k < feature.string_categories.size(); ++k) code_of.emplace(feature.string_categories[k], k);
  const auto category = [&](const std::string& name, const char* what) {
    const auto it = code_of.find(name);
    if (it == code_of.end()) fail(where, ": ", what, " \"", name, "\" is not one of the feature's categories");
    return it->second;
  };
  const auto fold = [&](const std::string& text) { return fold_text(text, rule.fold_case, rule.fold_accents, rule.fold_spaces); };
  std::unordered_map<std::string, std::string> meaning;  // folded text -> the text it came from
  const auto add = [&](const std::string& text, std::size_t code) {
    const std::string key = fold(text);
    const auto [it, inserted] = lookup.codes.emplace(key, static_cast<double>(code));
    if (!inserted && it->second != static_cast<double>(code))
      fail(where, ": \"", text, "\" and \"", meaning[key], "\" both read as \"", key, "\" but mean different categories");
    meaning.emplace(key, text);
  };
  for (std::size_t k = 0; k < feature.string_categories.size(); ++k) add(feature.string_categories[k], k);
  for (const auto& [text, target] : rule.aliases) add(text, category(target, "alias target"));
  for (const auto& [name, shown] : rule.display) category(name, "display name's category");
  if (rule.otherwise) {
    lookup.otherwise = static_cast<double>(category(*rule.otherwise, "otherwise"));
    lookup.has_otherwise = true;
  }
  return lookup;
}

}  // namespace

// Lookups for encoding records: names, category codes, and the code of an unseen category
// (-1 where a preprocessing lookup reads the feature and tells unknown from missing, else NaN).
RecordEncoding build_record_encoding(const Schema& schema, const Preprocessing& preprocessing, const std::string& source) {
  RecordEncoding data;
  const auto& features = schema.features;
  data.string_codes.assign(features.size(), {});
  data.number_codes.assign(features.size(), {});
  data.unknown_code.assign(features.size(), std::numeric_limits<double>::quiet_NaN());
  data.input_codes.assign(features.size(), {});
  for (std::size_t f = 0; f < features.size(); ++f) {
    if (features[f].input.present) data.input_codes[f] = index_input_rule(features[f], source);
    data.feature_index.emplace(features[f].name, f);  // a repeated name keeps its first column
    for (std::size_t k = 0; k < features[f].string_categories.size(); ++k)
      data.string_codes[f].emplace(features[f].string_categories[k], static_cast<double>(k));
    for (std::size_t k = 0; k < features[f].number_categories.size(); ++k)
      data.number_codes[f].emplace(features[f].number_categories[k], static_cast<double>(k));
  }
  for (const auto& column : preprocessing.columns)
    for (const auto& step : column.steps)
      if (step.kind == StepKind::kLookupCode && column.steps.front().kind == step.kind) data.unknown_code[column.input] = -1;
  return data;
}

}  // namespace detail

namespace {

[[noreturn]] void refuse(const Feature& feature, const char* rule, const std::string& message) {
  throw InputError(feature.name, rule, message);
}

std::string quoted(const std::string& text) { return "\"" + detail::clipped(text) + "\""; }

std::string number_text(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

// A text through a feature's input rule: its code, the `otherwise` code, or refused.
double encode_by_rule(const Feature& feature, const detail::RecordEncoding::InputLookup& lookup, const std::string& text) {
  const InputRule& rule = feature.input;
  const std::string key = fold_text(text, rule.fold_case, rule.fold_accents, rule.fold_spaces);
  if (const auto it = lookup.codes.find(key); it != lookup.codes.end()) return it->second;
  if (rule.leading_words) {  // the longest leading words that name a category or an alias
    for (std::size_t end = key.rfind(' '); end != std::string::npos && end > 0; end = key.rfind(' ', end - 1)) {
      if (const auto it = lookup.codes.find(key.substr(0, end)); it != lookup.codes.end()) return it->second;
    }
  }
  if (lookup.has_otherwise) return lookup.otherwise;
  refuse(feature, "vocabulary",
         "field '" + feature.name + "': unknown value " + quoted(text) + (key != text ? " (read as " + quoted(key) + ")" : std::string()) + "; the model knows " +
             std::to_string(feature.string_categories.size()) + " values" +
             (rule.aliases.empty() ? std::string() : " and " + std::to_string(rule.aliases.size()) + " aliases"));
}

}  // namespace

double Model::encode_value(std::size_t column, const Value& value, const RecordOptions& options) const {
  const detail::ModelData& d = *data_;
  if (column >= d.schema.features.size()) detail::fail("feature index ", column, " out of range");
  const Feature& feature = d.schema.features[column];
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (std::holds_alternative<Missing>(value)) return kNaN;

  auto unknown = [&](const std::string& shown) {
    if (options.unknown_category == UnknownCategory::kError)
      refuse(feature, "vocabulary", "field '" + feature.name + "': unknown category " + shown + " (not seen in training)");
    return d.records.unknown_code[column];
  };

  if (const auto* text = std::get_if<std::string>(&value)) {
    if (!feature.is_categorical()) refuse(feature, "type", "field '" + feature.name + "' is numeric; got the string " + quoted(*text));
    if (feature.string_categories.empty())
      refuse(feature, "type", "field '" + feature.name + "' has " + (feature.number_categories.empty() ? "no category vocabulary" : "numeric categories") +
                                  "; got the string " + quoted(*text));
    const auto& codes = d.records.string_codes[column];
    if (const auto it = codes.find(*text); it != codes.end()) return it->second;
    if (feature.input.present) return encode_by_rule(feature, d.records.input_codes[column], *text);
    return unknown(quoted(*text));
  }

  const double number = std::get<double>(value);
  if (!feature.is_categorical()) {
    const InputRule& rule = feature.input;
    if ((rule.min && !(number >= *rule.min || std::isnan(number))) || (rule.max && !(number <= *rule.max || std::isnan(number))))
      refuse(feature, "range", "field '" + feature.name + "': " + number_text(number) + " is outside the valid range [" + (rule.min ? number_text(*rule.min) : "-inf") +
                                   ", " + (rule.max ? number_text(*rule.max) : "inf") + "]");
    return number;
  }
  if (std::isnan(number)) return number;
  if (!feature.string_categories.empty())
    refuse(feature, "type", "field '" + feature.name + "' takes one of its categories as a string; got the number " + number_text(number));
  if (feature.number_categories.empty()) return number;  // no vocabulary: the number is the code
  const auto& codes = d.records.number_codes[column];
  const auto it = codes.find(number);
  if (it == codes.end()) {
    return feature.numbers_are_codes ? unknown(number_text(number))
                                     : (options.unknown_category == UnknownCategory::kError ? unknown(number_text(number)) : number);
  }
  return feature.numbers_are_codes ? it->second : number;
}

std::vector<double> Model::encode(const Record& record, const RecordOptions& options) const {
  const detail::ModelData& d = *data_;
  std::vector<double> row(num_features(), std::numeric_limits<double>::quiet_NaN());
  for (const auto& [name, value] : record.fields) {
    const auto it = d.records.feature_index.find(name);
    if (it == d.records.feature_index.end()) {
      if (options.extra_fields == ExtraFields::kError) {
        std::string names;
        for (const auto& f : d.schema.features) names += (names.empty() ? "" : ", ") + f.name;
        detail::fail("field '", detail::clipped(name), "' is not one of the model's features (", names, ")");
      }
      continue;
    }
    row[it->second] = encode_value(it->second, value, options);
  }
  return row;
}

}  // namespace floresta
