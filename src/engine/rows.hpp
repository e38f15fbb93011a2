// src/engine/rows.hpp — the rows a kernel scores: a MatrixView's pointer and strides
// (floresta/matrix.hpp), as the engine's own type. The engine includes no API header with
// functions of its own: a public template's member compiled in a vector unit could be the
// out-of-line copy the linker keeps for every caller (kernel.hpp), so these accessors are
// always inlined and the Model layer (src/model.cpp) makes Rows from the caller's view.
#pragma once

#include <cstddef>

#include "engine/quantized.hpp"  // FLORESTA_ALWAYS_INLINE

namespace floresta::detail {

template <class T>
struct Rows {
  const T* data = nullptr;
  std::ptrdiff_t row_stride = 0;  // elements between X(i, j) and X(i + 1, j)
  std::ptrdiff_t col_stride = 1;  // elements between X(i, j) and X(i, j + 1)

  FLORESTA_ALWAYS_INLINE const T* row(std::size_t i) const { return data + static_cast<std::ptrdiff_t>(i) * row_stride; }
  FLORESTA_ALWAYS_INLINE bool contiguous_rows() const { return col_stride == 1; }
};

}  // namespace floresta::detail
