// Records: JSON objects in, raw input rows out, with the documented policies (record.hpp).
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "floresta/error.hpp"
#include "engine/model_data.hpp"
#include "floresta/model.hpp"
#include "json_document.hpp"

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
    else detail::fail("record: field '", name, "' holds a ", value.type_name(), "; expected a number, string, boolean or null");
  }
  return record;
}

namespace {

[[noreturn]] void refuse(const Feature& feature, const char* rule, const std::string& message) {
  throw InputError(feature.name, rule, message);
}

std::string quoted(const std::string& text) {
  std::string shown = text.size() > 80 ? text.substr(0, 77) + "..." : text;
  return "\"" + shown + "\"";
}

std::string number_text(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

// A text through a feature's input rule: its code, the `otherwise` code, or refused.
double encode_by_rule(const Feature& feature, const detail::ModelData::InputLookup& lookup, const std::string& text) {
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
    return d.unknown_code[column];
  };

  if (const auto* text = std::get_if<std::string>(&value)) {
    if (!feature.is_categorical()) refuse(feature, "type", "field '" + feature.name + "' is numeric; got the string " + quoted(*text));
    if (feature.string_categories.empty())
      refuse(feature, "type", "field '" + feature.name + "' has " + (feature.number_categories.empty() ? "no category vocabulary" : "numeric categories") +
                                  "; got the string " + quoted(*text));
    const auto& codes = d.string_codes[column];
    if (const auto it = codes.find(*text); it != codes.end()) return it->second;
    if (feature.input.present) return encode_by_rule(feature, d.input_codes[column], *text);
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
  const auto& codes = d.number_codes[column];
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
    const auto it = d.feature_index.find(name);
    if (it == d.feature_index.end()) {
      if (options.extra_fields == ExtraFields::kError) {
        std::string names;
        for (const auto& f : d.schema.features) names += (names.empty() ? "" : ", ") + f.name;
        detail::fail("field '", name, "' is not one of the model's features (", names, ")");
      }
      continue;
    }
    row[it->second] = encode_value(it->second, value, options);
  }
  return row;
}

}  // namespace floresta
