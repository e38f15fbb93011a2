// src/engine/simd_avx2.hpp — walk8_xgboost_avx2: eight rows walk one XGBoost tree (value
// nodes, float32 rows) in the eight lanes of an AVX2 register: node fields and inputs are
// gathered, the split is decided by compares and blends, and a lane that reached its leaf
// stays there. It reproduces XGBoostRule exactly (float32 `x < t`, NaN to the default side,
// listed categories right; negative, >= 2^24 or unlisted codes left).
//
// Kernel code for the AVX2 and AVX-512 units (compiled with -mavx2 or more), in their
// FLORESTA_ISA namespace.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#ifndef FLORESTA_ISA
#error "engine/simd_avx2.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

// root: the tree's first node (12-byte nodes: value/bitset, info, right); rows: 8 * kGroups
// rows of `cols` floats, `row_stride` floats apart (8 * kGroups * row_stride must fit in
// 31 bits); words: Forest::category_words. kGroups registers walk at once, so that their
// gathers overlap.
template <bool kCategorical, int kGroups>
inline void walk8_xgboost_avx2(const void* root, uint32_t depth, const float* rows,
                                                                 int32_t row_stride, const uint32_t* words, float* leaves) {
  const float* base_f = static_cast<const float*>(root);
  const int* base_i = static_cast<const int*>(root);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i feature_mask = _mm256_set1_epi32(static_cast<int>((1u << 28) - 1));
  const __m256i one = _mm256_set1_epi32(1);
  __m256i offsets[kGroups];  // 3 * node index, in 4-byte units
  __m256i row_offsets[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    offsets[g] = _mm256_setzero_si256();
    row_offsets[g] = _mm256_mullo_epi32(_mm256_add_epi32(lane, _mm256_set1_epi32(8 * g)), _mm256_set1_epi32(row_stride));
  }
  for (uint32_t level = 0; level < depth; ++level) {
    bool all_leaves = true;
    for (int g = 0; g < kGroups; ++g) {
      __m256i& offset = offsets[g];
      const __m256i row_offset = row_offsets[g];
      const __m256i info = _mm256_i32gather_epi32(base_i + 1, offset, 4);
      const __m256i leaf = _mm256_srai_epi32(info, 31);  // all ones on leaves
      if (_mm256_movemask_ps(_mm256_castsi256_ps(leaf)) == 0xFF) continue;
      all_leaves = false;
      const __m256 threshold = _mm256_i32gather_ps(base_f, offset, 4);
      const __m256i right = _mm256_i32gather_epi32(base_i + 2, offset, 4);
      const __m256i feature = _mm256_and_si256(info, feature_mask);
      const __m256 x = _mm256_i32gather_ps(rows, _mm256_add_epi32(row_offset, feature), 4);
      const __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
      const __m256 default_left = _mm256_castsi256_ps(_mm256_srai_epi32(_mm256_slli_epi32(info, 1), 31));
      __m256 go_left = _mm256_cmp_ps(x, threshold, _CMP_LT_OQ);  // false for NaN
      if (kCategorical) {
        const __m256i categorical = _mm256_srai_epi32(_mm256_slli_epi32(info, 2), 31);
        if (!_mm256_testz_si256(categorical, categorical)) {
          // XGBoost: listed codes go right; invalid (negative, >= 2^24) or unlisted go left.
          const __m256 valid = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ),
                                             _mm256_cmp_ps(x, _mm256_set1_ps(16777216.0f), _CMP_LT_OQ));
          const __m256i code = _mm256_and_si256(_mm256_cvttps_epi32(x), _mm256_castps_si256(valid));
          const __m256i set = _mm256_and_si256(_mm256_castps_si256(threshold), categorical);  // bitset offset
          const __m256i bits = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(words), set,
                                                           categorical, 4);
          const __m256i in_range = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_add_epi32(code, one), bits),
                                                       _mm256_castps_si256(valid));  // code < n_bits
          const __m256i word_index = _mm256_add_epi32(_mm256_add_epi32(set, one), _mm256_srli_epi32(code, 5));
          const __m256i word = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(words),
                                                           word_index, _mm256_and_si256(in_range, categorical), 4);
          const __m256i bit = _mm256_and_si256(_mm256_srlv_epi32(word, _mm256_and_si256(code, _mm256_set1_epi32(31))), one);
          const __m256i listed = _mm256_and_si256(_mm256_cmpeq_epi32(bit, one), in_range);
          const __m256 cat_left = _mm256_castsi256_ps(_mm256_xor_si256(listed, _mm256_set1_epi32(-1)));
          go_left = _mm256_blendv_ps(go_left, cat_left, _mm256_castsi256_ps(categorical));
        }
      }
      go_left = _mm256_blendv_ps(go_left, default_left, is_nan);
      __m256i step = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(right), _mm256_castsi256_ps(one), go_left));
      step = _mm256_andnot_si256(leaf, step);
      offset = _mm256_add_epi32(offset, _mm256_mullo_epi32(step, _mm256_set1_epi32(3)));
    }
    if (all_leaves) break;
  }
  for (int g = 0; g < kGroups; ++g) _mm256_storeu_ps(leaves + 8 * g, _mm256_i32gather_ps(base_f, offsets[g], 4));
}

}  // namespace floresta::detail::FLORESTA_ISA
