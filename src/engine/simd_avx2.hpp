// src/engine/simd_avx2.hpp — AVX2 walks. walk8_xgboost_avx2: eight rows walk one XGBoost
// tree (value nodes, float32 rows) in the eight lanes of an AVX2 register: node fields and
// inputs are gathered, the split is decided by compares and blends, and a lane that reached
// its leaf stays there. It reproduces XGBoostRule exactly (float32 `x < t`, NaN to the
// default side, listed categories right; negative, >= 2^24 or unlisted codes left).
//
// Then the quantized walk of quantized.hpp for the AVX2 unit (the AVX-512 unit keeps its
// own, simd_avx512.hpp): walk_block_avx2 (batches, binned by walk.hpp's bin_rows),
// walk_trees_avx2 and bin_row_avx2 (single rows; double features by bin_row_lanes_avx2, a
// search in lanes), add_leaves_avx2.
//
// Kernel code for the AVX2 and AVX-512 units (compiled with -mavx2 -mpopcnt or more), in
// their FLORESTA_ISA namespace.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "engine/quantized.hpp"
#include "engine/walk.hpp"  // bin_row_searched, store_searched_bins

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

// The quantized walk in AVX2 registers, eight lanes per register. A gather of eight costs
// about as much as eight separate loads (docs/benchmarks.md, microbench/gather), so the design spends gathers
// only where loads would not do: batches take the first five levels from the tree's table
// (quantized.hpp) by permutes, and the bins of the first three levels by plain loads (all
// lanes of a register walk one tree, so a level has at most four split columns); single
// rows walk the table in scalar code. Lanes still inside a tree after the table go on in a
// work list, compacted at every level. AVX2 has no compress or scatter: the list is packed
// with permutes from kCompress, and lanes that reach a leaf go to a second list that is
// written out at the end.

// kCompress[m]: the indices of the set bits of m, in order, one byte each (then zeros), so
// that _mm256_permutevar8x32_epi32 packs the lanes of m to the front of a register.
struct CompressTable {
  uint64_t indices[256];
};
constexpr CompressTable make_compress_table() {
  CompressTable table{};
  for (int m = 0; m < 256; ++m) {
    uint64_t packed = 0;
    int k = 0;
    for (int lane = 0; lane < 8; ++lane)
      if (m & (1 << lane)) packed |= static_cast<uint64_t>(lane) << (8 * k++);
    table.indices[m] = packed;
  }
  return table;
}
inline constexpr CompressTable kCompress = make_compress_table();

// Packs the lanes of `mask` (8 bits) of v to the front.
inline __m256i compress_avx2(__m256i v, int mask) {
  const __m256i order = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(kCompress.indices + mask)));
  return _mm256_permutevar8x32_epi32(v, order);
}

// The 32-bit mask of lanes whose sign bit is set, as 8 bits.
inline int lanes_of(__m256i v) { return _mm256_movemask_ps(_mm256_castsi256_ps(v)); }

// Word `slot` of a tree's table for slots of one level (below 32): the table's four
// registers picked by the slot's bits 3 and 4, so that shallow levels take one permute.
inline __m256i table_word_avx2(const uint32_t* table, __m256i slot, int level) {
  auto part = [&](int k) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 * k)); };
  auto pick = [](__m256i a, __m256i b, __m256i select) {  // b where select's sign bit is set
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(select)));
  };
  const __m256i bit3 = _mm256_slli_epi32(slot, 28), bit4 = _mm256_slli_epi32(slot, 27);
  if (level <= 2) return _mm256_permutevar8x32_epi32(part(0), slot);  // slots 0..6
  if (level == 3)  // slots 7..14
    return pick(_mm256_permutevar8x32_epi32(part(0), slot), _mm256_permutevar8x32_epi32(part(1), slot), bit3);
  if (level == 4)  // slots 15..30
    return pick(_mm256_permutevar8x32_epi32(part(1), slot),
                pick(_mm256_permutevar8x32_epi32(part(2), slot), _mm256_permutevar8x32_epi32(part(3), slot), bit3), bit4);
  return pick(pick(_mm256_permutevar8x32_epi32(part(0), slot), _mm256_permutevar8x32_epi32(part(1), slot), bit3),
              pick(_mm256_permutevar8x32_epi32(part(2), slot), _mm256_permutevar8x32_epi32(part(3), slot), bit3), bit4);
}

