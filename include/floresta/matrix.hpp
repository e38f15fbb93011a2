// floresta/matrix.hpp — MatrixView, a non-owning view of a dense 2-D array of inputs.
//
// Strides are in elements, so row-major (C), column-major (Fortran) and sliced numpy or
// Eigen arrays are all scored in place without a copy.
//
//   std::vector<float> X(n * d);
//   auto view = floresta::MatrixView<float>::row_major(X.data(), n, d);
//
// Thread-safety: a view is a value; the data it points to must outlive its use.
#pragma once

#include <cstddef>

namespace floresta {

template <class T>
struct MatrixView {
  const T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::ptrdiff_t row_stride = 0;  // elements between X(i, j) and X(i + 1, j)
  std::ptrdiff_t col_stride = 1;  // elements between X(i, j) and X(i, j + 1)

  static MatrixView row_major(const T* data, std::size_t rows, std::size_t cols) {
    return {data, rows, cols, static_cast<std::ptrdiff_t>(cols), 1};
  }
  static MatrixView column_major(const T* data, std::size_t rows, std::size_t cols) {
    return {data, rows, cols, 1, static_cast<std::ptrdiff_t>(rows)};
  }
  const T* row(std::size_t i) const { return data + static_cast<std::ptrdiff_t>(i) * row_stride; }
  bool contiguous_rows() const { return col_stride == 1; }
};

}  // namespace floresta
