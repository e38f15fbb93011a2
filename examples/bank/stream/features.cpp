#include "features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <limits>
#include <ostream>

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

namespace bank {
namespace {

int64_t integer_at(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) throw BadRecord(std::string("state: ") + name + ": not an integer");
  return it->get<int64_t>();
}

double number_at(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number()) throw BadRecord(std::string("state: ") + name + ": not a number");
  return it->get<double>();
}

std::optional<int64_t> optional_at(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return integer_at(j, name);
}

const nlohmann::json& array_at(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_array()) throw BadRecord(std::string("state: ") + name + ": not an array");
  return *it;
}

}  // namespace

nlohmann::json CustomerState::to_json() const {
  nlohmann::json j = {{"count", count}, {"last_saldo", last_saldo}, {"last_latitude", last_latitude},
                      {"last_longitude", last_longitude}};
  j["last_t"] = last_t ? nlohmann::json(*last_t) : nlohmann::json();
  j["last_credit"] = last_credit ? nlohmann::json(*last_credit) : nlohmann::json();
  nlohmann::json w = nlohmann::json::array(), h = nlohmann::json::array(), b = nlohmann::json::array();
  for (const Recent& r : window) w.push_back({r.t, r.valor, r.new_beneficiary ? 1 : 0});
  for (const Place& p : history) h.push_back({p.valor, p.latitude, p.longitude});
  std::vector<std::string> seen(beneficiaries.begin(), beneficiaries.end());
  std::sort(seen.begin(), seen.end());
  j["window"] = std::move(w);
  j["history"] = std::move(h);
  j["beneficiaries"] = seen;
  nlohmann::json d = nlohmann::json::object(), bands_json = nlohmann::json::object();
  for (const auto& [id, t] : devices) d[id] = t;
  for (const auto& [band, n] : bands) bands_json[std::to_string(band)] = n;
  j["devices"] = std::move(d);
  j["bands"] = std::move(bands_json);
  return j;
}

namespace {

// A stored state is as untrusted as a record (anything that reaches Redis can write the keys; a
// saved file can be edited): every field must be one the scorer itself could have written, so
// that the features' arithmetic can neither overflow nor read a value that is not there.
CustomerState checked(CustomerState s) {
  constexpr int64_t kMostCount = int64_t{1} << 53;
  const auto when = [](const char* field, int64_t t) {
    if (t < 0 || t > kLatestTimestamp)
      throw BadRecord(std::string("state: ") + field + ": " + std::to_string(t) + " out of range (1970 to 9999)");
  };
  const auto finite = [](const char* field, double x) {
    if (!std::isfinite(x)) throw BadRecord(std::string("state: ") + field + ": not a finite number");
  };
  if (s.count < 0 || s.count > kMostCount) throw BadRecord("state: count: " + std::to_string(s.count) + " out of range");
  if (s.count > 0 && !s.last_t) throw BadRecord("state: last_t: missing, with count " + std::to_string(s.count));
  if (s.last_t) when("last_t", *s.last_t);
  if (s.last_credit) when("last_credit", *s.last_credit);
  finite("last_saldo", s.last_saldo);
  finite("last_latitude", s.last_latitude);
  finite("last_longitude", s.last_longitude);
  for (const auto& r : s.window) {
    when("window", r.t);
    finite("window", r.valor);
  }
  for (const auto& p : s.history) {
    finite("history", p.valor);
    finite("history", p.latitude);
    finite("history", p.longitude);
  }
  for (const auto& [id, t] : s.devices) when("devices", t);
  for (const auto& [band, n] : s.bands)
    if (band < -kMostCount || band > kMostCount || n < 0 || n > kMostCount)
      throw BadRecord("state: bands: entry " + std::to_string(band) + " = " + std::to_string(n) + " out of range");
  return s;
}

}  // namespace

CustomerState CustomerState::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw BadRecord("state: not a JSON object");
  CustomerState s;
  s.count = integer_at(j, "count");
  s.last_t = optional_at(j, "last_t");
  s.last_credit = optional_at(j, "last_credit");
  s.last_saldo = number_at(j, "last_saldo");
  s.last_latitude = number_at(j, "last_latitude");
  s.last_longitude = number_at(j, "last_longitude");
  for (const auto& r : array_at(j, "window")) {
    if (!r.is_array() || r.size() != 3 || !r[0].is_number_integer() || !r[1].is_number() || !r[2].is_number_integer())
      throw BadRecord("state: window: entries must be [timestamp, valor, 0 or 1]");
    s.window.push_back({r[0].get<int64_t>(), r[1].get<double>(), r[2].get<int64_t>() != 0});
  }
  for (const auto& p : array_at(j, "history")) {
    if (!p.is_array() || p.size() != 3 || !p[0].is_number() || !p[1].is_number() || !p[2].is_number())
      throw BadRecord("state: history: entries must be [valor, latitude, longitude]");
    s.history.push_back({p[0].get<double>(), p[1].get<double>(), p[2].get<double>()});
  }
  for (const auto& b : array_at(j, "beneficiaries")) {
    if (!b.is_string()) throw BadRecord("state: beneficiaries: not a string");
    s.beneficiaries.insert(b.get<std::string>());
  }
  const auto devices = j.find("devices");
  if (devices == j.end() || !devices->is_object()) throw BadRecord("state: devices: not an object");
  for (const auto& [id, t] : devices->items()) {
    if (!t.is_number_integer()) throw BadRecord("state: devices: " + id + ": not a timestamp");
    s.devices[id] = t.get<int64_t>();
  }
  const auto bands = j.find("bands");
  if (bands == j.end() || !bands->is_object()) throw BadRecord("state: bands: not an object");
  for (const auto& [band, n] : bands->items()) {
    char* end = nullptr;
    const long long key = std::strtoll(band.c_str(), &end, 10);
    if (band.empty() || *end != '\0' || !n.is_number_integer()) throw BadRecord("state: bands: bad entry '" + band + "'");
    s.bands[key] = n.get<int64_t>();
  }
  return checked(std::move(s));
}

