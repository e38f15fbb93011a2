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
// Thread-safety: immutable after loading; apply() is const.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "floresta/error.hpp"

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

  // Raw row (num raw features values) -> estimator row (columns.size() values).
  template <class In>
  void apply(const In* raw, std::ptrdiff_t col_stride, double* out) const {
    for (std::size_t j = 0; j < columns.size(); ++j) {
      const OutputColumn& column = columns[j];
      double x = static_cast<double>(raw[static_cast<std::ptrdiff_t>(column.input) * col_stride]);
      for (const Step& step : column.steps) x = apply_step(step, x);
      out[j] = x;
    }
  }

 private:
  double apply_step(const Step& step, double x) const {
    switch (step.kind) {
      case StepKind::kStandardize:
        return (x - step.a) / step.b;
      case StepKind::kScaleShift:
        return x * step.a + step.b;
      case StepKind::kClip:
        return std::isnan(x) ? x : std::min(std::max(x, step.a), step.b);
      case StepKind::kImpute:
        return std::isnan(x) ? step.a : x;
      case StepKind::kMissingIndicator:
        return std::isnan(x) ? 1.0 : 0.0;
      case StepKind::kLookupCode: {
        const LookupTable& t = tables[step.table];
        if (std::isnan(x)) return missing(t);
        if (x >= 0 && x < static_cast<double>(t.values.size()) && std::floor(x) == x)
          return t.values[static_cast<std::size_t>(x)];
        return unknown(t, x);
      }
      case StepKind::kLookupValue: {
        const LookupTable& t = tables[step.table];
        if (std::isnan(x)) return missing(t);
        const auto it = std::lower_bound(t.keys.begin(), t.keys.end(), x);
        if (it != t.keys.end() && *it == x) return t.values[static_cast<std::size_t>(it - t.keys.begin())];
        return unknown(t, x);
      }
    }
    return x;
  }
  static double missing(const LookupTable& t) {
    if (t.missing_is_error) detail::fail(t.name, ": missing value, and the encoder was fitted without missing values");
    return t.missing;
  }
  static double unknown(const LookupTable& t, double x) {
    if (t.unknown_is_error) detail::fail(t.name, ": unknown category (code ", x, ") and the encoder refuses unknown categories");
    return t.unknown;
  }
};

}  // namespace floresta
