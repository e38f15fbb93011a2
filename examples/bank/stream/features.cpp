#include "features.hpp"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "bank_definition.hpp"

namespace bank {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;

double radians(double degrees) { return degrees * (kPi / 180.0); }

// features.json's "haversine".
double haversine_km(double lat1, double lon1, double lat2, double lon2, double radius) {
  const double p1 = radians(lat1), p2 = radians(lat2);
  const double a = std::pow(std::sin((p2 - p1) / 2), 2) +
                   std::cos(p1) * std::cos(p2) * std::pow(std::sin((radians(lon2) - radians(lon1)) / 2), 2);
  return 2 * radius * std::asin(std::sqrt(std::min(std::max(a, 0.0), 1.0)));
}

}  // namespace

FeatureDefinition FeatureDefinition::parse(const std::string& json_text) {
  const nlohmann::json doc = nlohmann::json::parse(json_text);
  const nlohmann::json& p = doc.at("parameters");
  FeatureDefinition d;
  d.utc_offset_seconds = p.at("utc_offset_seconds").get<int64_t>();
  d.history = p.at("history").get<std::size_t>();
  d.min_history = p.at("min_history").get<int64_t>();
  d.min_history_hours = p.at("min_history_hours").get<int64_t>();
  d.hour_band_hours = p.at("hour_band_hours").get<double>();
  d.window_short_seconds = p.at("window_short_seconds").get<int64_t>();
  d.window_long_seconds = p.at("window_long_seconds").get<int64_t>();
  d.earth_radius_km = p.at("earth_radius_km").get<double>();
  d.amount_sd_floor = p.at("amount_sd_floor").get<double>();
  for (const auto& type : p.at("credit_types")) d.credit_types.insert(type.get<std::string>());
  for (const auto& f : doc.at("fraud_features")) d.names.push_back(f.at("name").get<std::string>());
  if (d.names.size() != 4 + kNumericFeatures)
    throw std::runtime_error("features.json lists " + std::to_string(d.names.size()) + " fraud features; this program computes " +
                             std::to_string(4 + kNumericFeatures));
  return d;
}

const FeatureDefinition& FeatureDefinition::built_in() {
  static const FeatureDefinition definition = parse(kFeaturesJson);
  return definition;
}

floresta::Record Features::record(const Transaction& t, const FeatureDefinition& d) const {
  floresta::Record r;
  r.fields.reserve(d.names.size());
  r.set(d.names[0], t.transacao).set(d.names[1], t.categoria).set(d.names[2], t.metodo).set(d.names[3], t.valor);
  for (std::size_t k = 0; k < kNumericFeatures; ++k) {
    if (std::isnan(values[k])) r.set(d.names[4 + k], floresta::missing);
    else r.set(d.names[4 + k], values[k]);
  }
  return r;
}

