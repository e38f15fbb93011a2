// scorer.cpp — see scorer.hpp.
#include "scorer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace phone_theft {

namespace {

const char* type_name(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "a number";
  }
}

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

std::string number_text(double value) {
  std::string out;
  append_number(value, out);
  return out;
}

std::string upper_ascii(std::string text) {
  for (char& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

}  // namespace

void append_number(double value, std::string& out) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

nlohmann::json Problem::to_json() const {
  nlohmann::json body = {{"error", message}, {"rule", rule}};
  body["field"] = field.empty() ? nlohmann::json(nullptr) : nlohmann::json(field);
  if (index >= 0) body["index"] = index;
  return body;
}

std::map<std::string, Range> default_ranges() { return {{"idade", Range{0, 120}}}; }

Scorer::Scorer(floresta::Model model, std::map<std::string, Range> ranges) : model_(std::move(model)) {
  if (!model_.is_classifier())
    throw floresta::Error(model_.source() + ": the server needs a classifier (its answer is a ranking of classes); this model is " +
                          model_.objective());
  const floresta::Schema& schema = model_.schema();
  for (std::size_t j = 0; j < schema.size(); ++j) {
    const floresta::Feature& feature = schema.features[j];
    Field field;
    field.name = feature.name;
    if (feature.is_categorical()) {
      if (!feature.string_categories.empty()) {
        field.kind = Field::Kind::kStringCategory;
        for (std::size_t c = 0; c < feature.string_categories.size(); ++c)
          field.string_codes.emplace(feature.string_categories[c], static_cast<double>(c));
      } else if (!feature.number_categories.empty()) {
        field.kind = Field::Kind::kNumberCategory;
        field.number_values = feature.number_categories;
      } else {
        throw floresta::Error(model_.source() + ": feature '" + feature.name +
                              "' is categorical but the file has no vocabulary for it, so a value cannot be checked "
                              "(export the model with its categories, e.g. XGBoost >= 3.1 with pandas categoricals)");
      }
    }
    const auto range = ranges.find(feature.name);
    if (range != ranges.end()) {
      if (feature.is_categorical())
        throw floresta::Error(model_.source() + ": a range is set for '" + feature.name + "', which is categorical");
      field.has_range = true;
      field.range = range->second;
    }
    fields_.push_back(std::move(field));
  }
  labels_ = model_.class_labels();
  for (const std::string& label : labels_) label_json_.push_back(nlohmann::json(label).dump());
}

bool Scorer::encode_field(const Field& field, const nlohmann::json& value, double& out, Problem& problem) const {
  problem.field = field.name;
  switch (field.kind) {
    case Field::Kind::kStringCategory: {
      if (!value.is_string()) {
        problem.rule = "type";
        problem.message = "field '" + field.name + "' must be a string (one of the " +
                          std::to_string(field.string_codes.size()) + " values GET /schema lists), got " + type_name(value) +
                          " " + shown(value);
        return false;
      }
      const std::string& text = value.get_ref<const std::string&>();
      const auto code = field.string_codes.find(text);
      if (code == field.string_codes.end()) {
        problem.rule = "vocabulary";
        problem.message = "field '" + field.name + "': unknown value " + shown(value) + " (the model was trained on " +
                          std::to_string(field.string_codes.size()) + " values, GET /schema lists them";
        const std::string wanted = upper_ascii(text);
        for (const auto& [known, unused] : field.string_codes) {
          if (upper_ascii(known) == wanted) {
            problem.message += "; did you mean " + nlohmann::json(known).dump() + "?";
            break;
          }
        }
        problem.message += ")";
        return false;
      }
      out = code->second;
      return true;
    }
    case Field::Kind::kNumberCategory: {
      if (!value.is_number()) {
        problem.rule = "type";
        problem.message = "field '" + field.name + "' must be a number (one of the values GET /schema lists), got " +
                          type_name(value) + " " + shown(value);
        return false;
      }
      const double number = value.get<double>();
      const auto at = std::find(field.number_values.begin(), field.number_values.end(), number);
      if (at == field.number_values.end()) {
        problem.rule = "vocabulary";
        problem.message = "field '" + field.name + "': unknown value " + shown(value) + " (GET /schema lists the " +
                          std::to_string(field.number_values.size()) + " values the model was trained on)";
        return false;
      }
      const std::size_t column = static_cast<std::size_t>(&field - fields_.data());
      out = model_.schema().features[column].numbers_are_codes ? static_cast<double>(at - field.number_values.begin())
                                                                : number;
      return true;
    }
    case Field::Kind::kNumeric: {
      if (!value.is_number()) {
        problem.rule = "type";
        problem.message = "field '" + field.name + "' must be a number, got " + type_name(value) + " " + shown(value);
        return false;
      }
      const double number = value.get<double>();
      if (!std::isfinite(number)) {
        problem.rule = "range";
        problem.message = "field '" + field.name + "' must be a finite number, got " + shown(value);
        return false;
      }
      if (field.has_range && !(number >= field.range.min && number <= field.range.max)) {
        problem.rule = "range";
        problem.message = "field '" + field.name + "' must be between " + number_text(field.range.min) + " and " +
                          number_text(field.range.max) + ", got " + shown(value);
        return false;
      }
      out = number;
      return true;
    }
  }
  return false;
}

bool Scorer::encode(const nlohmann::json& person, double* row, Problem& problem) const {
  problem.status = 422;
  if (!person.is_object()) {
    problem.status = 400;
    problem.rule = "body";
    problem.field.clear();
    problem.message = std::string("a person must be a JSON object with the fields ") + [&] {
      std::string names;
      for (const Field& f : fields_) names += (names.empty() ? "" : ", ") + f.name;
      return names;
    }() + "; got " + type_name(person);
    return false;
  }
  for (std::size_t j = 0; j < fields_.size(); ++j) {
    const Field& field = fields_[j];
    const auto value = person.find(field.name);
    if (value == person.end()) {
      problem.field = field.name;
      problem.rule = "required";
      problem.message = "missing field '" + field.name + "' (every field GET /schema lists is required)";
      return false;
    }
    if (!encode_field(field, *value, row[j], problem)) return false;
  }
  return true;
}

void Scorer::score(const double* rows, std::size_t n, double* proba) const {
  if (n == 1) {
    model_.score_row(floresta::OutputKind::kProba, rows, fields_.size(), proba);
    return;
  }
  model_.score(floresta::OutputKind::kProba, floresta::MatrixView<double>::row_major(rows, n, fields_.size()), proba);
}

void Scorer::append_answer(const double* proba, std::string& out) const {
  const std::size_t k = labels_.size();
  constexpr std::size_t kInline = 64;
  std::size_t inline_order[kInline];
  std::vector<std::size_t> heap_order;
  std::size_t* order = inline_order;
  if (k > kInline) {
    heap_order.resize(k);
    order = heap_order.data();
  }
  std::iota(order, order + k, std::size_t{0});
  std::stable_sort(order, order + k, [&](std::size_t a, std::size_t b) { return proba[a] > proba[b]; });
  out += '[';
  for (std::size_t i = 0; i < k; ++i) {
    if (i) out += ',';
    out += "{\"position\":";
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, i + 1).ptr;
    out.append(buffer, end);
    out += ",\"label\":";
    out += label_json_[order[i]];
    out += ",\"value\":";
    append_number(proba[order[i]], out);
    out += '}';
  }
  out += ']';
}

