// features.hpp — the fraud model's inputs by the one definition (examples/bank/bank/features.json,
// built into the program), computed from a transaction and its customer's state: the C++ twin
// of bank/features.py's FeatureState. Tests hold it to the Python definition on the same
// transactions (relative difference at most 1e-9).
//
//   bank::FeatureDefinition definition = bank::FeatureDefinition::built_in();
//   bank::FeatureState state(definition);
//   bank::Features f = state.compute(transaction);   // reads the state
//   state.update(transaction, f);                     // then takes the transaction in
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <floresta/record.hpp>
#include <nlohmann/json.hpp>

#include "transaction.hpp"

namespace bank {

// features.json's parameters and feature names.
struct FeatureDefinition {
  int64_t utc_offset_seconds = 0;
  std::size_t history = 0;
  int64_t min_history = 0, min_history_hours = 0;
  double hour_band_hours = 0;
  int64_t window_short_seconds = 0, window_long_seconds = 0;
  double earth_radius_km = 0, amount_sd_floor = 0;
  std::unordered_set<std::string> credit_types;
  std::vector<std::string> names;  // fraud_features, in order

  static FeatureDefinition parse(const std::string& json_text);
  static const FeatureDefinition& built_in();  // the features.json this program was built with
};

// The numeric features, in features.json's order after the four record fields.
enum Feature : std::size_t {
  kHour, kNPrevious, kSecondsSinceLast, kAmountZ, kAmountRatio, kCount10m, kSum10m, kCount1h, kSum1h,
  kNewDevice, kDeviceAgeH, kNewBeneficiary, kNewBeneficiaries1h, kDistanceHomeKm, kDistanceLastKm,
  kHourShare, kBalanceRatio, kHoursSinceCredit, kNumericFeatures
};

struct Features {
  std::array<double, kNumericFeatures> values{};  // NaN = missing
  // The record with every model input by name (the transaction's own fields and the numbers),
  // as floresta::Model encodes it.
  floresta::Record record(const Transaction& t, const FeatureDefinition& d) const;
};

// One customer's state: what features.json's "state" lists.
struct CustomerState {
  struct Recent {
    int64_t t;
    double valor;
    bool new_beneficiary;
  };
  struct Place {
    double valor, latitude, longitude;
  };
  int64_t count = 0;
  std::optional<int64_t> last_t, last_credit;
  double last_saldo = 0, last_latitude = 0, last_longitude = 0;
  std::deque<Recent> window;   // within window_long_seconds, oldest first
  std::deque<Place> history;   // the last `history`, oldest first
  std::unordered_map<std::string, int64_t> devices;  // id -> first timestamp
  std::unordered_set<std::string> beneficiaries;
  std::unordered_map<int64_t, int64_t> bands;  // hour band -> count

  // The state as JSON (numbers round-trip exactly), and back; from_json checks every field
  // and throws BadRecord naming the one that is wrong.
  nlohmann::json to_json() const;
  static CustomerState from_json(const nlohmann::json& j);
  // The same as compact bytes (what the Redis mode stores: JSON's number printing and parsing
  // cost most of a micro-batch): a version byte, then the fields in a fixed order. Version 2
  // (written): integers as LEB128 varints of their zigzag, the timestamps after last_t as
  // differences from it; amounts (cents) and coordinates (micro-degrees) as an even varint,
  // zigzag(k) << 1 for the value k / 10^digits when that is the double bit for bit, else the
  // varint 1 and the double's 8 little-endian bytes; counts and string lengths as varints.
  // Version 1 (still read: states a previous scorer left in Redis): integers and doubles as 8
  // little-endian bytes, counts and lengths as 4. decode checks every length and throws
  // BadRecord on anything else.
  std::string encode() const;
  static CustomerState decode(std::string_view bytes);
};

class FeatureState {
 public:
  explicit FeatureState(const FeatureDefinition& definition) : d_(definition) {}

  // The features of `t` from its customer's state. BadRecord when `t` is not later than the
  // customer's last transaction (features.json: strictly increasing per customer).
  Features compute(const Transaction& t) const;
  // Takes `t` (with the features compute gave) into its customer's state.
  void update(const Transaction& t, const Features& f);
  // One customer's state (nullptr when unknown), set, and forgetting every customer: the Redis
  // mode loads the states a micro-batch needs and writes back those it changed.
  const CustomerState* find(const std::string& customer) const;
  void set(const std::string& customer, CustomerState state) { customers_[customer] = std::move(state); }
  void clear() { customers_.clear(); }

  // Every customer's state as JSON Lines, {"id_cliente": ..., "state": {...}}, by customer id;
  // load() reads them back (replacing those customers' states). A scorer that saves after a
  // batch and loads before the next scores exactly as one that never stopped.
  void save(std::ostream& out) const;
  void load(std::istream& in, const std::string& name);

 private:
  const FeatureDefinition& d_;
  std::unordered_map<std::string, CustomerState> customers_;
};

}  // namespace bank
