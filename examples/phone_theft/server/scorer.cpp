// scorer.cpp — see scorer.hpp.
#include "scorer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

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

std::string json_text(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

std::string number_text(double value) {
  std::string out;
  append_number(value, out);
  return out;
}

// A category outside the vocabulary is refused, for features without an input rule too.
const floresta::RecordOptions kStrict = [] {
  floresta::RecordOptions options;
  options.unknown_category = floresta::UnknownCategory::kError;
  return options;
}();

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

Scorer::Scorer(floresta::Model model, std::map<std::string, Range> ranges) : model_(std::move(model)) {
  if (!model_.is_classifier())
    throw floresta::Error(model_.source() + ": the server needs a classifier (its answer is a ranking of classes); this model is " +
                          model_.objective());
  const floresta::Schema& schema = model_.schema();
  for (std::size_t j = 0; j < schema.size(); ++j) {
    const floresta::Feature& feature = schema.features[j];
    names_.push_back(feature.name);
    if (feature.is_categorical() && !feature.has_vocabulary())
      throw floresta::Error(model_.source() + ": feature '" + feature.name +
                            "' is categorical but the file has no vocabulary for it, so a value cannot be checked "
                            "(export the model with its categories, e.g. XGBoost >= 3.1 with pandas categoricals)");
    const auto range = ranges.find(feature.name);
    if (range == ranges.end()) continue;
    if (feature.is_categorical())
      throw floresta::Error(model_.source() + ": a range is set for '" + feature.name + "', which is categorical");
    ranges_.emplace(j, range->second);
  }
  labels_ = model_.class_labels();
  for (const std::string& label : labels_) label_json_.push_back(nlohmann::json(label).dump());
  metadata_ = model_.metadata().empty() ? nlohmann::json::object() : nlohmann::json::parse(model_.metadata());
  optional_.assign(names_.size(), true);
  if (metadata_.contains("optional_fields")) {
    const nlohmann::json& optional = metadata_["optional_fields"];
    if (!optional.is_array()) throw floresta::Error(model_.source() + ": metadata.optional_fields must be an array of field names");
    for (std::size_t j = 0; j < names_.size(); ++j)
      optional_[j] = std::find(optional.begin(), optional.end(), nlohmann::json(names_[j])) != optional.end();
  }
  for (std::size_t j = 0; j < names_.size(); ++j) {
    name_json_.push_back(nlohmann::json(names_[j]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    std::vector<std::string> shown_values;
    const floresta::Feature& feature = schema.features[j];
    if (feature.is_categorical())
      for (std::size_t c = 0; c < feature.string_categories.size(); ++c)
        shown_values.push_back(nlohmann::json(shown(j, static_cast<double>(c)))
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    shown_json_.push_back(std::move(shown_values));
  }
  if (metadata_.contains("city_average")) {
    const nlohmann::json& average = metadata_["city_average"];
    if (!average.is_array() || average.size() != labels_.size())
      throw floresta::Error(model_.source() + ": metadata.city_average must hold one share per class (" +
                            std::to_string(labels_.size()) + ")");
    for (const auto& share : average) {
      if (!share.is_number() || !(share.get<double>() > 0))
        throw floresta::Error(model_.source() + ": metadata.city_average holds a share that is not a positive number");
      city_average_.push_back(share.get<double>());
    }
  }
}

bool Scorer::encode_field(std::size_t column, const nlohmann::json& value, double& out, Problem& problem) const {
  const std::string& name = names_[column];
  problem.field = name;
  floresta::Value as_value;
  if (value.is_null()) {
    if (!optional_[column]) {
      problem.rule = "required";
      problem.message = "field '" + name + "' must be given: the model was not trained to answer without it";
      return false;
    }
    as_value = floresta::missing;  // "not given": the model's answer for a missing value
  } else if (value.is_string()) {
    as_value = value.get<std::string>();
  } else if (value.is_number()) {
    const double number = value.get<double>();
    if (!std::isfinite(number)) {
      problem.rule = "range";
      problem.message = "field '" + name + "' must be a finite number, got " + json_text(value);
      return false;
    }
    const auto range = ranges_.find(column);
    if (range != ranges_.end() && !(number >= range->second.min && number <= range->second.max)) {
      problem.rule = "range";
      problem.message = "field '" + name + "' must be between " + number_text(range->second.min) + " and " +
                        number_text(range->second.max) + ", got " + json_text(value);
      return false;
    }
    as_value = number;
  } else {
    problem.rule = "type";
    problem.message = "field '" + name + "' must be a " + (model_.schema().features[column].is_categorical() ? "string" : "number") +
                      " or null, got " + type_name(value) + " " + json_text(value);
    return false;
  }
  try {
    out = model_.encode_value(column, as_value, kStrict);
    return true;
  } catch (const floresta::InputError& e) {
    problem.rule = e.rule();
    problem.message = std::string(e.what()) + (e.rule() == "vocabulary" ? " (GET /schema lists the values)" : "");
    return false;
  }
}

bool Scorer::encode(const nlohmann::json& person, double* row, Problem& problem) const {
  problem.status = 422;
  if (!person.is_object()) {
    problem.status = 400;
    problem.rule = "body";
    problem.field.clear();
    std::string names;
    for (const std::string& name : names_) names += (names.empty() ? "" : ", ") + name;
    problem.message = "a person must be a JSON object with the fields " + names + "; got " + type_name(person);
    return false;
  }
  for (std::size_t j = 0; j < names_.size(); ++j) {
    const auto value = person.find(names_[j]);
    if (value == person.end()) {
      problem.field = names_[j];
      problem.rule = "required";
      problem.message = "missing field '" + names_[j] + "' (every field GET /schema lists is required; null means not given)";
      return false;
    }
    if (!encode_field(j, *value, row[j], problem)) return false;
  }
  return true;
}

void Scorer::score(const double* rows, std::size_t n, double* proba) const {
  if (n == 1) {
    model_.score_row(floresta::OutputKind::kProba, rows, names_.size(), proba);
    return;
  }
  model_.score(floresta::OutputKind::kProba, floresta::MatrixView<double>::row_major(rows, n, names_.size()), proba);
}

std::size_t Scorer::append_answer(const double* proba, std::string& out) const {
  const std::size_t k = labels_.size();
  constexpr std::size_t kInline = 64;
  std::size_t inline_order[kInline];
  std::vector<std::size_t> heap_order;
  std::size_t* order = inline_order;
  if (k > kInline) {
    heap_order.resize(k);
    order = heap_order.data();
  }
  model_.rank_order(proba, order);
  out += '[';
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t c = order[i];
    if (i) out += ',';
    out += "{\"position\":";
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, i + 1).ptr;
    out.append(buffer, end);
    out += ",\"label\":";
    out += label_json_[c];
    out += ",\"value\":";
    append_number(proba[c], out);
    if (!city_average_.empty()) {
      out += ",\"lift\":";
      append_number(proba[c] / city_average_[c], out);
    }
    out += '}';
  }
  out += ']';
  return order[0];
}

namespace {

// One row's probabilities, on the stack up to 64 classes, handed to `use`.
template <class Use>
void with_proba(const Scorer& scorer, const double* row, Use&& use) {
  constexpr std::size_t kInline = 64;
  double inline_proba[kInline];
  std::vector<double> heap_proba;
  double* proba = inline_proba;
  if (scorer.num_classes() > kInline) {
    heap_proba.resize(scorer.num_classes());
    proba = heap_proba.data();
  }
  scorer.score(row, 1, proba);
  use(proba);
}

}  // namespace

void Scorer::answer(const double* row, std::string& out) const {
  with_proba(*this, row, [&](const double* proba) { append_answer(proba, out); });
}

void Scorer::append_why(const double* row, std::size_t output, std::string& out) const {
  const std::size_t d = names_.size();
  constexpr std::size_t kInline = 64;
  double inline_parts[kInline + 1];
  std::size_t inline_order[kInline];
  std::vector<double> heap_parts;
  std::vector<std::size_t> heap_order;
  double* parts = inline_parts;
  std::size_t* order = inline_order;
  if (d > kInline) {
    heap_parts.resize(d + 1);
    heap_order.resize(d);
    parts = heap_parts.data();
    order = heap_order.data();
  }
  // The library's exact TreeSHAP for this one class: d pushes, then the expected margin.
  model_.contributions_row(row, d, output, parts);
  for (std::size_t j = 0; j < d; ++j) order[j] = j;
  std::stable_sort(order, order + d, [parts](std::size_t a, std::size_t b) { return std::fabs(parts[a]) > std::fabs(parts[b]); });
  out += "{\"place\":";
  out += label_json_[output];
  out += ",\"expected\":";
  append_number(parts[d], out);
  out += ",\"fields\":[";
  for (std::size_t i = 0; i < d; ++i) {
    const std::size_t j = order[i];
    if (i) out += ',';
    out += "{\"field\":";
    out += name_json_[j];
    out += ",\"value\":";
    const double value = row[j];
    const std::vector<std::string>& shown_values = shown_json_[j];
    if (!std::isnan(value) && value >= 0 && value < static_cast<double>(shown_values.size()) &&
        value == std::floor(value))
      out += shown_values[static_cast<std::size_t>(value)];  // shown() of a category, built once
    else
      out += nlohmann::json(shown(j, value)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += ",\"contribution\":";
    append_number(parts[j], out);
    out += '}';
  }
  out += "]}";
}

void Scorer::append_explained(const double* row, const double* proba, std::string& out) const {
  out += "{\"places\":";
  const std::size_t top = append_answer(proba, out);
  out += ",\"why\":";
  append_why(row, top, out);
  out += '}';
}

void Scorer::answer_explained(const double* row, std::string& out) const {
  with_proba(*this, row, [&](const double* proba) { append_explained(row, proba, out); });
}

std::string Scorer::shown(std::size_t column, double encoded) const {
  if (std::isnan(encoded)) return "not given";
  const floresta::Feature& feature = model_.schema().features[column];
  if (!feature.is_categorical() || feature.string_categories.empty() || encoded < 0 ||
      encoded >= static_cast<double>(feature.string_categories.size())) {
    std::string text;
    append_number(encoded, text);
    return text;
  }
  const std::string& category = feature.string_categories[static_cast<std::size_t>(encoded)];
  for (const auto& [key, name] : feature.input.display)
    if (key == category) return name;
  return category;
}

bool Scorer::few_reports(std::size_t column, double encoded) const {
  const floresta::Feature& feature = model_.schema().features[column];
  if (std::isnan(encoded) || feature.string_categories.empty() || !metadata_.contains("few_reports")) return false;
  const nlohmann::json& few = metadata_["few_reports"];
  if (!few.contains(feature.name) || encoded < 0 || encoded >= static_cast<double>(feature.string_categories.size())) return false;
  const std::string& category = feature.string_categories[static_cast<std::size_t>(encoded)];
  for (const auto& value : few[feature.name])
    if (value.is_string() && value.get_ref<const std::string&>() == category) return true;
  return false;
}

nlohmann::json Scorer::schema_json() const {
  const nlohmann::json few = metadata_.value("few_reports", nlohmann::json::object());
  nlohmann::json fields = nlohmann::json::array();
  for (std::size_t j = 0; j < names_.size(); ++j) {
    const floresta::Feature& feature = model_.schema().features[j];
    const floresta::InputRule& rule = feature.input;
    nlohmann::json entry = {{"name", feature.name}, {"optional", static_cast<bool>(optional_[j])}};
    if (!feature.is_categorical()) {
      entry["type"] = "numeric";
      const auto own = ranges_.find(j);
      // The tighter of the model's rule and the service's own range.
      std::optional<double> lo = rule.min, hi = rule.max;
      if (own != ranges_.end()) {
        lo = lo ? std::max(*lo, own->second.min) : own->second.min;
        hi = hi ? std::min(*hi, own->second.max) : own->second.max;
      }
      if (lo) entry["min"] = *lo;
      if (hi) entry["max"] = *hi;
    } else {
      entry["type"] = "categorical";
      entry["values"] = !feature.string_categories.empty() ? nlohmann::json(feature.string_categories)
                                                           : nlohmann::json(feature.number_categories);
      if (!rule.display.empty()) {
        nlohmann::json display = nlohmann::json::object();
        for (const auto& [category, name] : rule.display) display[category] = name;
        entry["display"] = display;
      }
      if (!rule.aliases.empty()) entry["aliases"] = rule.aliases.size();
      if (rule.otherwise) entry["otherwise"] = *rule.otherwise;
      if (few.contains(feature.name)) entry["few_reports"] = few[feature.name];
    }
    fields.push_back(std::move(entry));
  }
  nlohmann::json schema = {{"fields", fields}, {"labels", labels_}};
  if (!city_average_.empty()) schema["city_average"] = city_average_;
  if (metadata_.contains("model_card")) schema["model_card"] = metadata_["model_card"];
  return schema;
}

namespace {

// A person is an object of values (depth 1, a batch 2); a value that is itself an array or an
// object is refused by the scorer, quoting it. nlohmann's parser keeps its own stack, but
// dump() (the quote) recurses: a field nested 400,000 deep overflowed the worker's stack
// (SIGSEGV). So deeper bodies are refused before they are parsed, in one pass over the bytes.
constexpr int kMaxJsonDepth = 32;

bool nested_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

Problem problem_of(int status, std::string rule, std::string message) {
  Problem p;
  p.status = status;
  p.rule = std::move(rule);
  p.message = std::move(message);
  return p;
}

}  // namespace

bool Scorer::answer_body(std::string_view text, bool explain, std::size_t max_batch, std::string& out, std::size_t& people,
                         Problem& problem) const {
  people = 0;
  if (text.empty()) {
    problem = problem_of(400, "json", "malformed JSON: the body is empty (expected a JSON object, or an array of them)");
    return false;
  }
  if (nested_too_deep(text)) {
    problem = problem_of(400, "json", "malformed JSON: nested deeper than " + std::to_string(kMaxJsonDepth) +
                                          " levels (a person is an object of plain values; a batch, an array of them)");
    return false;
  }
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    const auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    if (what.size() > 300) what = what.substr(0, 297) + "...";  // its "last read" quotes the token: 200 KB of digits, say
    problem = problem_of(400, "json", "malformed JSON: " + what);
    return false;
  }
  const bool batch = body.is_array();
  if (!batch && !body.is_object()) {
    problem = problem_of(400, "body", "the body must be a JSON object (one person) or an array of them");
    return false;
  }
  const std::size_t n = batch ? body.size() : 1;
  if (batch && n > max_batch) {
    problem = problem_of(413, "batch_size", "the batch has " + std::to_string(n) + " people, the limit is " + std::to_string(max_batch));
    return false;
  }
  const std::size_t d = num_fields();
  std::vector<double> rows(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    if (!encode(batch ? body[i] : body, rows.data() + i * d, problem)) {
      if (batch) {
        problem.index = static_cast<long>(i);
        problem.message = "[" + std::to_string(i) + "] " + problem.message;
      }
      return false;
    }
  }
  // explain=1 on a model whose file carries no node covers (it still predicts): 409, the
  // request conflicts with the model being served (a reload may bring one that explains).
  if (explain && !can_explain()) {
    problem = problem_of(409, "explain", "the model being served cannot explain its answers (ask without explain=1): " +
                                             explain_refusal());
    return false;
  }
  if (!batch) {
    out.reserve(64 * num_classes() + (explain ? 96 * d + 64 : 16));
    if (explain) answer_explained(rows.data(), out);
    else answer(rows.data(), out);
    people = 1;
    return true;
  }
  const std::size_t k = num_classes();
  std::vector<double> proba(n * k);
  if (n > 0) score(rows.data(), n, proba.data());
  out.reserve(n * (64 * k + 16 + (explain ? 96 * d + 64 : 0)) + 2);
  out += '[';
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    if (explain) append_explained(rows.data() + i * d, proba.data() + i * k, out);
    else append_answer(proba.data() + i * k, out);
  }
  out += ']';
  people = n;
  return true;
}

}  // namespace phone_theft
