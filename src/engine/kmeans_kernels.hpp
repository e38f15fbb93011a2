// src/engine/kmeans_kernels.hpp — k-means assignment and distances for one instruction set.
//
// Assignment follows scikit-learn exactly: label = argmin_j (||c_j||^2 - 2 x.c_j), computed
// in the input's precision, the lowest index winning ties. float32 batches take the AVX-512
// kernels in the AVX-512 unit (centres in lanes for up to 16 centres of 32 features or more,
// else rows in lanes, register-blocked over rows and centres, rows transposed in registers);
// in the AVX2 and portable units (and the AVX-512 unit's batches under 16 rows) they take
// kmeans_labels_lanes, rows in lanes and register-blocked the same way, with AVX2 + FMA or
// with GCC / Clang vector extensions (SSE2, NEON). A single row takes a direct loop (the
// AVX2 unit: centres in lanes for more than eight centres); float64 batches go through
// kmeans_labels_gemm (kmeans.cpp). Distances (transform) are computed in double as
// sum (x - c)^2.
//
// Kernel code: included by score.hpp inside a kernel unit's FLORESTA_ISA namespace.
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
#include "floresta/matrix.hpp"

#if FLORESTA_ISA_LEVEL >= 1
#include <immintrin.h>
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

#if FLORESTA_ISA_LEVEL >= 1
// float32 rows, AVX2 + FMA: eight centres per register, ||c||^2 - 2 x.c, argmin with the
// lowest index on ties.
inline void kmeans_labels_avx2(const KMeans& model, const MatrixView<float>& X,
                                                                   std::size_t begin, std::size_t end, double* out) {
  const std::size_t d = model.num_features(), kp = model.padded_k;
  const float* ct = model.transposed32.data();
  const float* norms = model.padded_norms32.data();
  const __m256 minus_two = _mm256_set1_ps(-2.0f);
  const __m256i eight = _mm256_set1_epi32(8);
  for (std::size_t r = begin; r < end; ++r) {
    const float* row = X.row(r);
    // Per lane: the best value so far and its centre; centres are visited in increasing
    // order and only a strictly smaller value replaces, so each lane keeps the lowest index.
    __m256 best_value = _mm256_set1_ps(std::numeric_limits<float>::infinity());
    __m256i best_index = _mm256_setzero_si256();
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#define FLORESTA_KMEANS_CONSIDER(dot, j)                                                                    \
  do {                                                                                                    \
    const __m256 value_ = _mm256_fmadd_ps(minus_two, (dot), _mm256_loadu_ps(norms + (j)));                \
    const __m256 better_ = _mm256_cmp_ps(value_, best_value, _CMP_LT_OQ);                                 \
    best_value = _mm256_blendv_ps(best_value, value_, better_);                                           \
    best_index = _mm256_castps_si256(                                                                     \
        _mm256_blendv_ps(_mm256_castsi256_ps(best_index), _mm256_castsi256_ps(index), better_));         \
    index = _mm256_add_epi32(index, eight);                                                               \
  } while (false)
    std::size_t j0 = 0;
    for (; j0 + 32 <= kp; j0 += 32) {  // four independent accumulators hide the FMA latency
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      const float* c = ct + j0;
      for (std::size_t f = 0; f < d; ++f, c += kp) {
        const __m256 x = _mm256_set1_ps(row[static_cast<std::ptrdiff_t>(f) * X.col_stride]);
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(c), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(c + 8), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(c + 16), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(c + 24), a3);
      }
      FLORESTA_KMEANS_CONSIDER(a0, j0);
      FLORESTA_KMEANS_CONSIDER(a1, j0 + 8);
      FLORESTA_KMEANS_CONSIDER(a2, j0 + 16);
      FLORESTA_KMEANS_CONSIDER(a3, j0 + 24);
    }
    for (; j0 < kp; j0 += 8) {
      __m256 a0 = _mm256_setzero_ps();
      for (std::size_t f = 0; f < d; ++f)
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(row[static_cast<std::ptrdiff_t>(f) * X.col_stride]),
                             _mm256_loadu_ps(ct + f * kp + j0), a0);
      FLORESTA_KMEANS_CONSIDER(a0, j0);
    }
