// src/preprocess_eval.hpp — applying a model's Preprocessing (floresta/preprocess.hpp) to
// raw input rows. Internal: the public header holds only the description a spec carries.
#pragma once

#include <cstddef>

#include "floresta/preprocess.hpp"

namespace floresta::detail {

// One raw row (values col_stride elements apart, read at each column's input index) ->
// one estimator row of pre.columns.size() values. Throws floresta::Error for a missing or
// unknown category that a lookup table refuses.
void preprocess_row(const Preprocessing& pre, const float* raw, std::ptrdiff_t col_stride, double* out);
void preprocess_row(const Preprocessing& pre, const double* raw, std::ptrdiff_t col_stride, double* out);

}  // namespace floresta::detail