Features FeatureState::compute(const Transaction& t) const {
  static const CustomerState empty;
  const auto found = customers_.find(t.customer);
  const CustomerState& s = found == customers_.end() ? empty : found->second;
  if (s.last_t && t.timestamp <= *s.last_t)
    throw BadRecord("timestamp: " + std::to_string(t.timestamp) + " is not after the customer's last (" +
                    std::to_string(*s.last_t) + ")");
  Features f;
  auto& v = f.values;
  v.fill(kNaN);
  const int64_t local = ((t.timestamp + d_.utc_offset_seconds) % 86400 + 86400) % 86400;
  const double hour = static_cast<double>(local) / 3600.0;
  v[kHour] = hour;
  v[kNPrevious] = static_cast<double>(s.count);
  if (s.count) v[kSecondsSinceLast] = static_cast<double>(t.timestamp - *s.last_t);

  const std::size_t n = s.history.size();
  if (s.count >= d_.min_history) {
    // sums over the last `history`, most recent first (the order the Python definition adds in)
    double sum_log = 0, sum_valor = 0;
    for (auto it = s.history.rbegin(); it != s.history.rend(); ++it) {
      sum_log += std::log1p(it->valor);
      sum_valor += it->valor;
    }
    const double mean = sum_log / static_cast<double>(n);
    double squares = 0;
    for (auto it = s.history.rbegin(); it != s.history.rend(); ++it) squares += std::pow(std::log1p(it->valor) - mean, 2);
    const double sd = std::sqrt(squares / static_cast<double>(n));
    v[kAmountZ] = (std::log1p(t.valor) - mean) / (sd + d_.amount_sd_floor);
    const double mean_valor = sum_valor / static_cast<double>(n);
    if (mean_valor > 0) v[kAmountRatio] = t.valor / mean_valor;
  }

  double count_short = 0, sum_short = 0, count_long = 0, sum_long = 0, new_long = 0;
  for (auto it = s.window.rbegin(); it != s.window.rend(); ++it) {  // most recent first
    if (it->t > t.timestamp - d_.window_long_seconds) {
      count_long += 1;
      sum_long += it->valor;
      new_long += it->new_beneficiary ? 1.0 : 0.0;
    }
    if (it->t > t.timestamp - d_.window_short_seconds) {
      count_short += 1;
      sum_short += it->valor;
    }
  }
  v[kCount10m] = count_short;
  v[kSum10m] = sum_short;
  v[kCount1h] = count_long;
  v[kSum1h] = sum_long;
  v[kNewBeneficiaries1h] = new_long;

  if (t.device) {
    const auto first = s.devices.find(*t.device);
    v[kNewDevice] = first == s.devices.end() ? 1.0 : 0.0;
    v[kDeviceAgeH] = first == s.devices.end() ? 0.0 : static_cast<double>(t.timestamp - first->second) / 3600.0;
  }
  if (t.beneficiary) v[kNewBeneficiary] = s.beneficiaries.count(*t.beneficiary) ? 0.0 : 1.0;
  if (n) {
    double sum_lat = 0, sum_lon = 0;
    for (auto it = s.history.rbegin(); it != s.history.rend(); ++it) {
      sum_lat += it->latitude;
      sum_lon += it->longitude;
    }
    v[kDistanceHomeKm] = haversine_km(t.latitude, t.longitude, sum_lat / static_cast<double>(n),
                                      sum_lon / static_cast<double>(n), d_.earth_radius_km);
    v[kDistanceLastKm] = haversine_km(t.latitude, t.longitude, s.last_latitude, s.last_longitude, d_.earth_radius_km);
  }
  if (s.count >= d_.min_history_hours) {
    const auto band = s.bands.find(static_cast<int64_t>(std::floor(hour / d_.hour_band_hours)));
    v[kHourShare] = static_cast<double>(band == s.bands.end() ? 0 : band->second) / static_cast<double>(s.count);
  }
  if (s.count) v[kBalanceRatio] = t.valor / (std::max(s.last_saldo, 0.0) + 1.0);
  if (s.last_credit) v[kHoursSinceCredit] = static_cast<double>(t.timestamp - *s.last_credit) / 3600.0;
  return f;
}

void FeatureState::update(const Transaction& t, const Features& f) {
  CustomerState& s = customers_[t.customer];
  while (!s.window.empty() && s.window.front().t <= t.timestamp - d_.window_long_seconds) s.window.pop_front();
  s.window.push_back({t.timestamp, t.valor, f.values[kNewBeneficiary] == 1.0});
  s.history.push_back({t.valor, t.latitude, t.longitude});
  if (s.history.size() > d_.history) s.history.pop_front();
  if (t.device) s.devices.emplace(*t.device, t.timestamp);
  if (t.beneficiary) s.beneficiaries.insert(*t.beneficiary);
  ++s.bands[static_cast<int64_t>(std::floor(f.values[kHour] / d_.hour_band_hours))];
  ++s.count;
  s.last_t = t.timestamp;
  s.last_saldo = t.saldo;
  s.last_latitude = t.latitude;
  s.last_longitude = t.longitude;
  if (d_.credit_types.count(t.transacao) && t.status == "Concluída") s.last_credit = t.timestamp;
}

}  // namespace bank
