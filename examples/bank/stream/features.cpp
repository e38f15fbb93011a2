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

// Version 1 (still read): integers and doubles as 8 little-endian bytes, counts and lengths as
// 4. Version 2 (written): integers as varints (zigzag; timestamps as differences from the last
// one), amounts and coordinates as the decimal integers they were written as (the generator's
// and banks' cents, GPS's micro-degrees) when that gives the double back bit for bit, else a
// marker and the 8 bytes: about 40% of version 1's size, which is what Redis hashes, copies into
// its append-only file and fsyncs for every transaction.
constexpr char kStateV1 = 1, kStateV2 = 2;
constexpr int kCents = 2, kMicroDegrees = 6;

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t unzigzag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
// `k` / 10^digits: the one expression both directions use, so a value that passes the
// encoder's check decodes to the same bits.
constexpr double kPow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
double decimal(int64_t k, int digits) { return static_cast<double>(k) / kPow10[digits]; }
// Wrapping differences: any two int64 round-trip (a state's timestamps are not trusted to be close).
int64_t minus(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
int64_t plus(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }

class Writer {
 public:
  void byte(char b) { out_.push_back(b); }
  void varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) out_.push_back(static_cast<char>(v | 0x80));
    out_.push_back(static_cast<char>(v));
  }
  void integer(int64_t v) { varint(zigzag(v)); }
  // An even varint: the decimal integer (zigzag, shifted); 1: the double's 8 bytes follow.
  void real(double x, int digits) {
    const double scaled = x * kPow10[digits];
    if (std::isfinite(scaled) && std::fabs(scaled) < 0x1p52) {
      const int64_t k = std::llround(scaled);
      const double back = decimal(k, digits);
      if (std::memcmp(&back, &x, sizeof x) == 0) return varint(zigzag(k) << 1);
    }
    varint(1);
    out_.append(reinterpret_cast<const char*>(&x), sizeof x);  // x86-64 and aarch64: little-endian
  }
  void text(const std::string& t) {
    varint(t.size());
    out_.append(t);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view in, bool compact) : in_(in), compact_(compact) {}
  char byte() { return *take(1); }
  int64_t integer() {
    if (compact_) return unzigzag(varint());
    int64_t v;
    std::memcpy(&v, take(8), 8);
    return v;
  }
  double real(int digits) {
    if (compact_) {
      const uint64_t v = varint();
      if (v == 1) return raw_double();
      if (v & 1) throw BadRecord("state: a number of an unknown kind");
      return decimal(unzigzag(v >> 1), digits);
    }
    return raw_double();
  }
  // A count of items of at least `item_bytes` each: more than the bytes left is an error, so a
  // damaged count never sizes anything.
  std::size_t count(std::size_t item_bytes) {
    uint64_t n;
    if (compact_) {
      n = varint();
    } else {
      uint32_t v;
      std::memcpy(&v, take(4), 4);
      n = v;
    }
    if (n > (in_.size() - at_) / item_bytes) throw BadRecord("state: a count larger than the bytes left");
    return static_cast<std::size_t>(n);
  }
  std::string text() {
    const std::size_t n = count(1);
    return std::string(take(n), n);
  }
  bool compact() const { return compact_; }
  bool done() const { return at_ == in_.size(); }

 private:
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const auto b = static_cast<unsigned char>(byte());
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw BadRecord("state: a number longer than 10 bytes");
  }
  double raw_double() {
    double v;
    std::memcpy(&v, take(8), 8);
    return v;
  }
  const char* take(std::size_t n) {
    if (n > in_.size() - at_) throw BadRecord("state: truncated");
    const char* p = in_.data() + at_;
    at_ += n;
    return p;
  }
  std::string_view in_;
  std::size_t at_ = 0;
  bool compact_;
};

}  // namespace

std::string CustomerState::encode() const {
  Writer w;
  w.byte(kStateV2);
  w.integer(count);
  w.byte(static_cast<char>((last_t ? 1 : 0) | (last_credit ? 2 : 0)));
  const int64_t base = last_t.value_or(0);  // the timestamps below, as differences from it
  w.integer(base);
  w.integer(minus(last_credit.value_or(base), base));
  w.real(last_saldo, kCents);
  w.real(last_latitude, kMicroDegrees);
  w.real(last_longitude, kMicroDegrees);
  w.varint(window.size());
  for (const Recent& r : window) {
    w.integer(minus(r.t, base));
    w.real(r.valor, kCents);
    w.byte(r.new_beneficiary ? 1 : 0);
  }
  w.varint(history.size());
  for (const Place& p : history) {
    w.real(p.valor, kCents);
    w.real(p.latitude, kMicroDegrees);
    w.real(p.longitude, kMicroDegrees);
  }
  w.varint(devices.size());
  for (const auto& [id, t] : devices) {
    w.text(id);
    w.integer(minus(t, base));
  }
  w.varint(beneficiaries.size());
  for (const std::string& b : beneficiaries) w.text(b);
  w.varint(bands.size());
  for (const auto& [band, n] : bands) {
    w.integer(band);
    w.integer(n);
  }
  return w.take();
}

CustomerState CustomerState::decode(std::string_view bytes) {
  if (bytes.empty() || (bytes[0] != kStateV1 && bytes[0] != kStateV2)) throw BadRecord("state: unknown encoding version");
  Reader r(bytes.substr(1), bytes[0] == kStateV2);
  const bool v2 = r.compact();  // (the counts below: each list's smallest item in bytes, by version)
  CustomerState s;
  s.count = r.integer();
  const char flags = r.byte();
  int64_t last_t = r.integer(), last_credit = r.integer();
  const int64_t base = v2 ? last_t : 0;
  last_credit = plus(last_credit, base);
  if (flags & 1) s.last_t = last_t;
  if (flags & 2) s.last_credit = last_credit;
  s.last_saldo = r.real(kCents);
  s.last_latitude = r.real(kMicroDegrees);
  s.last_longitude = r.real(kMicroDegrees);
  for (std::size_t n = r.count(v2 ? 3 : 17); n > 0; --n) {
    const int64_t t = plus(r.integer(), base);
    const double valor = r.real(kCents);
    s.window.push_back({t, valor, r.byte() != 0});
  }
  for (std::size_t n = r.count(v2 ? 3 : 24); n > 0; --n) {
    const double valor = r.real(kCents), latitude = r.real(kMicroDegrees);
    s.history.push_back({valor, latitude, r.real(kMicroDegrees)});
  }
  for (std::size_t n = r.count(v2 ? 2 : 12); n > 0; --n) {
    std::string id = r.text();
    s.devices[std::move(id)] = plus(r.integer(), base);
  }
  for (std::size_t n = r.count(v2 ? 1 : 4); n > 0; --n) s.beneficiaries.insert(r.text());
  for (std::size_t n = r.count(v2 ? 2 : 16); n > 0; --n) {
    const int64_t band = r.integer();
    s.bands[band] = r.integer();
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
