// scorer.hpp — turns transactions into scored records: features by the one definition
// (features.hpp), encoded by floresta's Record API with the model file's vocabularies, scored
// in micro-batches, alerted at the threshold the model file carries.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include <floresta/floresta.hpp>
#include <nlohmann/json.hpp>

#include "features.hpp"
#include "transaction.hpp"

namespace bank {

// Each customer's segment, from the table the nightly segmentation writes (JSON Lines of
// {"id_cliente", "segment_id", "segment_name"}: python -m bank.segments). A customer not in
// the table has segment -1 and an empty name (not segmented yet).
class SegmentTable {
 public:
  SegmentTable() = default;
  static SegmentTable load(const std::string& path);
  struct Segment {
    long long id = -1;
    std::string name;
  };
  const Segment& of(const std::string& customer) const;
  bool contains(const std::string& customer) const { return segments_.count(customer) > 0; }
  std::size_t size() const { return segments_.size(); }

 private:
  std::unordered_map<std::string, Segment> segments_;
};

struct Scored {
  std::string entry;  // where the record came from (a stream entry id, or "line N")
  Transaction transaction;
  Features features;
  double probability = 0;
  bool alert = false;
  SegmentTable::Segment segment;
  // Alerts only, when the scorer gives reasons: the features that moved the fraud margin (the
  // positive class's log-odds) most, largest |contribution| first (exact TreeSHAP by floresta's
  // Model::explain_record), each with its value as scored (the record's: a number, a category's
  // text, or missing) and its signed contribution. Empty for every other record.
  std::vector<floresta::FieldContribution> reasons;
};

// The alert threshold a fraud model file carries (metadata.alert_threshold); floresta::Error
// naming `path` when it has none.
double alert_threshold(const floresta::Model& model, const std::string& path);

class FraudScorer {
 public:
  static constexpr std::size_t kDefaultReasons = 3;

  // Loads the fraud model; floresta::Error when it cannot, or when it lacks the threshold or
  // expects a feature the definition does not give, or `reasons` > 0 and it cannot be
  // explained. `reasons`: how many reason codes each alert carries (0: none).
  explicit FraudScorer(const std::string& model_path, SegmentTable segments = {}, std::size_t reasons = kDefaultReasons,
                       const FeatureDefinition& definition = FeatureDefinition::built_in());

  // Computes the features and takes the transaction into the state; the row waits for
  // score(). BadRecord (the state untouched) for a transaction that cannot be used: with
  // reject_unknown_customers, also one whose customer the segment table does not list.
  void add(const std::string& entry, Transaction transaction);
  // The segment table as the bank's register of customers (--unknown-customers reject): a
  // transaction of a customer not in it is a bad record, not a first transaction.
  void reject_unknown_customers(bool on) { reject_unknown_ = on; }
  std::size_t pending() const { return pending_.size(); }
  // Scores the waiting rows in one call, in the order they were added; explains the alerts
  // among them (only those: the other rows cost nothing more).
  std::vector<Scored> score();
  std::size_t reasons() const { return reasons_; }

  FeatureState& state() { return state_; }

 private:
  const FeatureDefinition& definition_;
  floresta::Model model_;
  double threshold_ = 0;
  std::size_t reasons_ = 0;
  std::size_t positive_output_ = 0;  // the output whose margin is the fraud class's
  bool reject_unknown_ = false;
  SegmentTable segments_;
  FeatureState state_;
  std::vector<Scored> pending_;
  std::vector<double> rows_;
};

// An alert's reasons as a JSON array: [{"field", "value", "contribution"}, ...], largest
// |contribution| first; a value is a number, a text or null (missing). The Redis mode writes
// its compact text as the scored record's field `reasons`.
nlohmann::json reasons_json(const Scored& s);

// The scored record written downstream (JSON object): entry, id_transacao, id_cliente,
// fraud_probability, alert, segment_id, segment_name, on alerts with reasons `reasons`
// (reasons_json), and with `with_features` the model's inputs by name.
nlohmann::json to_json(const Scored& s, const FeatureDefinition& definition, bool with_features);

}  // namespace bank
