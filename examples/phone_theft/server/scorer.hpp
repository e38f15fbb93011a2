// scorer.hpp — a person (the JSON object of POST /predict) read through the model's own input
// rules, scored, and answered as the 10 places, most likely first, each with its lift against
// the city's average.
//
//   phone_theft::Scorer scorer(floresta::load("phone_theft.json"));
//   phone_theft::Problem problem;
//   std::vector<double> row(scorer.num_fields());
//   if (!scorer.encode(nlohmann::json::parse(body), row.data(), problem)) reply(problem.status, problem.to_json());
//   std::string answer;
//   scorer.answer(row.data(), answer);   // [{"position":1,"label":"Via Pública","value":0.87,"lift":1.0},...]
//   std::string explained;
//   scorer.answer_explained(row.data(), explained);   // {"places":[...the same answer...],"why":{...}}
//
// The fields are the model's features, by name, and each is read by floresta's record encoder
// (Model::encode_value) with the input rules the model file carries: case, accents and spaces
// folded, aliases, ranges — the same reading as the CLI and Python. A field must be present;
// `null` means "not given" and gets the model's answer for a missing value, for the fields the
// model was trained to answer without (the file's metadata.optional_fields; every field when
// the file does not say). A value the rules
// do not take is refused (422 with the library's rule: type, vocabulary or range); nothing is
// scored as a silent guess. Fields the model does not know are ignored. The service may add
// ranges of its own (--range) on top of the model's.
//
// Why (explain=1): the answer's first place explained by the library's exact TreeSHAP
// (Model::contributions_row for that class alone): each field's signed push on the place's
// margin (the class's raw score before the softmax, not a probability) relative to the
// expected margin over the training data (the bias), the fields largest |push| first. The
// pushes plus the expected margin sum to the place's margin.
//
// Thread-safety: a Scorer is immutable after construction; every member function is const.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
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

class Scorer {
 public:
  // Throws floresta::Error when the model cannot serve people: not a classifier, a
  // categorical feature without a vocabulary, a range for a non-numeric feature, or metadata
  // whose city_average does not hold one share per class.
  explicit Scorer(floresta::Model model, std::map<std::string, Range> ranges = {});

  const floresta::Model& model() const { return model_; }
  std::size_t num_fields() const { return names_.size(); }
  std::size_t num_classes() const { return labels_.size(); }
  const std::vector<std::string>& labels() const { return labels_; }

  // Checks one person (a JSON object) and writes its input row (num_fields() values).
  // On a problem returns false and fills `problem` (its index is left to the caller).
  bool encode(const nlohmann::json& person, double* row, Problem& problem) const;

  // Probabilities of `rows` encoded rows (rows x num_fields()) into proba (rows x num_classes()).
  void score(const double* rows, std::size_t n, double* proba) const;

  // Appends one answer, the JSON array of {"position","label","value","lift"} most likely first
  // (ties: the lower class index first; Model::rank_order), to `out`. `lift` is the value over
  // the city's average share of that place (the model file's metadata.city_average), absent
  // when the file has none. `proba` is one row of score(). Returns the class index of the
  // first place (the one append_why explains).
  std::size_t append_answer(const double* proba, std::string& out) const;

  // Scores one encoded row, appending the answer: the allocation-light path of a single person.
  void answer(const double* row, std::string& out) const;

  // Whether answers can be explained (Model::can_explain: the file carries node covers), and
  // when not, why (Model::explain_refusal). The calls below throw floresta::Error otherwise.
  bool can_explain() const { return model_.can_explain(); }
  const std::string& explain_refusal() const { return model_.explain_refusal(); }

  // Appends why class `output` for one encoded row: {"place": its label, "expected": its
  // expected margin (the bias), "fields": [{"field","value","contribution"}, ...]}, every
  // field, largest |contribution| first (ties: schema order, as Model::explain_record);
  // "value" is shown(), "contribution" the signed push in margin units.
  void append_why(const double* row, std::size_t output, std::string& out) const;

  // {"places": <append_answer>, "why": <append_why of the first place>} for one encoded row
  // whose probabilities are `proba` (a row of score()).
  void append_explained(const double* row, const double* proba, std::string& out) const;

  // Scores one encoded row, appending its explained answer (append_explained).
  void answer_explained(const double* row, std::string& out) const;

  // The answer to a POST /predict body (the service's whole reading of it, and what the fuzz
  // harness tests/fuzz/fuzz_phone_theft_request.cpp drives): one person (a JSON object) or a
  // batch (an array of at most `max_batch`), each read by encode(), scored in one call, and
  // answered (explain: each answer {"places", "why"}). Returns true with the JSON in `out` and
  // the number of people answered in `people`; otherwise false with the problem: 400 json (empty,
  // malformed, nested deeper than 32 levels), 400 body (neither object nor array), 413
  // batch_size, 422 a person's field (its index in a batch), 409 explain (no node covers).
  bool answer_body(std::string_view body, bool explain, std::size_t max_batch, std::string& out, std::size_t& people,
                   Problem& problem) const;

  // How an encoded value reads to a person: the category's display name (the model's input
  // rule), the number, or "not given" for a missing value.
  std::string shown(std::size_t column, double encoded) const;
  // Whether a category of the field is marked as having few reports (metadata.few_reports).
  bool few_reports(std::size_t column, double encoded) const;
  // The city's average share of each place (metadata.city_average), empty when the file has none.
  const std::vector<double>& city_average() const { return city_average_; }

  // Every field: its name, type, allowed values with their display names (or range), the
  // values with few reports; the labels, the city's average and the model card.
  nlohmann::json schema_json() const;

 private:
  bool encode_field(std::size_t column, const nlohmann::json& value, double& out, Problem& problem) const;

  floresta::Model model_;
  nlohmann::json metadata_;                   // the model file's metadata object ({} when none)
  std::vector<std::string> names_;            // field names, in column order
  std::map<std::size_t, Range> ranges_;       // the service's own ranges (--range), by column
  std::vector<std::string> labels_;
  std::vector<std::string> label_json_;       // each label as a JSON string literal, quotes included
  std::vector<double> city_average_;          // per class, empty when the file has none
  std::vector<bool> optional_;                // per field: null accepted (metadata.optional_fields; all without it)
  std::vector<std::string> name_json_;        // each field name as a JSON string literal
  std::vector<std::vector<std::string>> shown_json_;  // per field, each category's shown() as a JSON string literal
};

// A double in its shortest round-trip form (what JSON readers parse back to the same double).
void append_number(double value, std::string& out);

}  // namespace phone_theft
