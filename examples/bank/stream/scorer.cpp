#include "scorer.hpp"

#include <cmath>
#include <fstream>

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

FraudScorer::FraudScorer(const std::string& model_path, SegmentTable segments, const FeatureDefinition& definition)
    : definition_(definition), model_(floresta::load(model_path)), segments_(std::move(segments)), state_(definition) {
  threshold_ = alert_threshold(model_, model_path);
  if (!model_.is_classifier() || model_.class_labels().size() != 2)
    throw floresta::Error(model_path + ": not a binary classifier");
  for (const std::string& name : model_.feature_names()) {
    bool known = false;
    for (const std::string& defined : definition_.names) known = known || defined == name;
    if (!known) throw floresta::Error(model_path + ": the model expects '" + name + "', which features.json does not define");
  }
}

void FraudScorer::add(const std::string& entry, Transaction transaction) {
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
  }
  return out;
}

nlohmann::json to_json(const Scored& s, const FeatureDefinition& definition, bool with_features) {
  nlohmann::json j = {{"entry", s.entry},
                      {"id_transacao", s.transaction.id},
                      {"id_cliente", s.transaction.customer},
                      {"fraud_probability", s.probability},
                      {"alert", s.alert},
                      {"segment_id", s.segment.id},
                      {"segment_name", s.segment.name}};
  if (with_features) {
    nlohmann::json f = nlohmann::json::object();
    for (std::size_t k = 0; k < kNumericFeatures; ++k)
      f[definition.names[4 + k]] = std::isnan(s.features.values[k]) ? nlohmann::json() : nlohmann::json(s.features.values[k]);
    j["features"] = std::move(f);
  }
  return j;
}

}  // namespace bank
