#include "scorer.hpp"

#include <cmath>
#include <fstream>
#include <variant>

namespace bank {

SegmentTable SegmentTable::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw floresta::Error(path + ": cannot open");
  SegmentTable table;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      const std::string customer = j.at("id_cliente").get<std::string>();
      table.segments_[customer] = {j.at("segment_id").get<long long>(), j.at("segment_name").get<std::string>()};
    } catch (const std::exception& error) {
      throw floresta::Error(path + ": line " + std::to_string(number) + ": " + error.what());
    }
  }
  return table;
}

const SegmentTable::Segment& SegmentTable::of(const std::string& customer) const {
  static const Segment none;
  const auto it = segments_.find(customer);
  return it == segments_.end() ? none : it->second;
}

double alert_threshold(const floresta::Model& model, const std::string& path) {
  const nlohmann::json metadata = model.metadata().empty() ? nlohmann::json::object() : nlohmann::json::parse(model.metadata());
  const auto it = metadata.find("alert_threshold");
  if (it == metadata.end() || !it->is_number())
    throw floresta::Error(path + ": the model file's metadata has no numeric alert_threshold");
  return it->get<double>();
}

FraudScorer::FraudScorer(const std::string& model_path, SegmentTable segments, std::size_t reasons,
                         const FeatureDefinition& definition)
    : definition_(definition), model_(floresta::load(model_path)), reasons_(reasons), segments_(std::move(segments)),
      state_(definition) {
  threshold_ = alert_threshold(model_, model_path);
  if (!model_.is_classifier() || model_.class_labels().size() != 2)
    throw floresta::Error(model_path + ": not a binary classifier");
  for (const std::string& name : model_.feature_names()) {
    bool known = false;
    for (const std::string& defined : definition_.names) known = known || defined == name;
    if (!known) throw floresta::Error(model_path + ": the model expects '" + name + "', which features.json does not define");
  }
  if (reasons_ > 0 && !model_.can_explain())
    throw floresta::Error(model_path + ": cannot give alerts' reasons (--reasons 0 turns them off): " + model_.explain_refusal());
  // a binary classifier's one margin (gradient boosting), or the positive class's of two
  positive_output_ = model_.num_outputs() == 1 ? 0 : 1;
}

void FraudScorer::add(const std::string& entry, Transaction transaction) {
  if (reject_unknown_ && !segments_.contains(transaction.customer)) {
    const std::string& id = transaction.customer;  // (quoted at most 64 bytes: it is the sender's text)
    throw BadRecord("id_cliente: unknown customer '" + id.substr(0, 64) + (id.size() > 64 ? "...'" : "'") +
                    " (not in the --segments table)");
  }
  Scored s;
  s.entry = entry;
  s.transaction = std::move(transaction);
  s.features = state_.compute(s.transaction);
  // Encoding errors (an unknown category under a strict policy) leave the state untouched.
  const std::vector<double> row = model_.encode(s.features.record(s.transaction, definition_));
  state_.update(s.transaction, s.features);
  rows_.insert(rows_.end(), row.begin(), row.end());
  pending_.push_back(std::move(s));
}

std::vector<Scored> FraudScorer::score() {
  std::vector<Scored> out;
  out.swap(pending_);
  if (out.empty()) return out;
  const std::vector<double> proba = model_.predict_proba(rows_.data(), out.size(), model_.num_features());
  rows_.clear();
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].probability = proba[2 * i + 1];
    out[i].alert = out[i].probability > threshold_;
    out[i].segment = segments_.of(out[i].transaction.customer);
    if (out[i].alert && reasons_ > 0)  // the record as encoded in add(), rebuilt for the few alerts
      out[i].reasons =
          model_.explain_record(out[i].features.record(out[i].transaction, definition_), reasons_, positive_output_);
  }
  return out;
}

nlohmann::json reasons_json(const Scored& s) {
  nlohmann::json list = nlohmann::json::array();
  for (const floresta::FieldContribution& r : s.reasons) {
    nlohmann::json value;  // null: missing
    if (const double* x = std::get_if<double>(&r.value)) value = *x;
    else if (const std::string* text = std::get_if<std::string>(&r.value)) value = *text;
    list.push_back({{"field", r.field}, {"value", std::move(value)}, {"contribution", r.contribution}});
  }
  return list;
}

nlohmann::json to_json(const Scored& s, const FeatureDefinition& definition, bool with_features) {
  nlohmann::json j = {{"entry", s.entry},
                      {"id_transacao", s.transaction.id},
                      {"id_cliente", s.transaction.customer},
                      {"fraud_probability", s.probability},
                      {"alert", s.alert},
                      {"segment_id", s.segment.id},
                      {"segment_name", s.segment.name}};
  if (!s.reasons.empty()) j["reasons"] = reasons_json(s);
  if (with_features) {
    nlohmann::json f = nlohmann::json::object();
    for (std::size_t k = 0; k < kNumericFeatures; ++k)
      f[definition.names[4 + k]] = std::isnan(s.features.values[k]) ? nlohmann::json() : nlohmann::json(s.features.values[k]);
    j["features"] = std::move(f);
  }
  return j;
}

}  // namespace bank
