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

double Model::encode_value(std::size_t column, const Value& value, const RecordOptions& options) const {
  const detail::ModelData& d = *data_;
  if (column >= d.schema.features.size()) detail::fail("feature index ", column, " out of range");
  const Feature& feature = d.schema.features[column];
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (std::holds_alternative<Missing>(value)) return kNaN;

  auto unknown = [&](const std::string& shown) {
    if (options.unknown_category == UnknownCategory::kError)
      detail::fail("field '", feature.name, "': unknown category ", shown, " (not seen in training)");
    return d.unknown_code[column];
  };

  if (const auto* text = std::get_if<std::string>(&value)) {
    if (!feature.is_categorical())
      detail::fail("field '", feature.name, "' is numeric; got the string \"", *text, "\"");
    if (feature.string_categories.empty())
      detail::fail("field '", feature.name, "' has ", feature.number_categories.empty() ? "no category vocabulary" : "numeric categories",
                   "; got the string \"", *text, "\"");
    const auto& codes = d.string_codes[column];
    const auto it = codes.find(*text);
    return it == codes.end() ? unknown("\"" + *text + "\"") : it->second;
  }

  const double number = std::get<double>(value);
  if (!feature.is_categorical() || std::isnan(number)) return number;
  if (!feature.string_categories.empty())
    detail::fail("field '", feature.name, "' takes one of its categories as a string; got the number ", number);
  if (feature.number_categories.empty()) return number;  // no vocabulary: the number is the code
  const auto& codes = d.number_codes[column];
  const auto it = codes.find(number);
  if (it == codes.end()) {
    std::ostringstream shown;
    shown << number;
    return feature.numbers_are_codes ? unknown(shown.str()) : (options.unknown_category == UnknownCategory::kError ? unknown(shown.str()) : number);
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