// The bins of 8 lanes: column c (column_bound & kQuantizedColumnMask) of lane j at
// bins[(c << kShift) + offset_j] (32-bit loads: `bins` needs one element of padding).
template <int kShift>
inline __m256i gather_bins_avx2(const uint16_t* bins, __m256i column_bound, __m256i offset, __m256i valid) {
  const __m256i low16 = _mm256_set1_epi32(0xFFFF);
  const __m256i columns = _mm256_and_si256(column_bound, _mm256_set1_epi32(static_cast<int>(kQuantizedColumnMask)));
  const __m256i index = _mm256_add_epi32(_mm256_slli_epi32(columns, kShift), offset);
  return _mm256_and_si256(
      _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(bins), index, valid, 2), low16);
}

// The two halves (column | bound << 16, skip) of 8 lanes' nodes (lanes off in `valid`
// read nothing and get 0): two gathers of four whole nodes, split by shuffles (fewer
// elements gathered than one gather per half).
inline void gather_nodes_avx2(const QuantizedNode* nodes, __m256i node, __m256i valid, __m256i& column_bound,
                              __m256i& skip) {
  const auto* base = reinterpret_cast<const long long*>(nodes);
  const __m256i low = _mm256_mask_i32gather_epi64(_mm256_setzero_si256(), base, _mm256_castsi256_si128(node),
                                                  _mm256_cvtepi32_epi64(_mm256_castsi256_si128(valid)), 8);
  const __m256i high = _mm256_mask_i32gather_epi64(_mm256_setzero_si256(), base, _mm256_extracti128_si256(node, 1),
                                                   _mm256_cvtepi32_epi64(_mm256_extracti128_si256(valid, 1)), 8);
  // shuffle_ps takes lanes 0 2 of each 128-bit half from both: nodes 0 1 4 5 | 2 3 6 7
  const __m256 a = _mm256_castsi256_ps(low), b = _mm256_castsi256_ps(high);
  column_bound = _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a, b, 0x88)), 0xD8);
  skip = _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8);
}

// The category sets a walk reads (Quantization::category_sets, set_shift); none when the
// walk is instantiated without kCategorical.
struct SetsAvx2 {
  const uint32_t* words = nullptr;
  __m128i shift = _mm_setzero_si128();
};

// -1 in the lanes that go right, given their nodes' first words and their bins: bin > bound
// on numeric nodes (both below 2^16: a signed compare); with kCategorical, on categorical
// nodes the bit of their set (quantized.hpp), one word gathered for those lanes only, and
// no gather when no lane is categorical (lanes at a tree's upper levels share a node, so
// the branch is taken for whole registers).
template <bool kCategorical>
inline __m256i goes_right_avx2(__m256i bin, __m256i column_bound, const SetsAvx2& sets) {
  const __m256i right = _mm256_cmpgt_epi32(bin, _mm256_srli_epi32(column_bound, 16));
  if constexpr (!kCategorical) {
    return right;
  } else {
    const __m256i flag = _mm256_set1_epi32(static_cast<int>(kQuantizedCategorical));
    const __m256i categorical = _mm256_cmpeq_epi32(_mm256_and_si256(column_bound, flag), flag);
    if (_mm256_testz_si256(categorical, categorical)) return right;
    const __m256i set = _mm256_sll_epi32(_mm256_srli_epi32(column_bound, kQuantizedSetShift), sets.shift);
    const __m256i word = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(sets.words),
                                                     _mm256_add_epi32(set, _mm256_srli_epi32(bin, 5)), categorical, 4);
    const __m256i bit = _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_and_si256(bin, _mm256_set1_epi32(31)));
    const __m256i listed = _mm256_cmpeq_epi32(_mm256_and_si256(word, bit), bit);
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(right), _mm256_castsi256_ps(listed), _mm256_castsi256_ps(categorical)));
  }
}

