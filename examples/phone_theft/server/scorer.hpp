// scorer.hpp — a person (the JSON object of POST /predict) checked against a model's schema,
// encoded into the model's input row and answered as the 10 places, most likely first.
//
//   phone_theft::Scorer scorer(floresta::load("phone_theft.json"));
//   phone_theft::Problem problem;
//   std::vector<double> row(scorer.num_fields());
//   if (!scorer.encode(nlohmann::json::parse(body), row.data(), problem)) reply(problem.status, problem.to_json());
//   std::string answer;
//   scorer.answer(row.data(), answer);   // [{"position":1,"label":"Via Pública","value":0.87},...]
//
// The fields are the model's features, by name: a categorical feature takes one of the values
// of its training vocabulary (a JSON string, or a number for numeric categories), a numeric
// feature a JSON number, inside its range when one is set (`idade` defaults to 0..120). Every
// field is required. A value outside the vocabulary is refused (422, rule "vocabulary");
// nothing is ever scored as a silent guess. Fields the model does not know are ignored.
//
// Thread-safety: a Scorer is immutable after construction; every member function is const.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <floresta/floresta.hpp>
#include <nlohmann/json.hpp>

namespace phone_theft {

// A request the server refuses: the HTTP status, the field and the rule it breaks, in words.
struct Problem {
  int status = 422;
  std::string field;    // empty when the problem is not about one field
  std::string rule;     // json, body, required, type, range, vocabulary, batch_size, ...
  std::string message;  // names the field, the rule and the value
  long index = -1;      // position in a batch (array) request, -1 for a single person

  nlohmann::json to_json() const;
};

struct Range {
  double min = 0;
  double max = 0;
};

// The documented default rule: ages from 0 to 120 years.
std::map<std::string, Range> default_ranges();

class Scorer {
 public:
  // Throws floresta::Error when the model cannot serve people: not a classifier, a
  // categorical feature without a vocabulary, or a range for a non-numeric feature.
  explicit Scorer(floresta::Model model, std::map<std::string, Range> ranges = default_ranges());

  const floresta::Model& model() const { return model_; }
  std::size_t num_fields() const { return fields_.size(); }
  std::size_t num_classes() const { return labels_.size(); }
  const std::vector<std::string>& labels() const { return labels_; }

  // Checks one person (a JSON object) and writes its input row (num_fields() values).
  // On a problem returns false and fills `problem` (its index is left to the caller).
  bool encode(const nlohmann::json& person, double* row, Problem& problem) const;

  // Probabilities of `rows` encoded rows (rows x num_fields()) into proba (rows x num_classes()).
  void score(const double* rows, std::size_t n, double* proba) const;

  // Appends one answer, the JSON array of {"position","label","value"} most likely first
  // (ties: the lower class index first), to `out`. `proba` is one row of score().
  void append_answer(const double* proba, std::string& out) const;

  // Encodes and scores one row, appending the answer: the allocation-light path of a single person.
  void answer(const double* row, std::string& out) const;

  // Every field: its name, type and allowed values (or range); the labels.
  nlohmann::json schema_json() const;

 private:
  struct Field {
    std::string name;
    enum class Kind { kNumeric, kStringCategory, kNumberCategory } kind = Kind::kNumeric;
    std::unordered_map<std::string, double> string_codes;
    std::vector<double> number_values;  // code = position
    bool has_range = false;
    Range range;
  };

  bool encode_field(const Field& field, const nlohmann::json& value, double& out, Problem& problem) const;

  floresta::Model model_;
  std::vector<Field> fields_;
  std::vector<std::string> labels_;
  std::vector<std::string> label_json_;  // each label as a JSON string literal, quotes included
};

// A double in its shortest round-trip form (what JSON readers parse back to the same double).
void append_number(double value, std::string& out);

}  // namespace phone_theft
