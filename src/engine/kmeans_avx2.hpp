// src/engine/kmeans_avx2.hpp — k-means labels of float32 rows with AVX2 + FMA: rows in
// lanes (Avx2Lanes for kmeans_labels_lanes: eight rows per register, 8 x 8 transposes), and
// for a few rows of a model of more than eight centres, centres in lanes
// (kmeans_labels_avx2). The same sums in the same order as kmeans_kernels.hpp's.
//
// Kernel code for the AVX2 and AVX-512 units, included only through score.hpp in their
// FLORESTA_ISA namespace.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

#include "engine/kmeans.hpp"
#include "engine/kmeans_kernels.hpp"
#include "engine/rows.hpp"

#ifndef FLORESTA_ISA
#error "engine/kmeans_avx2.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

// float32 rows, AVX2 + FMA: eight centres per register, ||c||^2 - 2 x.c, argmin with the
// lowest index on ties.
inline void kmeans_labels_avx2(const KMeans& model, const Rows<float>& X,
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
  static void gather_columns(const Rows<float>& X, std::size_t b, std::size_t n, std::size_t rows, std::size_t d,
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

}  // namespace floresta::detail::FLORESTA_ISA