// The lanes of a work list (node, where = bin offset | leaf slot << 16) from `level` on,
// eight at a time, compacted in place at every level (survivors are written at or before
// where they were read); lanes that reached a leaf go to a done list, written out at the
// end: leaves[slot] = node. `list` holds 4 * capacity (the list, then the done list);
// bins as gather_bins_avx2<kShift>; kCategorical and sets as goes_right_avx2.
template <int kShift, bool kCategorical>
inline void walk_list_avx2(const QuantizedNode* nodes, const uint16_t* bins, uint32_t level, uint32_t depth,
                           std::size_t pending, uint32_t* list, std::size_t capacity, uint32_t* leaves,
                           const SetsAvx2& sets) {
  uint32_t* list_node = list;
  uint32_t* list_where = list + capacity;
  uint32_t* done_node = list + 2 * capacity;
  uint32_t* done_where = list + 3 * capacity;
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i low16 = _mm256_set1_epi32(0xFFFF);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i leaf_skip = _mm256_set1_epi32(-1);
  std::size_t done = 0;
  for (; pending > 0 && level < depth; ++level) {
    const bool deepest = level + 1 == depth;  // every lane reaches its leaf at this step
    std::size_t kept = 0;
    for (std::size_t k = 0; k < pending; k += 8) {
      const __m256i valid =
          _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<std::size_t>(pending - k, 8))), iota);
      const __m256i node = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(list_node + k));
      const __m256i where = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(list_where + k));
      __m256i column_bound, skip;
      gather_nodes_avx2(nodes, node, valid, column_bound, skip);
      // Leaves read their always-0xFFFF column and step by 0, so `moved` is right for all.
      const __m256i right = goes_right_avx2<kCategorical>(
          gather_bins_avx2<kShift>(bins, column_bound, _mm256_and_si256(where, low16), valid), column_bound, sets);
      const __m256i moved = _mm256_add_epi32(_mm256_add_epi32(node, one), _mm256_and_si256(skip, right));
      const int valid_bits = lanes_of(valid);
      const int finished = deepest ? valid_bits : lanes_of(_mm256_cmpeq_epi32(skip, leaf_skip)) & valid_bits;
      if (finished) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(done_node + done), compress_avx2(moved, finished));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(done_where + done), compress_avx2(where, finished));
        done += static_cast<std::size_t>(_mm_popcnt_u32(static_cast<unsigned>(finished)));
      }
      const int live = valid_bits & ~finished;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(list_node + kept), compress_avx2(moved, live));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(list_where + kept), compress_avx2(where, live));
      kept += static_cast<std::size_t>(_mm_popcnt_u32(static_cast<unsigned>(live)));
    }
    pending = kept;
  }
  for (std::size_t k = 0; k < done; ++k) leaves[done_where[k] >> 16] = done_node[k];
}

// Lanes at the sixth level's node (node, `word` its table word with kTopLeafFlag on
// leaves): with `last` (depth <= kTopLevels + 1) they take the one level left here and are
// written to leaves[out + j]; otherwise those at a leaf are written and the others
// appended to the work list. Returns the list's new length.
template <int kShift, bool kCategorical>
inline std::size_t leave_table_avx2(const QuantizedNode* nodes, const uint16_t* bins, __m256i word, __m256i offset,
                                    uint32_t out, bool last, uint32_t* leaves, uint32_t* list_node, uint32_t* list_where,
                                    std::size_t pending, const SetsAvx2& sets) {
  const __m256i node = _mm256_and_si256(word, _mm256_set1_epi32(static_cast<int>(~kTopLeafFlag)));
  uint32_t* to = leaves + out;
  if (last) {  // leaves: skip ~0 and always right, so they stay
    const __m256i all = _mm256_set1_epi32(-1);
    __m256i column_bound, skip;
    gather_nodes_avx2(nodes, node, all, column_bound, skip);
    const __m256i right =
        goes_right_avx2<kCategorical>(gather_bins_avx2<kShift>(bins, column_bound, offset, all), column_bound, sets);
    const __m256i next = _mm256_add_epi32(_mm256_add_epi32(node, _mm256_set1_epi32(1)), _mm256_and_si256(skip, right));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), next);
    return pending;
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), node);  // final for the lanes at a leaf
  const int deeper = ~lanes_of(word) & 0xFF;
  if (deeper == 0) return pending;
  const __m256i slots = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(out)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i where = _mm256_or_si256(offset, _mm256_slli_epi32(slots, 16));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(list_node + pending), compress_avx2(node, deeper));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(list_where + pending), compress_avx2(where, deeper));
  return pending + static_cast<std::size_t>(_mm_popcnt_u32(static_cast<unsigned>(deeper)));
}

