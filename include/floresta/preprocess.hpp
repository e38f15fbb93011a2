// floresta/preprocess.hpp — the preprocessing a model carries in front of its estimator.
//
// scikit-learn pipelines (ColumnTransformer, scalers, imputers, ordinal and one-hot encoders)
// are compiled into one plan: every column the estimator sees is one raw input column passed
// through a short chain of elementwise steps. A one-hot block is one column per category,
// each a lookup that answers 1 for its category; an ordinal encoder is one lookup. Floating
// point operations are the ones scikit-learn performs, in its order, so results agree to the bit.
//
// Raw input values: numbers for numeric features; for categorical features, the code of the
// category in the feature's vocabulary (Schema), NaN when missing, -1 when the category is
// not in the vocabulary (records and DataFrames are encoded that way by floresta itself).
//
// These types are the description a ModelSpec carries; the library applies it to every row
// before the estimator, and a lookup table that refuses a missing or unknown category makes
// scoring throw floresta::Error.
//
// Thread-safety: immutable after loading.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace floresta {

enum class StepKind : uint8_t {
  kStandardize,       // (x - a) / b                      StandardScaler
  kScaleShift,        // x * a + b                        MinMaxScaler
  kClip,              // min(max(x, a), b)                MinMaxScaler(clip=True)
  kImpute,            // NaN -> a                         SimpleImputer
  kMissingIndicator,  // NaN ? 1 : 0                      SimpleImputer(add_indicator=True)
  kLookupCode,        // tables[table].values[code]       encoders over category codes
  kLookupValue,       // value -> tables[table].values[i] where keys[i] == value (numeric categories)
};

struct LookupTable {
  std::vector<double> keys;    // kLookupValue: sorted category values
  std::vector<double> values;  // result per code (or per key)
  double missing = 0;          // result for NaN
  double unknown = 0;          // result for a category outside the table
  bool unknown_is_error = false;
  bool missing_is_error = false;
  std::string name;            // for messages: "OneHotEncoder on 'marca'"
};

struct Step {
  StepKind kind = StepKind::kStandardize;
  double a = 0;
  double b = 1;
  uint32_t table = 0;
};

struct OutputColumn {
  uint32_t input = 0;  // raw input column
  std::vector<Step> steps;
};

struct Preprocessing {
  std::vector<OutputColumn> columns;  // one per estimator feature
  std::vector<LookupTable> tables;

  bool empty() const { return columns.empty(); }
};

}  // namespace floresta