#undef FLORESTA_KMEANS_CONSIDER
    alignas(32) float values[8];
    alignas(32) int32_t indices[8];
    _mm256_store_ps(values, best_value);
    _mm256_store_si256(reinterpret_cast<__m256i*>(indices), best_index);
    std::size_t best = 0;
    for (std::size_t i = 1; i < 8; ++i)
      if (values[i] < values[best] || (values[i] == values[best] && indices[i] < indices[best])) best = i;
    out[r - begin] = static_cast<double>(indices[best]);
  }
}
#endif

#if FLORESTA_ISA_LEVEL >= 1 || defined(__GNUC__)
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
void kmeans_labels_lanes(const KMeans& model, const MatrixView<float>& X, std::size_t begin, std::size_t end, double* out) {
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
inline void kmeans_columns_scalar(const MatrixView<float>& X, std::size_t b, std::size_t n, std::size_t rows,
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

#endif

#if FLORESTA_ISA_LEVEL == 0 && defined(__GNUC__)
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
  static void gather_columns(const MatrixView<float>& X, std::size_t b, std::size_t n, std::size_t rows, std::size_t d,
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

#if FLORESTA_ISA_LEVEL >= 1
// Transposes an 8 x 8 block in registers: on entry v[i] holds row i's 8 values, on return
// v[j] holds value j of the 8 rows.
inline void transpose8x8(__m256 v[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int g = 0; g < 8; g += 4) {  // s[g + c], per 128-bit half: rows g .. g+3 of column c (+4 in the upper half)
    s[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
    s[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
    s[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    s[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    v[c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x20);
    v[4 + c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x31);
  }
}

// AVX2 + FMA lanes: eight rows per register, three registers by four centres (twelve
// accumulators, three row values and one broadcast centre value: all sixteen registers).
struct Avx2Lanes {
  static constexpr std::size_t kWidth = 8, kRows = 3, kTiles = 4;
  static constexpr int kCentres = 4;

  // Contiguous rows by 8 x 8 transposes in registers (masked loads for the last d % 8
  // features, never reading past a row), other layouts element by element.
  static void gather_columns(const MatrixView<float>& X, std::size_t b, std::size_t n, std::size_t rows, std::size_t d,
                             std::size_t R, float* columns) {
    if (X.col_stride != 1) {
      kmeans_columns_scalar(X, b, n, rows, d, R, columns);
      return;
    }
    alignas(32) static constexpr int32_t kMasks[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    for (std::size_t q = 0; q < rows; q += 8) {
      const float* row[8];
      for (std::size_t i = 0; i < 8; ++i) row[i] = X.row(b + std::min(q + i, n - 1));
      for (std::size_t f0 = 0; f0 < d; f0 += 8) {
        const std::size_t width = std::min<std::size_t>(8, d - f0);
        __m256 v[8];
        if (width == 8) {
          for (std::size_t i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(row[i] + f0);
        } else {
          const __m256i mask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMasks + 8 - width));
          for (std::size_t i = 0; i < 8; ++i) v[i] = _mm256_maskload_ps(row[i] + f0, mask);
        }
        transpose8x8(v);
        for (std::size_t f = 0; f < width; ++f) _mm256_storeu_ps(columns + (f0 + f) * R + q, v[f]);
      }
    }
  }
  template <int kC>
  static void tile(const KMeans& model, const float* columns, std::size_t R, std::size_t d, std::size_t j0, float* best,
                   int32_t* index) {
    const float* c0 = model.centers32.data() + j0 * d;
    __m256 a[kRows][kC];
    for (std::size_t q = 0; q < kRows; ++q)
      for (int c = 0; c < kC; ++c) a[q][c] = _mm256_setzero_ps();
    for (std::size_t f = 0; f < d; ++f) {
      __m256 x[kRows];
      for (std::size_t q = 0; q < kRows; ++q) x[q] = _mm256_loadu_ps(columns + f * R + kWidth * q);
      for (int c = 0; c < kC; ++c) {
        const __m256 u = _mm256_broadcast_ss(c0 + static_cast<std::size_t>(c) * d + f);
        for (std::size_t q = 0; q < kRows; ++q) a[q][c] = _mm256_fmadd_ps(x[q], u, a[q][c]);
      }
    }
    const __m256 minus_two = _mm256_set1_ps(-2.0f);
    for (std::size_t q = 0; q < kRows; ++q) {
      __m256 best_value = _mm256_load_ps(best + kWidth * q);
      __m256 best_index = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(index + kWidth * q)));
      for (int c = 0; c < kC; ++c) {
        const std::size_t j = j0 + static_cast<std::size_t>(c);
        const __m256 value = _mm256_fmadd_ps(minus_two, a[q][c], _mm256_broadcast_ss(model.norms32.data() + j));
        const __m256 better = _mm256_cmp_ps(value, best_value, _CMP_LT_OQ);
        best_value = _mm256_min_ps(value, best_value);  // value < best ? value : best
        best_index = _mm256_blendv_ps(best_index, _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int32_t>(j))), better);
      }
      _mm256_store_ps(best + kWidth * q, best_value);
      _mm256_store_si256(reinterpret_cast<__m256i*>(index + kWidth * q), _mm256_castps_si256(best_index));
    }
  }
};
#endif

#if FLORESTA_ISA_LEVEL >= 2
// Transposes a 16 x 16 block in registers: on entry v[i] holds row i's 16 values, on return
// v[j] holds value j of the 16 rows. Four rounds of sixteen shuffles.
inline void transpose16x16(__m512 v[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // per 128-bit block: pairs of rows, interleaved
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {  // u[g + c], block b: rows g .. g+3 of column 4b + c
    const __m512d t0 = _mm512_castps_pd(t[g]), t1 = _mm512_castps_pd(t[g + 1]);
    const __m512d t2 = _mm512_castps_pd(t[g + 2]), t3 = _mm512_castps_pd(t[g + 3]);
    v[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    v[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    v[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    v[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int c = 0; c < 4; ++c) {  // gather the four row quarters of each column's blocks
    const __m512 even_lo = _mm512_shuffle_f32x4(v[c], v[4 + c], 0x88), odd_lo = _mm512_shuffle_f32x4(v[c], v[4 + c], 0xDD);
    const __m512 even_hi = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0x88), odd_hi = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0xDD);
    t[c] = _mm512_shuffle_f32x4(even_lo, even_hi, 0x88);
    t[8 + c] = _mm512_shuffle_f32x4(even_lo, even_hi, 0xDD);
    t[4 + c] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xDD);
  }
  for (int i = 0; i < 16; ++i) v[i] = t[i];
}

// Writes rows [b, b + 64) of X feature-major into columns (d x 64): contiguous rows by
// 16 x 16 transposes in registers (masked loads for the last d % 16 features, never reading
// past a row), contiguous columns by copies, other strides by gathers.
inline void kmeans_columns64(const MatrixView<float>& X, std::size_t b, std::size_t d,
                                                                float* columns) {
  constexpr std::size_t R = 64;
  if (X.col_stride == 1) {
    for (std::size_t q = 0; q < R; q += 16)
      for (std::size_t f0 = 0; f0 < d; f0 += 16) {
        const std::size_t width = std::min<std::size_t>(16, d - f0);
        const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1);
        __m512 v[16];
        for (std::size_t i = 0; i < 16; ++i) v[i] = _mm512_maskz_loadu_ps(mask, X.row(b + q + i) + f0);
        transpose16x16(v);
        for (std::size_t f = 0; f < width; ++f) _mm512_storeu_ps(columns + (f0 + f) * R + q, v[f]);
      }
  } else if (X.row_stride == 1) {
    for (std::size_t f = 0; f < d; ++f)
      std::copy_n(X.row(b) + static_cast<std::ptrdiff_t>(f) * X.col_stride, R, columns + f * R);
  } else {
    for (std::size_t r = 0; r < R; ++r) {
      const float* row = X.row(b + r);
      for (std::size_t f = 0; f < d; ++f) columns[f * R + r] = row[static_cast<std::ptrdiff_t>(f) * X.col_stride];
    }
  }
}

// float32 rows, AVX-512: sixteen rows per register, four registers (64 rows) at a time,
// six centres per pass over the features, so each centre value loaded feeds four FMAs and
// each row value six. Each block of rows is first written feature-major into `columns`
// (d x 64) by kmeans_columns64.
inline void kmeans_labels_avx512(const KMeans& model, const MatrixView<float>& X,
                                                                    std::size_t begin, std::size_t end, double* out) {
  constexpr std::size_t R = 64;
  const std::size_t k = model.num_clusters(), d = model.num_features();
  const float* C = model.centers32.data();
  const float* norms = model.norms32.data();
  // new[], not a std::vector: see kernel.hpp on shared templates in kernel units.
  const std::unique_ptr<float[]> columns(new float[d * R]);
  const __m512 minus_two = _mm512_set1_ps(-2.0f);
  for (std::size_t b = begin; b < end; b += R) {
    const std::size_t n = std::min(R, end - b);
    if (n == R) {
      kmeans_columns64(X, b, d, columns.get());
    } else {
      for (std::size_t r = 0; r < R; ++r) {  // rows past the end repeat the last one
        const float* row = X.row(b + std::min(r, n - 1));
        for (std::size_t f = 0; f < d; ++f) columns[f * R + r] = row[static_cast<std::ptrdiff_t>(f) * X.col_stride];
      }
    }
    __m512 best[4];
    __m512i best_index[4];
    for (int q = 0; q < 4; ++q) {
      best[q] = _mm512_set1_ps(std::numeric_limits<float>::infinity());
      best_index[q] = _mm512_setzero_si512();
    }
    // Centres in increasing order, replaced only by a strictly smaller value: ties keep the
    // lowest index.
    auto consider = [&](__m512 dot, int q, std::size_t j) {
      const __m512 value = _mm512_fmadd_ps(minus_two, dot, _mm512_set1_ps(norms[j]));
      const __mmask16 better = _mm512_cmp_ps_mask(value, best[q], _CMP_LT_OQ);
      best[q] = _mm512_mask_mov_ps(best[q], better, value);
      best_index[q] = _mm512_mask_mov_epi32(best_index[q], better, _mm512_set1_epi32(static_cast<int>(j)));
    };
    std::size_t j = 0;
    constexpr int kCentres = 6;  // 4 x 6 accumulators + 6 centre values: 30 of 32 registers
    for (; j + kCentres <= k; j += kCentres) {
      __m512 a[4][kCentres];
      for (int q = 0; q < 4; ++q)
        for (int c = 0; c < kCentres; ++c) a[q][c] = _mm512_setzero_ps();
      const float* c0 = C + j * d;
      for (std::size_t f = 0; f < d; ++f) {
        __m512 u[kCentres];
        for (int c = 0; c < kCentres; ++c) u[c] = _mm512_set1_ps(c0[c * d + f]);
        for (int q = 0; q < 4; ++q) {
          const __m512 x = _mm512_loadu_ps(columns.get() + f * R + 16 * q);
          for (int c = 0; c < kCentres; ++c) a[q][c] = _mm512_fmadd_ps(x, u[c], a[q][c]);
        }
      }
      for (int q = 0; q < 4; ++q)
        for (int c = 0; c < kCentres; ++c) consider(a[q][c], q, j + c);
    }
    for (; j < k; ++j) {
      __m512 a[4];
      for (int q = 0; q < 4; ++q) a[q] = _mm512_setzero_ps();
      const float* c0 = C + j * d;
      for (std::size_t f = 0; f < d; ++f) {
        const __m512 u = _mm512_set1_ps(c0[f]);
        for (int q = 0; q < 4; ++q) a[q] = _mm512_fmadd_ps(_mm512_loadu_ps(columns.get() + f * R + 16 * q), u, a[q]);
      }
      for (int q = 0; q < 4; ++q) consider(a[q], q, j);
    }
    alignas(64) int32_t labels[R];
    for (int q = 0; q < 4; ++q) _mm512_store_si512(labels + 16 * q, best_index[q]);
    for (std::size_t r = 0; r < n; ++r) out[b - begin + r] = static_cast<double>(labels[r]);
  }
}
#endif

#if FLORESTA_ISA_LEVEL >= 2
// Broadcasts x[0 .. kSpan) to every group of kSpan lanes: one load (x must be readable that far).
template <int kSpan>
inline __m512 broadcast_span(const float* x) {
  if constexpr (kSpan == 1) return _mm512_set1_ps(*x);
  else if constexpr (kSpan == 2) return _mm512_castpd_ps(_mm512_set1_pd(*reinterpret_cast<const double*>(x)));
  else if constexpr (kSpan == 4) return _mm512_broadcast_f32x4(_mm_loadu_ps(x));
  else if constexpr (kSpan == 8) return _mm512_broadcast_f32x8(_mm256_loadu_ps(x));
  else return _mm512_loadu_ps(x);
}

// float32 rows with contiguous features, k <= 16, AVX-512: centres in lanes, `span` = 16 / K
// features per FMA (KMeans::interleaved32), so a row of d features costs d / span FMAs and
// no transposition; four rows at a time, two accumulators each, hide the FMA latency. Each
// row's lanes of one centre are summed, sixteen rows' sums are gathered back with rows in
// lanes, and the argmin of ||c||^2 - 2 x.c runs down the centres as in the other kernels:
// the lowest index on ties, NaN never chosen.
template <int kSpan>
inline void kmeans_labels_few_avx512(const KMeans& model,
                                                                                 const MatrixView<float>& X,
                                                                                 std::size_t begin, std::size_t end,
                                                                                 double* out) {
  constexpr int R = 4, kBlock = 16;
  const std::size_t k = model.num_clusters(), d = model.num_features();
  const std::size_t whole = d / kSpan, groups = (d + kSpan - 1) / kSpan;
  const float* C = model.interleaved32.data();
  const __m512 minus_two = _mm512_set1_ps(-2.0f);
  const __m512i row_lanes = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(16));
  alignas(64) float sums[kBlock * 16];  // row r's 16 lanes, each centre's sum in its first lane
  alignas(64) float tail[R][16] = {};   // the last d % kSpan features, zero-padded
  for (std::size_t b = begin; b < end; b += kBlock) {
    const std::size_t n = std::min<std::size_t>(kBlock, end - b);
    for (int q = 0; q < kBlock; q += R) {
      const float* rows[R];  // rows past the end repeat the last one
      for (int i = 0; i < R; ++i) rows[i] = X.row(b + std::min<std::size_t>(static_cast<std::size_t>(q + i), n - 1));
      __m512 a[R], c[R];
      for (int i = 0; i < R; ++i) a[i] = c[i] = _mm512_setzero_ps();
      std::size_t g = 0;
      for (; g + 2 <= whole; g += 2) {
        const __m512 c0 = _mm512_loadu_ps(C + 16 * g), c1 = _mm512_loadu_ps(C + 16 * g + 16);
        for (int i = 0; i < R; ++i) {
          a[i] = _mm512_fmadd_ps(broadcast_span<kSpan>(rows[i] + kSpan * g), c0, a[i]);
          c[i] = _mm512_fmadd_ps(broadcast_span<kSpan>(rows[i] + kSpan * g + kSpan), c1, c[i]);
        }
      }
      if (g < whole) {  // an odd whole group
        const __m512 c0 = _mm512_loadu_ps(C + 16 * g);
        for (int i = 0; i < R; ++i) a[i] = _mm512_fmadd_ps(broadcast_span<kSpan>(rows[i] + kSpan * g), c0, a[i]);
        ++g;
      }
      if (g < groups) {  // the partial group, from zero-padded copies (never read past a row)
        for (int i = 0; i < R; ++i)
          for (std::size_t f = kSpan * g; f < d; ++f) tail[i][f - kSpan * g] = rows[i][f];
        const __m512 c0 = _mm512_loadu_ps(C + 16 * g);
        for (int i = 0; i < R; ++i) a[i] = _mm512_fmadd_ps(broadcast_span<kSpan>(tail[i]), c0, a[i]);
      }
      for (int i = 0; i < R; ++i) {
        __m512 dot = _mm512_add_ps(a[i], c[i]);
        if constexpr (kSpan >= 2) dot = _mm512_add_ps(dot, _mm512_permute_ps(dot, 0xB1));  // swap pairs
        if constexpr (kSpan >= 4) dot = _mm512_add_ps(dot, _mm512_permute_ps(dot, 0x4E));  // swap pairs of pairs
        if constexpr (kSpan >= 8) dot = _mm512_add_ps(dot, _mm512_shuffle_f32x4(dot, dot, 0xB1));
        if constexpr (kSpan >= 16) dot = _mm512_add_ps(dot, _mm512_shuffle_f32x4(dot, dot, 0x4E));
        _mm512_store_ps(sums + 16 * (q + i), dot);
      }
    }
    // Rows in lanes: centre j's sums are at lane j * kSpan of each row.
    __m512 best = _mm512_set1_ps(std::numeric_limits<float>::infinity());
    __m512i best_index = _mm512_setzero_si512();
    for (std::size_t j = 0; j < k; ++j) {
      const __m512 dot = _mm512_i32gather_ps(_mm512_add_epi32(row_lanes, _mm512_set1_epi32(static_cast<int>(j * kSpan))), sums, 4);
      const __m512 value = _mm512_fmadd_ps(minus_two, dot, _mm512_set1_ps(model.norms32.data()[j]));
      const __mmask16 better = _mm512_cmp_ps_mask(value, best, _CMP_LT_OQ);
      best = _mm512_mask_mov_ps(best, better, value);
      best_index = _mm512_mask_mov_epi32(best_index, better, _mm512_set1_epi32(static_cast<int>(j)));
    }
    alignas(64) int32_t labels[kBlock];
    _mm512_store_si512(labels, best_index);
    for (std::size_t r = 0; r < n; ++r) out[b - begin + r] = static_cast<double>(labels[r]);
  }
}

// Chooses kmeans_labels_few_avx512's span; false when it does not apply. Under 32 features
// kmeans_labels_avx512 is faster (ns a row, 50,000 rows, this kernel against that one:
// k = 7: d = 16 5.3 / 3.8, d = 32 8.5 / 8.7, d = 64 17 / 20; k = 12: d = 16 7.6 / 4.5,
// d = 32 12.3 / 10.1, d = 48 15.8 / 17.7; k = 16: d = 32 12.6 / 12.3, d = 64 22 / 30).
inline bool kmeans_labels_few(const KMeans& model, const MatrixView<float>& X, std::size_t begin, std::size_t end,
                              double* out) {
  if (model.span == 0 || model.num_features() < 32 || X.col_stride != 1) return false;
  switch (model.span) {
    case 1: kmeans_labels_few_avx512<1>(model, X, begin, end, out); return true;
    case 2: kmeans_labels_few_avx512<2>(model, X, begin, end, out); return true;
    case 4: kmeans_labels_few_avx512<4>(model, X, begin, end, out); return true;
    case 8: kmeans_labels_few_avx512<8>(model, X, begin, end, out); return true;
    default: kmeans_labels_few_avx512<16>(model, X, begin, end, out); return true;
  }
}
#endif

// Labels of rows [begin, end): this unit's vector kernel, a direct loop for few rows or
// tiny models, else kmeans_labels_gemm.
template <class In>
void kmeans_labels(const KMeans& model, const MatrixView<In>& X, std::size_t begin, std::size_t end, double* out) {
  using T = In;  // the input's precision
  const std::size_t k = model.num_clusters(), d = model.num_features();
#if FLORESTA_ISA_LEVEL >= 1
  if constexpr (std::is_same_v<In, float>) {
#if FLORESTA_ISA_LEVEL >= 2
    if (end - begin >= 16 && kmeans_labels_few(model, X, begin, end, out)) return;
    if (end - begin >= 16) {
      kmeans_labels_avx512(model, X, begin, end, out);
      return;
    }
#endif
    if (end - begin >= Avx2Lanes::kWidth) {
      kmeans_labels_lanes<Avx2Lanes>(model, X, begin, end, out);
      return;
    }
    if (k > 8) {  // a few rows: centres in lanes
      kmeans_labels_avx2(model, X, begin, end, out);
      return;
    }
  }
#elif defined(__GNUC__)
  if constexpr (std::is_same_v<In, float>) {
    if (end - begin >= PortableLanes::kWidth) {
      kmeans_labels_lanes<PortableLanes>(model, X, begin, end, out);
      return;
    }
  }
#endif
  if (end - begin < 8 || k * d < 16) {
    for (std::size_t r = begin; r < end; ++r)
      out[r - begin] = static_cast<double>(nearest_center<T>(model, X.row(r), X.col_stride));
    return;
  }
  kmeans_labels_gemm(model, X, begin, end, out);
}

// Euclidean distance of each row to each centre (k values per row), in double.
template <class In>
void kmeans_distances(const KMeans& model, const MatrixView<In>& X, std::size_t begin, std::size_t end, double* out) {
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