// The bins of 8 interleaved lanes (at bins[16 c + offset + j]) of one tree at `level` <=
// 2: the level's 2^level split columns are known from the table, so their bins are plain
// loads of 8 contiguous bins each, and each lane picks its slot's by the slot's bits.
inline __m256i table_bins_avx2(const uint32_t* table, __m256i slot, int level, const uint16_t* bins, std::size_t offset) {
  auto row = [&](int s) {
    return _mm256_cvtepu16_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(bins + offset + 16 * (table[s] & kQuantizedColumnMask))));
  };
  auto pick = [](__m256i a, __m256i b, __m256i select) {  // b where select's sign bit is set
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(select)));
  };
  if (level == 0) return row(0);
  const __m256i rel = _mm256_sub_epi32(slot, _mm256_set1_epi32((1 << level) - 1));  // slot within the level
  const __m256i bit0 = _mm256_slli_epi32(rel, 31);
  if (level == 1) return pick(row(1), row(2), bit0);
  return pick(pick(row(3), row(4), bit0), pick(row(5), row(6), bit0), _mm256_slli_epi32(rel, 30));
}

// kUnits registers of interleaved lanes (unit u: tree table[u], lanes at bin offsets
// base[u] + 0..7, leaves at out[u]) through the first kTopLevels levels (one tree per
// register: split words by permutes, bins by loads for the first three levels and by a
// gather below), then out of the table (leave_table_avx2).
template <int kUnits, bool kCategorical>
inline std::size_t walk_table_avx2(const QuantizedNode* nodes, const uint32_t* const* table, const __m256i* base,
                                   const uint32_t* out, bool last, const uint16_t* bins, uint32_t* leaves,
                                   uint32_t* list_node, uint32_t* list_where, std::size_t pending,
                                   const SetsAvx2& sets) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i all = _mm256_set1_epi32(-1);
  __m256i slot[kUnits];
  for (int u = 0; u < kUnits; ++u) slot[u] = _mm256_setzero_si256();
  constexpr int kLoadLevels = 3;  // levels whose bins are loads, not gathers
  // Unrolled, so that the slots stay in registers and each level's shape is known when
  // compiled (GCC keeps the loop otherwise, storing the slots to memory every level).
#pragma GCC unroll 8
  for (int level = 0; level < kTopLevels; ++level) {
#pragma GCC unroll 8
    for (int u = 0; u < kUnits; ++u) {
      const __m256i column_bound = table_word_avx2(table[u], slot[u], level);
      const __m256i bin =
          level < kLoadLevels
              ? table_bins_avx2(table[u], slot[u], level, bins, static_cast<uint32_t>(_mm256_cvtsi256_si32(base[u])))
              : gather_bins_avx2<4>(bins, column_bound, base[u], all);
      const __m256i right = goes_right_avx2<kCategorical>(bin, column_bound, sets);
      slot[u] = _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(slot[u], slot[u]), one), right);
    }
  }
  const __m256i first = _mm256_set1_epi32((1 << kTopLevels) - 1);
  for (int u = 0; u < kUnits; ++u)
    pending = leave_table_avx2<4, kCategorical>(nodes, bins,
                                                table_word_avx2(table[u] + 32, _mm256_sub_epi32(slot[u], first), kTopLevels),
                                                base[u], out[u], last, leaves, list_node, list_where, pending, sets);
  return pending;
}

