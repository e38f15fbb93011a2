// The preprocessing evaluator (preprocess_eval.hpp): each estimator column is one raw input
// column through its chain of steps, in scikit-learn's floating point order.
#include "preprocess_eval.hpp"

#include <algorithm>
#include <cmath>

#include "fail.hpp"

namespace floresta::detail {
namespace {

double missing(const LookupTable& t) {
  if (t.missing_is_error) fail(t.name, ": missing value, and the encoder was fitted without missing values");
  return t.missing;
}

double unknown(const LookupTable& t, double x) {
  if (t.unknown_is_error) fail(t.name, ": unknown category (code ", x, ") and the encoder refuses unknown categories");
  return t.unknown;
}

double apply_step(const Preprocessing& pre, const Step& step, double x) {
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
      const LookupTable& t = pre.tables[step.table];
      if (std::isnan(x)) return missing(t);
      if (x >= 0 && x < static_cast<double>(t.values.size()) && std::floor(x) == x)
        return t.values[static_cast<std::size_t>(x)];
      return unknown(t, x);
    }
    case StepKind::kLookupValue: {
      const LookupTable& t = pre.tables[step.table];
      if (std::isnan(x)) return missing(t);
      const auto it = std::lower_bound(t.keys.begin(), t.keys.end(), x);
      if (it != t.keys.end() && *it == x) return t.values[static_cast<std::size_t>(it - t.keys.begin())];
      return unknown(t, x);
    }
  }
  return x;
}

template <class In>
void apply_columns(const Preprocessing& pre, const In* raw, std::ptrdiff_t col_stride, double* out) {
  for (std::size_t j = 0; j < pre.columns.size(); ++j) {
    const OutputColumn& column = pre.columns[j];
    double x = static_cast<double>(raw[static_cast<std::ptrdiff_t>(column.input) * col_stride]);
    for (const Step& step : column.steps) x = apply_step(pre, step, x);
    out[j] = x;
  }
}

}  // namespace

void preprocess_row(const Preprocessing& pre, const float* raw, std::ptrdiff_t col_stride, double* out) {
  apply_columns(pre, raw, col_stride, out);
}

void preprocess_row(const Preprocessing& pre, const double* raw, std::ptrdiff_t col_stride, double* out) {
  apply_columns(pre, raw, col_stride, out);
}

}  // namespace floresta::detail
