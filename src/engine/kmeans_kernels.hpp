// src/engine/kmeans_kernels.hpp — k-means assignment and distances, portable part: the
// direct loop (nearest_center), rows in lanes register-blocked over rows and centres
// (kmeans_labels_lanes, over a Lanes type: PortableLanes here, Avx2Lanes in kmeans_avx2.hpp),
// and distances.
//
// Assignment follows scikit-learn exactly: label = argmin_j (||c_j||^2 - 2 x.c_j), computed
// in the input's precision, the lowest index winning ties. Distances (transform) are
// computed in double as sum (x - c)^2. Which kernel a call takes is the kmeans plan's choice
// (plans/kmeans.hpp); the AVX2 and AVX-512 kernels are in kmeans_avx2.hpp and
// kmeans_avx512.hpp, float64 batches go through kmeans_labels_gemm (kmeans.cpp).
//
// Kernel code: included only through score.hpp inside a kernel unit's FLORESTA_ISA namespace.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "engine/kmeans.hpp"
#include "engine/rows.hpp"

#ifndef FLORESTA_ISA
#error "engine/kmeans_kernels.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

// Lowest-index argmin of ||c_j||^2 - 2 x.c_j for one row, directly.
template <class T, class In>
std::size_t nearest_center(const KMeans& model, const In* row, std::ptrdiff_t col_stride) {
  const T* C = model.centers(T{}).data();  // raw pointers: no Eigen code in kernel units
  const T* norms = model.norms(T{}).data();
  const std::size_t k = model.num_clusters(), d = model.num_features();
  std::size_t best = 0;
  T best_value = std::numeric_limits<T>::infinity();
  for (std::size_t j = 0; j < k; ++j) {
    T dot = 0;
    for (std::size_t f = 0; f < d; ++f) dot += static_cast<T>(row[static_cast<std::ptrdiff_t>(f) * col_stride]) * C[j * d + f];
    const T value = norms[j] - T(2) * dot;
    if (value < best_value) {
      best_value = value;
      best = j;
    }
  }
  return best;
}

// Rows in lanes, register-blocked (the AVX2 and portable kernels): rows are taken in blocks
// of Lanes::kTiles tiles of Lanes::kRows registers (Lanes::kWidth rows each), written
// feature-major into `columns` (d x R); each tile meets kCentres centres at a time, each
// centre value loaded once per feature feeding kRows multiply-adds and each row value
// kCentres. Every lane sums its row's products in feature order, as nearest_center does.
// The argmin state of the block lives in `best` / `index`, updated tile by tile with the
// centres in increasing order and replaced only by a strictly smaller value: ties keep the
// lowest index, NaN is never chosen.
template <class Lanes, int kC>
inline void kmeans_lanes_tail(std::size_t rest, const KMeans& model, const float* columns, std::size_t R, std::size_t d,
                              std::size_t j0, float* best, int32_t* index) {
  if constexpr (kC >= 1) {
    if (rest == kC) Lanes::template tile<kC>(model, columns, R, d, j0, best, index);
    else kmeans_lanes_tail<Lanes, kC - 1>(rest, model, columns, R, d, j0, best, index);
  }
}

template <class Lanes>
void kmeans_labels_lanes(const KMeans& model, const Rows<float>& X, std::size_t begin, std::size_t end, double* out) {
  constexpr std::size_t kTileRows = Lanes::kRows * Lanes::kWidth, R = kTileRows * Lanes::kTiles;
  constexpr std::size_t kC = static_cast<std::size_t>(Lanes::kCentres);
  const std::size_t k = model.num_clusters(), d = model.num_features();
  // new[], not a std::vector: see kernel.hpp on shared templates in kernel units.
  const std::unique_ptr<float[]> columns(new float[d * R]);
  alignas(64) float best[R];
  alignas(64) int32_t index[R];
  for (std::size_t b = begin; b < end; b += R) {
    const std::size_t n = std::min(R, end - b);
    const std::size_t tiles = (n + kTileRows - 1) / kTileRows;
    Lanes::gather_columns(X, b, n, tiles * kTileRows, d, R, columns.get());
    // The next block's rows, one cache line at a time, while this one is scored: the rows
    // stream from memory once, and waiting for them otherwise costs as much as the products.
    if (X.col_stride == 1)
      for (std::size_t r = b + R; r < std::min(b + 2 * R, end); ++r)
        for (std::size_t f = 0; f < d; f += 64 / sizeof(float)) __builtin_prefetch(X.row(r) + f);
    std::fill_n(best, R, std::numeric_limits<float>::infinity());
    std::fill_n(index, R, 0);
    std::size_t j = 0;
    for (; j + kC <= k; j += kC)
      for (std::size_t t = 0; t < tiles; ++t)
        Lanes::template tile<Lanes::kCentres>(model, columns.get() + t * kTileRows, R, d, j, best + t * kTileRows,
                                              index + t * kTileRows);
    if (j < k)
      for (std::size_t t = 0; t < tiles; ++t)
        kmeans_lanes_tail<Lanes, Lanes::kCentres - 1>(k - j, model, columns.get() + t * kTileRows, R, d, j,
                                                      best + t * kTileRows, index + t * kTileRows);
    for (std::size_t r = 0; r < n; ++r) out[b - begin + r] = static_cast<double>(index[r]);
  }
}