// walk_rows_avx512 for AVX2: rows in lanes, 16 * kGroups interleaved rows (lane j of group
// g reads column c's bin at bins[g * group_stride + 16 c + j]; `bins` needs one element of
// padding, and bin offsets stay below 2^16) through `trees` (at most 8) trees from their
// tables; tree i's leaf for row r goes to leaves[i * 128 + r]. The table levels run for
// every lane, four registers at a time; the lanes still inside a tree then go on in a work
// list shared by all `trees` trees (walk_list_avx2). Node indices stay below 2^28. `list`
// holds 4 * (trees * 128 + 8). kCategorical and sets as goes_right_avx2.
template <int kGroups, bool kCategorical>
inline void walk_rows_avx2(const QuantizedNode* nodes, const uint32_t* const* tops, std::size_t trees, uint32_t depth,
                           const uint16_t* bins, std::size_t group_stride, uint32_t* leaves, uint32_t* list,
                           const SetsAvx2& sets) {
  constexpr std::size_t B = kQuantizedBlockRows;
  constexpr int kRegisters = 2 * kGroups;  // per tree
  constexpr int kUnits = 4;                // registers through the table at once
  const std::size_t capacity = trees * B + 8;
  const bool last = depth <= kTopLevels + 1;
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  std::size_t pending = 0;
  const std::size_t units = trees * kRegisters;  // even
  auto unit = [&](std::size_t v, const uint32_t*& table, __m256i& base, uint32_t& out) {
    const std::size_t i = v / kRegisters, k = v % kRegisters;
    table = tops[i];
    base = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>((k / 2) * group_stride + (k % 2) * 8)), iota);
    out = static_cast<uint32_t>(i * B + 8 * k);
  };
  std::size_t v = 0;
  for (; v + kUnits <= units; v += kUnits) {
    const uint32_t* table[kUnits];
    __m256i base[kUnits];
    uint32_t out[kUnits];
    for (int u = 0; u < kUnits; ++u) unit(v + u, table[u], base[u], out[u]);
    pending = walk_table_avx2<kUnits, kCategorical>(nodes, table, base, out, last, bins, leaves, list, list + capacity,
                                                    pending, sets);
  }
  if (v < units) {  // two registers left
    const uint32_t* table[2];
    __m256i base[2];
    uint32_t out[2];
    for (int u = 0; u < 2; ++u) unit(v + u, table[u], base[u], out[u]);
    pending = walk_table_avx2<2, kCategorical>(nodes, table, base, out, last, bins, leaves, list, list + capacity,
                                               pending, sets);
  }
  walk_list_avx2<4, kCategorical>(nodes, bins, kTopLevels, depth, pending, list, capacity, leaves, sets);
}

// Interleaved rows (`lanes`, a multiple of 16, at most kQuantizedBlockRows) through the
// trees of q, eight at a time (walk_rows_avx2; `leaves` holds 8 * kQuantizedBlockRows);
// add(t, found) then adds tree t's leaves (found[r] for row r), in file order.
// kCategorical: q may have categorical nodes (Quantization::has_categorical).
template <bool kCategorical, class Value, class Add>
inline void walk_block_avx2(const Quantization<Value>& q, const uint32_t* tree_depth, std::size_t trees,
                            const uint16_t* bins, std::size_t lanes, uint32_t* leaves, Add&& add) {
  constexpr std::size_t kTrees = 8;  // trees sharing one work list
  uint32_t list[4 * (kTrees * kQuantizedBlockRows + 8)];
  const std::size_t group_stride = kQuantizedLanes * q.width;
  const SetsAvx2 sets{q.category_sets.data(), _mm_cvtsi32_si128(static_cast<int>(q.set_shift))};
  for (std::size_t t = 0; t < trees; t += kTrees) {
    const std::size_t count = std::min(kTrees, trees - t);
    const uint32_t* tops[kTrees];
    const uint32_t depth = q.tables_of(tree_depth, t, count, tops);
    switch (lanes / kQuantizedLanes) {
      case 8: walk_rows_avx2<8, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
      case 7: walk_rows_avx2<7, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
      case 6: walk_rows_avx2<6, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
      case 5: walk_rows_avx2<5, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
      case 4: walk_rows_avx2<4, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
      case 3: walk_rows_avx2<3, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
      case 2: walk_rows_avx2<2, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
      default: walk_rows_avx2<1, kCategorical>(q.nodes.data(), tops, count, depth, bins, group_stride, leaves, list, sets); break;
    }
    for (std::size_t i = 0; i < count; ++i) add(t + i, leaves + i * kQuantizedBlockRows);
  }
}