const CustomerState* FeatureState::find(const std::string& customer) const {
  const auto it = customers_.find(customer);
  return it == customers_.end() ? nullptr : &it->second;
}

namespace {

constexpr char kStateVersion = 1;

class Writer {
 public:
  void byte(char b) { out_.push_back(b); }
  void i64(int64_t v) { raw(&v, 8); }
  void f64(double v) { raw(&v, 8); }
  void u32(std::size_t v) {
    const uint32_t n = static_cast<uint32_t>(v);
    raw(&n, 4);
  }
  void text(const std::string& t) {
    u32(t.size());
    out_.append(t);
  }
  std::string take() { return std::move(out_); }

 private:
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }  // x86-64 and aarch64: little-endian
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  char byte() { return *take(1); }
  int64_t i64() {
    int64_t v;
    std::memcpy(&v, take(8), 8);
    return v;
  }
  double f64() {
    double v;
    std::memcpy(&v, take(8), 8);
    return v;
  }
  std::size_t u32() {
    uint32_t v;
    std::memcpy(&v, take(4), 4);
    return v;
  }
  // A count of items of at least `item_bytes` each: more than the bytes left is an error, so a
  // damaged count never sizes anything.
  std::size_t count(std::size_t item_bytes) {
    const std::size_t n = u32();
    if (n > (in_.size() - at_) / item_bytes) throw BadRecord("state: a count larger than the bytes left");
    return n;
  }
  std::string text() {
    const std::size_t n = count(1);
    return std::string(take(n), n);
  }
  bool done() const { return at_ == in_.size(); }

 private:
  const char* take(std::size_t n) {
    if (n > in_.size() - at_) throw BadRecord("state: truncated");
    const char* p = in_.data() + at_;
    at_ += n;
    return p;
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

}  // namespace

std::string CustomerState::encode() const {
  Writer w;
  w.byte(kStateVersion);
  w.i64(count);
  w.byte(static_cast<char>((last_t ? 1 : 0) | (last_credit ? 2 : 0)));
  w.i64(last_t.value_or(0));
  w.i64(last_credit.value_or(0));
  w.f64(last_saldo);
  w.f64(last_latitude);
  w.f64(last_longitude);
  w.u32(window.size());
  for (const Recent& r : window) {
    w.i64(r.t);
    w.f64(r.valor);
    w.byte(r.new_beneficiary ? 1 : 0);
  }
  w.u32(history.size());
  for (const Place& p : history) {
    w.f64(p.valor);
    w.f64(p.latitude);
    w.f64(p.longitude);
  }
  w.u32(devices.size());
  for (const auto& [id, t] : devices) {
    w.text(id);
    w.i64(t);
  }
  w.u32(beneficiaries.size());
  for (const std::string& b : beneficiaries) w.text(b);
  w.u32(bands.size());
  for (const auto& [band, n] : bands) {
    w.i64(band);
    w.i64(n);
  }
  return w.take();
}

CustomerState CustomerState::decode(std::string_view bytes) {
  Reader r(bytes);
  if (bytes.empty() || r.byte() != kStateVersion) throw BadRecord("state: unknown encoding version");
  CustomerState s;
  s.count = r.i64();
  const char flags = r.byte();
  const int64_t last_t = r.i64(), last_credit = r.i64();
  if (flags & 1) s.last_t = last_t;
  if (flags & 2) s.last_credit = last_credit;
  s.last_saldo = r.f64();
  s.last_latitude = r.f64();
  s.last_longitude = r.f64();
  for (std::size_t n = r.count(17); n > 0; --n) {
    const int64_t t = r.i64();
    const double valor = r.f64();
    s.window.push_back({t, valor, r.byte() != 0});
  }
  for (std::size_t n = r.count(24); n > 0; --n) {
    const double valor = r.f64(), latitude = r.f64();
    s.history.push_back({valor, latitude, r.f64()});
  }
  for (std::size_t n = r.count(12); n > 0; --n) {
    std::string id = r.text();
    s.devices[std::move(id)] = r.i64();
  }
  for (std::size_t n = r.count(4); n > 0; --n) s.beneficiaries.insert(r.text());
  for (std::size_t n = r.count(16); n > 0; --n) {
    const int64_t band = r.i64();
    s.bands[band] = r.i64();
  }
  if (!r.done()) throw BadRecord("state: bytes left after the last field");
  return checked(std::move(s));
}

void FeatureState::save(std::ostream& out) const {
  std::vector<const std::string*> ids;
  for (const auto& entry : customers_) ids.push_back(&entry.first);
  std::sort(ids.begin(), ids.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* id : ids)
    out << nlohmann::json{{"id_cliente", *id}, {"state", customers_.at(*id).to_json()}}.dump() << '\n';
}

void FeatureState::load(std::istream& in, const std::string& name) {
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      const auto id = j.find("id_cliente");
      if (!j.is_object() || id == j.end() || !id->is_string()) throw BadRecord("id_cliente: missing");
      customers_[id->get<std::string>()] = CustomerState::from_json(j.at("state"));
    } catch (const std::exception& error) {
      throw BadRecord(name + ": line " + std::to_string(number) + ": " + error.what());
    }
  }
}

}  // namespace bank
