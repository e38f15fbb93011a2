// src/engine/kmeans_avx512.hpp — k-means labels of float32 batches with AVX-512: for up to
// 16 centres of 32 features or more, centres in lanes (kmeans_labels_few_avx512,
// KMeans::interleaved32); otherwise rows in lanes, 64 rows by six centres of accumulators,
// rows written feature-major by 16 x 16 in-register transposes (kmeans_labels_avx512). The
// same sums in the same order as kmeans_kernels.hpp's.
//
// Kernel code for the AVX-512 unit only, included through score.hpp in its FLORESTA_ISA
// namespace.
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
#error "engine/kmeans_avx512.hpp is kernel code: include it from kernels_avx512.cpp through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

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
inline void kmeans_columns64(const Rows<float>& X, std::size_t b, std::size_t d,
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
inline void kmeans_labels_avx512(const KMeans& model, const Rows<float>& X,
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
                                                                                 const Rows<float>& X,
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
// kmeans_labels_avx512 is faster (docs/benchmarks.md, kmeans/few-centres).
inline bool kmeans_labels_few(const KMeans& model, const Rows<float>& X, std::size_t begin, std::size_t end,
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

}  // namespace floresta::detail::FLORESTA_ISA