// One row through `count` (at most kQuantizedBlockRows) trees, a lane per tree (single
// rows): lane j starts at its tree's table, top + tables[j] (Quantization::top_offset),
// and ends at the node index written to leaves[j]; lanes are taken eight at a time, so
// tables[] is read and leaves[] written up to a multiple of eight. The table levels are
// scalar (walk_tables_row); the lanes still inside a tree then go on in a work list, so
// that one deep walk does not hold the others: a scalar one when few are left
// (walk_list_row: leaf-wise forests), else walk_list_avx2. `bins` (the row's, not
// interleaved) needs one element of padding. Node indices stay below 2^28.
// kCategorical: nodes may be categorical, their sets in `sets` (Quantization::category_sets).
template <bool kCategorical>
inline void walk_trees_avx2(const QuantizedNode* nodes, const uint32_t* top, const uint32_t* tables, uint32_t depth,
                            const uint16_t* bins, std::size_t count, uint32_t* leaves, const uint32_t* sets,
                            uint32_t set_shift) {
  const std::size_t lanes = (count + 7) / 8 * 8;
  constexpr std::size_t kCapacity = kQuantizedBlockRows + 8;
  uint32_t list[4 * kCapacity];
  const bool last = depth <= kTopLevels + 1;
  uint32_t words[kQuantizedBlockRows];
  walk_tables_row<kCategorical>(top, tables, lanes, bins, words, sets, set_shift);
  if (walk_list_row<kCategorical>(nodes, bins, words, lanes, depth, leaves, sets, set_shift)) return;
  const __m256i zero = _mm256_setzero_si256();
  const SetsAvx2 set_words{sets, _mm_cvtsi32_si128(static_cast<int>(set_shift))};
  std::size_t pending = 0;
  for (std::size_t j = 0; j < lanes; j += 8)
    pending = leave_table_avx2<0, kCategorical>(nodes, bins, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + j)),
                                                zero, static_cast<uint32_t>(j), last, leaves, list, list + kCapacity,
                                                pending, set_words);
  walk_list_avx2<0, kCategorical>(nodes, bins, kTopLevels, depth, pending, list, kCapacity, leaves, set_words);
}

// How many of t[0, m) lie left of x by the rule's comparison (x is right of them):
// compares of eight floats or four doubles, movemask and popcount. The last block is a
// masked load, so nothing past t[m) is read.
template <bool kStrict>
inline uint32_t right_of_count_avx2(const float* t, uint32_t m, float x) {
  constexpr int kPredicate = kStrict ? _CMP_LE_OQ : _CMP_LT_OQ;  // t <= x or t < x
  const __m256 value = _mm256_set1_ps(x);
  uint32_t count = 0, k = 0;
  for (; k + 8 <= m; k += 8)
    count += static_cast<uint32_t>(_mm_popcnt_u32(static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(t + k), value, kPredicate)))));
  if (k < m) {
    const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(m - k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const int hits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_maskload_ps(t + k, keep), value, kPredicate)) & lanes_of(keep);
    count += static_cast<uint32_t>(_mm_popcnt_u32(static_cast<unsigned>(hits)));
  }
  return count;
}
template <bool kStrict>
inline uint32_t right_of_count_avx2(const double* t, uint32_t m, double x) {
  constexpr int kPredicate = kStrict ? _CMP_LE_OQ : _CMP_LT_OQ;
  const __m256d value = _mm256_set1_pd(x);
  uint32_t count = 0, k = 0;
  for (; k + 4 <= m; k += 4)
    count += static_cast<uint32_t>(_mm_popcnt_u32(static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(t + k), value, kPredicate)))));
  if (k < m) {
    const __m256i keep = _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(m - k)), _mm256_setr_epi64x(0, 1, 2, 3));
    const int hits = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_maskload_pd(t + k, keep), value, kPredicate)) &
                     _mm256_movemask_pd(_mm256_castsi256_pd(keep));
    count += static_cast<uint32_t>(_mm_popcnt_u32(static_cast<unsigned>(hits)));
  }
  return count;
}

// Avx512Count for AVX2 (bin_row's Count): over all thresholds when they fill at most four
// 64-byte blocks, else over the feature's block keys first, then inside one block.
struct Avx2RowCount {
  template <class Rule>
  static uint32_t count(typename Rule::Value x, const typename Quantization<typename Rule::Value>::Feature& f,
                        const Quantization<typename Rule::Value>& q) {
    using Value = typename Rule::Value;
    constexpr uint32_t B = Quantization<Value>::kKeyBlock;
    constexpr uint32_t kDirectBlocks = 4;
    const uint32_t m = f.end - f.begin;
    if (m <= kDirectBlocks * B) return right_of_count_avx2<Rule::kStrictLeft>(q.thresholds.data() + f.begin, m, x);
    const uint32_t first = right_of_count_avx2<Rule::kStrictLeft>(q.keys.data() + f.keys, m / B, x) * B;
    return first + right_of_count_avx2<Rule::kStrictLeft>(q.thresholds.data() + f.begin + first, std::min(B, m - first), x);
  }
};