void Scorer::answer(const double* row, std::string& out) const {
  constexpr std::size_t kInline = 64;
  double inline_proba[kInline];
  std::vector<double> heap_proba;
  double* proba = inline_proba;
  if (labels_.size() > kInline) {
    heap_proba.resize(labels_.size());
    proba = heap_proba.data();
  }
  score(row, 1, proba);
  append_answer(proba, out);
}

nlohmann::json Scorer::schema_json() const {
  nlohmann::json fields = nlohmann::json::array();
  for (const Field& field : fields_) {
    nlohmann::json entry = {{"name", field.name}};
    if (field.kind == Field::Kind::kNumeric) {
      entry["type"] = "numeric";
      if (field.has_range) {
        entry["min"] = field.range.min;
        entry["max"] = field.range.max;
      }
    } else {
      entry["type"] = "categorical";
      const std::size_t column = static_cast<std::size_t>(&field - fields_.data());
      const floresta::Feature& feature = model_.schema().features[column];
      entry["values"] = field.kind == Field::Kind::kStringCategory ? nlohmann::json(feature.string_categories)
                                                                    : nlohmann::json(feature.number_categories);
    }
    fields.push_back(std::move(entry));
  }
  return {{"fields", fields}, {"labels", labels_}};
}

}  // namespace phone_theft