// Writes `rows` rows from b of X feature-major into columns (d x R) element by element; rows
// past the n that exist repeat the last one.
inline void kmeans_columns_scalar(const Rows<float>& X, std::size_t b, std::size_t n, std::size_t rows,
                                  std::size_t d, std::size_t R, float* columns) {
  if (X.col_stride == 1) {
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = X.row(b + std::min(r, n - 1));
      for (std::size_t f = 0; f < d; ++f) columns[f * R + r] = row[f];
    }
  } else {
    for (std::size_t f = 0; f < d; ++f)
      for (std::size_t r = 0; r < rows; ++r)
        columns[f * R + r] = X.row(b + std::min(r, n - 1))[static_cast<std::ptrdiff_t>(f) * X.col_stride];
  }
}


#if defined(__GNUC__)
// Portable lanes (GCC / Clang vector extensions: SSE2 on x86-64, NEON on aarch64): four rows
// per vector, multiply then add (no fused multiply-add, as every portable sum). Centre values
// and norms come pre-broadcast (KMeans::broadcast32).
// Three row vectors by three centres: nine accumulators, three row values, a centre value and
// the product (SSE2's multiply overwrites an operand), within x86-64's sixteen registers.
struct PortableLanes {
  typedef float V __attribute__((vector_size(16)));
  typedef int32_t I __attribute__((vector_size(16)));
  static constexpr std::size_t kWidth = 4, kRows = 3, kTiles = 4;
  static constexpr int kCentres = 3;
  static_assert(KMeans::kBroadcastLanes == kWidth);

  static V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void gather_columns(const Rows<float>& X, std::size_t b, std::size_t n, std::size_t rows, std::size_t d,
                             std::size_t R, float* columns) {
    kmeans_columns_scalar(X, b, n, rows, d, R, columns);
  }
  template <int kC>
  static void tile(const KMeans& model, const float* columns, std::size_t R, std::size_t d, std::size_t j0, float* best,
                   int32_t* index) {
    const float* u0 = model.broadcast32.data() + j0 * d * kWidth;
    V a[kRows][kC] = {};
    for (std::size_t f = 0; f < d; ++f) {
      V x[kRows];
      for (std::size_t q = 0; q < kRows; ++q) x[q] = load(columns + f * R + kWidth * q);
      for (int c = 0; c < kC; ++c) {
        const V u = load(u0 + (static_cast<std::size_t>(c) * d + f) * kWidth);
        for (std::size_t q = 0; q < kRows; ++q) a[q][c] += x[q] * u;
      }
    }
    for (std::size_t q = 0; q < kRows; ++q) {
      V best_value = load(best + kWidth * q);
      I best_index;
      std::memcpy(&best_index, index + kWidth * q, sizeof best_index);
      for (int c = 0; c < kC; ++c) {
        const std::size_t j = j0 + static_cast<std::size_t>(c);
        const V value = load(model.broadcast_norms32.data() + j * kWidth) - (a[q][c] + a[q][c]);  // 2 x.c exactly
        const I better = value < best_value;
        best_value = better ? value : best_value;
        best_index = better ? (I{} + static_cast<int32_t>(j)) : best_index;
      }
      std::memcpy(best + kWidth * q, &best_value, sizeof best_value);
      std::memcpy(index + kWidth * q, &best_index, sizeof best_index);
    }
  }
};
#endif

// Euclidean distance of each row to each centre (k values per row), in double.
template <class In>
void kmeans_distances(const KMeans& model, const Rows<In>& X, std::size_t begin, std::size_t end, double* out) {
  const std::size_t k = model.num_clusters(), d = model.num_features();
  const In* C = model.centers(In{}).data();
  for (std::size_t r = begin; r < end; ++r) {
    const In* row = X.row(r);
    for (std::size_t j = 0; j < k; ++j) {
      double sum = 0;
      for (std::size_t f = 0; f < d; ++f) {
        const double diff = static_cast<double>(row[static_cast<std::ptrdiff_t>(f) * X.col_stride]) -
                            static_cast<double>(C[j * d + f]);
        sum += diff * diff;
      }
      out[(r - begin) * k + j] = std::sqrt(sum);
    }
  }
}

}  // namespace floresta::detail::FLORESTA_ISA