// bin_row_lanes (simd_avx512.hpp) for AVX2: four features a register, in 64-bit lanes (a
// gather of four doubles takes 64-bit indices), up to eight registers at once; the bins
// written a feature at a time (AVX2 has no masked store of 16-bit words).
template <class Rule, int kRegisters>
inline void bin_row_lanes_avx2(const Quantization<double>& q, const double* x, std::size_t first, std::size_t n,
                               uint16_t* bins) {
  static_assert(!Rule::kStrictLeft, "x right of t is t < x");
  __m256d value[kRegisters];
  __m256i above[kRegisters], begin[kRegisters], at[kRegisters];
  const auto load = [&](const std::vector<uint32_t>& v, int r) {
    return _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data() + first + 4 * r)));
  };
  for (int r = 0; r < kRegisters; ++r) {
    value[r] = _mm256_loadu_pd(x + 4 * r);
    above[r] = _mm256_add_epi64(load(q.search_count, r), _mm256_set1_epi64x(1));
    begin[r] = _mm256_sub_epi64(load(q.search_begin, r), _mm256_set1_epi64x(1));
    at[r] = _mm256_setzero_si256();
  }
  for (uint32_t step = q.search_step; step != 0; step >>= 1) {
    const __m256i by = _mm256_set1_epi64x(step);
    for (int r = 0; r < kRegisters; ++r) {
      const __m256i next = _mm256_add_epi64(at[r], by);
      const __m256d exists = _mm256_castsi256_pd(_mm256_cmpgt_epi64(above[r], next));
      const __m256d t = _mm256_mask_i64gather_pd(_mm256_setzero_pd(), q.thresholds.data(), _mm256_add_epi64(begin[r], next),
                                                 exists, 8);
      const __m256d right = _mm256_and_pd(_mm256_cmp_pd(t, value[r], _CMP_LT_OQ), exists);
      at[r] = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(at[r]), _mm256_castsi256_pd(next), right));
    }
  }
  alignas(32) uint64_t found[4 * kRegisters];
  for (int r = 0; r < kRegisters; ++r) _mm256_store_si256(reinterpret_cast<__m256i*>(found + 4 * r), at[r]);
  store_searched_bins<Rule>(q, x, found, first, n, bins);
}

// bin_row compiled for AVX2. Float thresholds: a feature at a time, eight thresholds a compare
// (Avx2RowCount). Double thresholds: numeric features by bin_row_lanes_avx2, 32 at a time,
// then categorical ones (bin_row_searched): a little faster than compares of four doubles on
// one row of (b) and (d) (docs/benchmarks.md, bench-predict/avx2-row-quads).
template <class Rule, class In>
void bin_row_avx2(const Quantization<typename Rule::Value>& q, const In* row, std::ptrdiff_t col_stride, uint16_t* bins) {
  if constexpr (std::is_same_v<typename Rule::Value, float>) {
    bin_row<Rule, Avx2RowCount>(q, row, col_stride, bins);
  } else {
    bin_row_searched<Rule, 32, 4>(q, row, col_stride, bins, [&](const double* x, std::size_t first, std::size_t count) {
      with_registers<8>((count + 3) / 4, [&](auto k) { bin_row_lanes_avx2<Rule, decltype(k)::value>(q, x, first, count, bins); });
    });
  }
}

// acc[r] += the value at the start of node leaves[r] (nodes `node_bytes` apart), r < n, for
// one output group: eight float leaf values per gather. The same additions as the scalar
// loop, in the same order per row. (Double leaves take the scalar loop: four-wide gathers
// of doubles are slower than scalar loads on AVX2, docs/benchmarks.md, "Engine choices".)
inline void add_leaves_avx2(const void* nodes, std::size_t node_bytes, const uint32_t* leaves, std::size_t n,
                            float* acc) {
  const __m256i words = _mm256_set1_epi32(static_cast<int>(node_bytes / 4));
  const auto* base = static_cast<const float*>(nodes);
  std::size_t r = 0;
  for (; r + 8 <= n; r += 8) {
    const __m256i index = _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(leaves + r)), words);
    _mm256_storeu_ps(acc + r, _mm256_add_ps(_mm256_loadu_ps(acc + r), _mm256_i32gather_ps(base, index, 4)));
  }
  for (; r < n; ++r)
    acc[r] += *reinterpret_cast<const float*>(static_cast<const char*>(nodes) + leaves[r] * node_bytes);
}

}  // namespace floresta::detail::FLORESTA_ISA
