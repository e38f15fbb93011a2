// src/engine/simd_avx512.hpp — the quantized walk of quantized.hpp in AVX-512 registers.
//
// walk_rows_avx512 (batches) and walk_trees_avx512 (single rows): sixteen lanes per
// register and several registers in flight: per level, two gathers of node halves and one
// of bins (or a permute of bins held in registers), one unsigned compare, one masked add.
// (Gathering whole nodes eight at a time and splitting them was slower: docs/benchmarks.md,
// bench-predict.) Walks instantiated
// with kCategorical also read categorical nodes: one more gather, of a set word, for the
// lanes on such nodes (goes_right). bin_rows_avx512 bins a block of rows, bin_row_avx512
// one row.
//
// Kernel code for the AVX-512 unit only (kernels_avx512.cpp, compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512dq -mpopcnt), in its FLORESTA_ISA namespace.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "engine/quantized.hpp"

#ifndef FLORESTA_ISA
#error "engine/simd_avx512.hpp is kernel code: include it from kernels_avx512.cpp through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

// Which of 16 lanes go right, given their nodes' first words (column_bound) and their
// bins: bin > bound on numeric nodes; with kCategorical, on categorical nodes the bit of
// their set (quantized.hpp), one word gathered for those lanes only. kSkipGather: no gather
// when no lane is categorical (batches: lanes at the upper levels of one tree share a node,
// so the branch is taken for whole registers; single rows mix trees and mispredict it).
template <bool kCategorical, bool kSkipGather = false>
inline __mmask16 goes_right(__m512i column_bound, __m512i bin, const uint32_t* sets, __m128i set_shift) {
  const __mmask16 right = _mm512_cmpgt_epu32_mask(bin, _mm512_srli_epi32(column_bound, 16));
  if constexpr (!kCategorical) {
    return right;
  } else {
    const __mmask16 categorical =
        _mm512_test_epi32_mask(column_bound, _mm512_set1_epi32(static_cast<int>(kQuantizedCategorical)));
    if (kSkipGather && categorical == 0) return right;
    const __m512i set = _mm512_sll_epi32(_mm512_srli_epi32(column_bound, kQuantizedSetShift), set_shift);
    const __m512i word = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), categorical,
                                                     _mm512_add_epi32(set, _mm512_srli_epi32(bin, 5)), sets, 4);
    const __m512i bit = _mm512_sllv_epi32(_mm512_set1_epi32(1), _mm512_and_si512(bin, _mm512_set1_epi32(31)));
    // Numeric lanes gathered no word: their test is 0.
    return _kor_mask16(_kandn_mask16(categorical, right), _mm512_test_epi32_mask(word, bit));
  }
}

// The column of 16 nodes' first words, times 16 plus `lane`: where their bins sit.
inline __m512i bin_index(__m512i column_bound, __m512i lane) {
  return _mm512_add_epi32(
      _mm512_slli_epi32(_mm512_and_si512(column_bound, _mm512_set1_epi32(static_cast<int>(kQuantizedColumnMask))), 4), lane);
}

// Rows in lanes through `trees` trees, each from its top table (tops[i], see
// Quantization::top), for one block of 16 * kGroups interleaved rows: lane j of register g
// reads the bin of column c at bins[g * group_stride + 16 c + j] (32-bit loads: `bins` needs
// one element of padding). Tree i's leaf for row r is written to leaves[i * 128 + r].
//
// Leaf-wise trees end most walks inside the table but a few run deep (the deepest of a
// block's rows goes far past the table: docs/benchmarks.md, bench-predict/b). So the table levels run for every lane, and only the lanes not yet at a leaf
// go on, compacted into a work list (node, bin base, output slot) shared by all `trees`
// trees: each deeper level walks the list in full registers, writes finished lanes out and
// compacts the rest. Node indices stay below 2^28; `list` holds 3 * (trees * 128 + 16).
// kCategorical: nodes may be categorical, their sets in `sets` (Quantization::category_sets).
template <int kGroups, bool kCategorical>
inline void walk_rows_avx512(const QuantizedNode* nodes, const uint32_t* const* tops, std::size_t trees,
                             uint32_t depth, const uint16_t* bins, std::size_t group_stride, uint32_t* leaves,
                             uint32_t* list, const uint32_t* sets, uint32_t set_shift) {
  const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(set_shift));
  constexpr std::size_t B = kQuantizedBlockRows;
  const std::size_t capacity = trees * B + 16;
  uint32_t* list_node = list;
  uint32_t* list_base = list + capacity;
  uint32_t* list_out = list + 2 * capacity;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i low16 = _mm512_set1_epi32(0xFFFF);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i leaf_flag = _mm512_set1_epi32(static_cast<int>(kTopLeafFlag));
  const int* halves = reinterpret_cast<const int*>(nodes);
  std::size_t pending = 0;
  // Table levels for kTrees trees at once, so that about eight registers of lanes are in
  // flight even for a block of 16 rows (one tree at a time left 16-row batches latency-bound:
  // a level is a dependent gather).
  constexpr int kTrees = kGroups >= 8 ? 1 : 8 / kGroups;
  for (std::size_t i0 = 0; i0 < trees; i0 += kTrees) {
    const std::size_t count = std::min<std::size_t>(kTrees, trees - i0);
    // The first kTopLevels levels from two registers of split words: slot s's children are
    // slots 2s + 1 and 2s + 2, so no node is gathered until the level below them. Past the
    // last tree, the last one again (its copies' results are dropped).
    __m512i split_lo[kTrees], split_hi[kTrees], slot[kTrees][kGroups];
    for (int t = 0; t < kTrees; ++t) {
      const uint32_t* top = tops[i0 + std::min<std::size_t>(static_cast<std::size_t>(t), count - 1)];
      split_lo[t] = _mm512_loadu_si512(top);
      split_hi[t] = _mm512_loadu_si512(top + 16);
      for (int g = 0; g < kGroups; ++g) slot[t][g] = _mm512_setzero_si512();
    }
    for (int level = 0; level < kTopLevels; ++level) {
      for (int t = 0; t < kTrees; ++t) {
        for (int g = 0; g < kGroups; ++g) {
          const __m512i column_bound = _mm512_permutex2var_epi32(split_lo[t], slot[t][g], split_hi[t]);
          const __m512i bin = _mm512_and_si512(
              _mm512_i32gather_epi32(bin_index(column_bound, iota), bins + static_cast<std::size_t>(g) * group_stride, 2),
              low16);
          const __mmask16 right = goes_right<kCategorical, true>(column_bound, bin, sets, shift);
          const __m512i child = _mm512_add_epi32(_mm512_add_epi32(slot[t][g], slot[t][g]), one);
          slot[t][g] = _mm512_mask_add_epi32(child, right, child, one);
        }
      }
    }
    const __m512i first = _mm512_set1_epi32((1 << kTopLevels) - 1);
    for (std::size_t t = 0; t < count; ++t) {
      const uint32_t* top = tops[i0 + t];
      const __m512i node_lo = _mm512_loadu_si512(top + 32), node_hi = _mm512_loadu_si512(top + 48);
      for (int g = 0; g < kGroups; ++g) {
        const __m512i word = _mm512_permutex2var_epi32(node_lo, _mm512_sub_epi32(slot[t][g], first), node_hi);
        const __m512i node = _mm512_andnot_si512(leaf_flag, word);
        const std::size_t out = (i0 + t) * B + 16 * static_cast<std::size_t>(g);
        if (depth <= kTopLevels + 1) {  // at most one level left: take it in place, no list
          const __m512i column_bound = _mm512_i32gather_epi32(node, halves, 8);
          const __m512i skip = _mm512_i32gather_epi32(node, halves + 1, 8);
          const __m512i bin = _mm512_and_si512(
              _mm512_i32gather_epi32(bin_index(column_bound, iota), bins + static_cast<std::size_t>(g) * group_stride, 2),
              low16);
          const __mmask16 right = goes_right<kCategorical, true>(column_bound, bin, sets, shift);
          const __m512i next = _mm512_add_epi32(node, one);  // leaves: skip ~0 and always right
          _mm512_storeu_si512(leaves + out, _mm512_mask_add_epi32(next, right, next, skip));
          continue;
        }
        const __mmask16 deeper = _mm512_testn_epi32_mask(word, leaf_flag);
        _mm512_storeu_si512(leaves + out, node);  // final for the lanes at a leaf
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(g * group_stride)), iota);
        const __m512i slot_out = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(out)), iota);
        _mm512_storeu_si512(list_node + pending, _mm512_maskz_compress_epi32(deeper, node));
        _mm512_storeu_si512(list_base + pending, _mm512_maskz_compress_epi32(deeper, base));
        _mm512_storeu_si512(list_out + pending, _mm512_maskz_compress_epi32(deeper, slot_out));
        pending += static_cast<std::size_t>(__builtin_popcount(deeper));
      }
    }
  }
  // The work list, a level at a time, compacted in place (a register's survivors are written
  // at or before the place it was read from).
  const __m512i leaf_skip = _mm512_set1_epi32(-1);
  for (uint32_t level = kTopLevels; pending > 0 && level <= depth; ++level) {
    std::size_t kept = 0;
    for (std::size_t k = 0; k < pending; k += 16) {
      const __mmask16 valid = pending - k >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (pending - k)) - 1u);
      const __m512i node = _mm512_loadu_si512(list_node + k);
      const __m512i base = _mm512_loadu_si512(list_base + k);
      const __m512i slot_out = _mm512_loadu_si512(list_out + k);
      const __m512i zero = _mm512_setzero_si512();
      const __m512i column_bound = _mm512_mask_i32gather_epi32(zero, valid, node, halves, 8);
      const __m512i skip = _mm512_mask_i32gather_epi32(zero, valid, node, halves + 1, 8);
      const __mmask16 done = _mm512_mask_cmpeq_epi32_mask(valid, skip, leaf_skip);
      _mm512_mask_i32scatter_epi32(leaves, done, slot_out, node, 4);
      const __mmask16 live = valid & static_cast<__mmask16>(~done);
      const __m512i bin =
          _mm512_and_si512(_mm512_mask_i32gather_epi32(zero, live, bin_index(column_bound, base), bins, 2), low16);
      const __mmask16 right = goes_right<kCategorical, true>(column_bound, bin, sets, shift);
      const __m512i next = _mm512_add_epi32(node, one);
      const __m512i moved = _mm512_mask_add_epi32(next, right, next, skip);
      if (level + 1 == depth) {  // the deepest level: every lane that moved is at its leaf
        _mm512_mask_i32scatter_epi32(leaves, live, slot_out, moved, 4);
        continue;
      }
      _mm512_storeu_si512(list_node + kept, _mm512_maskz_compress_epi32(live, moved));
      _mm512_storeu_si512(list_base + kept, _mm512_maskz_compress_epi32(live, base));
      _mm512_storeu_si512(list_out + kept, _mm512_maskz_compress_epi32(live, slot_out));
      kept += static_cast<std::size_t>(__builtin_popcount(live));
    }
    pending = kept;
  }
}

// The bins of 16 lanes' columns (low 16 bits of column_bound) from one row's bins held in
// registers: `kRegisters` of 32 bins (2: up to 64 columns, 4: up to 128).
template <int kRegisters>
inline __m512i bins_in_registers(const __m512i* row_bins, __m512i column_bound) {
  // vpermt2w picks 16-bit words by the low 6 bits of each word of the index: the low word
  // of each lane is its column; the high word (the bound) picks a word masked off below.
  __m512i bin = _mm512_permutex2var_epi16(row_bins[0], column_bound, row_bins[1]);
  if (kRegisters == 4) {
    const __mmask16 high = _mm512_test_epi32_mask(column_bound, _mm512_set1_epi32(64));
    bin = _mm512_mask_mov_epi32(bin, high, _mm512_permutex2var_epi16(row_bins[2], column_bound, row_bins[3]));
  }
  return _mm512_and_si512(bin, _mm512_set1_epi32(0xFFFF));
}

// The bins of 16 lanes' columns for one row: from its bins held in kRegisters registers (2
// or 4, bins_in_registers), or with kRegisters = 0 gathered from `bins` (32-bit loads of
// which the low half is used: `bins` needs one element of padding).
template <int kRegisters>
inline __m512i row_bins_of(const __m512i* row_bins, const uint16_t* bins, __m512i column_bound) {
  if constexpr (kRegisters == 0) {
    const __m512i columns = _mm512_and_si512(column_bound, _mm512_set1_epi32(static_cast<int>(kQuantizedColumnMask)));
    return _mm512_and_si512(_mm512_i32gather_epi32(columns, bins, 2), _mm512_set1_epi32(0xFFFF));
  } else {
    return bins_in_registers<kRegisters>(row_bins, column_bound);
  }
}

// One row through 16 * kGroups trees, a lane per tree (single rows). Lane j of register g
// starts at its tree's table, q.row_top + tables[16 g + j] (Quantization::row_top), and ends
// at the node index written to leaves[16 g + j]; when depth <= kRowTopLevels, at the index in
// `top` of the table word that holds it (| kTopLeafFlag) instead. With kRegisters = 2 or 4
// the row's bins (at most 32 * kRegisters columns; `bins` readable that far) stay in
// registers, so a split's bin is a permute, not a gather: the first three levels read the
// table words of the lanes' sixteen trees from `front` (Quantization::top_front, at the first lane's block: the lanes
// are sixteen consecutive trees a register, the first a multiple of 16) with loads and blends,
// the next three take one gather (the table word), deeper ones two (the node). Wider rows
// (kRegisters = 0) gather their bins from `bins`. Node indices stay below 2^28.
// kCategorical: as in walk_rows_avx512.
template <int kGroups, int kRegisters, bool kCategorical>
inline void walk_trees_avx512(const QuantizedNode* nodes, const uint32_t* top, const uint32_t* front, const uint32_t* tables,
                              uint32_t depth, const uint16_t* bins, uint32_t* leaves, const uint32_t* sets,
                              uint32_t set_shift) {
  static_assert(kTopFrontLevels == 3 && kRowTopLevels > kTopFrontLevels, "the loads below are the front's three levels");
  const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(set_shift));
  __m512i row_bins[kRegisters > 0 ? kRegisters : 1];
  for (int k = 0; k < kRegisters; ++k) row_bins[k] = _mm512_loadu_si512(bins + 32 * k);
  const int* words = reinterpret_cast<const int*>(top);
  const int* halves = reinterpret_cast<const int*>(nodes);
  const __m512i one = _mm512_set1_epi32(1);
  __m512i table[kGroups], slot[kGroups], at[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    table[g] = _mm512_loadu_si512(tables + 16 * g);
    slot[g] = _mm512_setzero_si512();
  }
  __mmask16 went[kGroups][2];  // the lanes that went right at levels 0 and 1
  for (int level = 0; level < kRowTopLevels; ++level) {
    for (int g = 0; g < kGroups; ++g) {
      const auto word = [&](std::size_t s) {
        return _mm512_loadu_si512(front + (static_cast<std::size_t>(g) * kTopFrontSlots + s) * kQuantizedLanes);
      };
      __m512i column_bound;
      if (level == 0) {
        column_bound = word(0);
      } else if (level == 1) {  // slot 1 or 2
        column_bound = _mm512_mask_blend_epi32(went[g][0], word(1), word(2));
      } else if (level == 2) {  // slots 3-4 under slot 1, 5-6 under slot 2
        column_bound = _mm512_mask_blend_epi32(went[g][0], _mm512_mask_blend_epi32(went[g][1], word(3), word(4)),
                                               _mm512_mask_blend_epi32(went[g][1], word(5), word(6)));
      } else {
        column_bound = _mm512_i32gather_epi32(_mm512_add_epi32(table[g], slot[g]), words, 4);
      }
      const __mmask16 right =
          goes_right<kCategorical>(column_bound, row_bins_of<kRegisters>(row_bins, bins, column_bound), sets, shift);
      if (level < 2) went[g][level] = right;
      const __m512i child = _mm512_add_epi32(_mm512_add_epi32(slot[g], slot[g]), one);
      slot[g] = _mm512_mask_add_epi32(child, right, child, one);
    }
  }
  // The seventh level's slots 63..126 hold node indices at table words 64..127. Trees that
  // end within the table leave their word's index for the caller to read in its ordered
  // sum (a scalar load there costs less than a gather here).
  if (depth <= kRowTopLevels) {
    for (int g = 0; g < kGroups; ++g)
      _mm512_storeu_si512(leaves + 16 * g, _mm512_add_epi32(_mm512_add_epi32(table[g], slot[g]), one));
    return;
  }
  const __m512i node_bits = _mm512_set1_epi32(static_cast<int>(~kTopLeafFlag));
  for (int g = 0; g < kGroups; ++g)
    at[g] = _mm512_and_si512(_mm512_i32gather_epi32(_mm512_add_epi32(_mm512_add_epi32(table[g], slot[g]), one), words, 4),
                             node_bits);
  const __m512i leaf_skip = _mm512_set1_epi32(-1);
  for (uint32_t level = kRowTopLevels; level < depth; ++level) {
    __mmask16 stay = 0xFFFF;
    for (int g = 0; g < kGroups; ++g) {
      const __m512i column_bound = _mm512_i32gather_epi32(at[g], halves, 8);
      const __m512i skip = _mm512_i32gather_epi32(at[g], halves + 1, 8);
      const __mmask16 right =
          goes_right<kCategorical>(column_bound, row_bins_of<kRegisters>(row_bins, bins, column_bound), sets, shift);
      const __m512i next = _mm512_add_epi32(at[g], one);
      at[g] = _mm512_mask_add_epi32(next, right, next, skip);
      stay &= _mm512_cmpeq_epi32_mask(skip, leaf_skip);  // leaves never go left
    }
    if (stay == 0xFFFF) break;
  }
  for (int g = 0; g < kGroups; ++g) _mm512_storeu_si512(leaves + 16 * g, at[g]);
}

// The mask of t[0, 16) (float) or t[0, 8) (double), loaded under `lanes`, comparing true
// against x: predicate(t, x).
template <int kPredicate>
inline uint32_t compare_block(const float* t, uint32_t lanes, float x) {
  return _mm512_mask_cmp_ps_mask(static_cast<__mmask16>(lanes), _mm512_maskz_loadu_ps(static_cast<__mmask16>(lanes), t),
                                 _mm512_set1_ps(x), kPredicate);
}
template <int kPredicate>
inline uint32_t compare_block(const double* t, uint32_t lanes, double x) {
  return _mm512_mask_cmp_pd_mask(static_cast<__mmask8>(lanes), _mm512_maskz_loadu_pd(static_cast<__mmask8>(lanes), t),
                                 _mm512_set1_pd(x), kPredicate);
}

// How many of t[0, m) compare true against x, a register at a time.
template <int kPredicate, class Value>
inline uint32_t right_of_count(const Value* t, uint32_t m, Value x) {
  constexpr uint32_t kWidth = 64 / sizeof(Value);
  uint32_t count = 0;
  for (uint32_t k = 0; k < m; k += kWidth) {
    const uint32_t lanes = m - k >= kWidth ? (1u << kWidth) - 1u : (1u << (m - k)) - 1u;
    count += static_cast<uint32_t>(__builtin_popcount(compare_block<kPredicate>(t + k, lanes, x)));
  }
  return count;
}

// acc[r] += the value at the start of node leaves[r] (nodes `node_bytes` apart), r < n, for
// one output group: sixteen float leaf values per gather. The same additions as the scalar
// loop, in the same order per row.
inline void add_leaves_avx512(const void* nodes, std::size_t node_bytes, const uint32_t* leaves, std::size_t n,
                              float* acc) {
  const __m512i words = _mm512_set1_epi32(static_cast<int>(node_bytes / 4));
  std::size_t r = 0;
  for (; r + 16 <= n; r += 16) {
    const __m512i index = _mm512_mullo_epi32(_mm512_loadu_si512(leaves + r), words);
    _mm512_storeu_ps(acc + r, _mm512_add_ps(_mm512_loadu_ps(acc + r), _mm512_i32gather_ps(index, nodes, 4)));
  }
  for (; r < n; ++r)
    acc[r] += *reinterpret_cast<const float*>(static_cast<const char*>(nodes) + leaves[r] * node_bytes);
}

// The number of f's thresholds x lies right of, by compares and popcounts instead of a
// binary search: over all of them when they fill at most kDirectBlocks registers, else
// first over the feature's block keys (Quantization::kKeyBlock), then inside one block. For
// bin_row of walk.hpp (batches bin with bin_rows_avx512). Single rows bin with 4: a few
// direct registers cover typical features, and keys first pay only for the big ones
// (docs/benchmarks.md, "Engine choices", bench-predict/c).
template <uint32_t kDirectBlocks>
struct Avx512Count {
  template <class Rule>
  static uint32_t count(
      typename Rule::Value x, const typename Quantization<typename Rule::Value>::Feature& f,
      const Quantization<typename Rule::Value>& q) {
    using Value = typename Rule::Value;
    constexpr int kPredicate = Rule::kStrictLeft ? _CMP_LE_OQ : _CMP_LT_OQ;  // t <= x or t < x: x right of t
    constexpr uint32_t B = Quantization<Value>::kKeyBlock;
    const uint32_t m = f.end - f.begin;
    if (m <= kDirectBlocks * B) return right_of_count<kPredicate>(q.thresholds.data() + f.begin, m, x);
    const uint32_t first = right_of_count<kPredicate>(q.keys.data() + f.keys, m / B, x) * B;
    return first + right_of_count<kPredicate>(q.thresholds.data() + f.begin + first, std::min(B, m - first), x);
  }
};
using Avx512RowCount = Avx512Count<4>;

// bin_rows for AVX-512, rows in lanes: per binned feature, the block's values (after
// Rule::input) go through a branch-free binary search over the feature's thresholds, eight
// (double) or sixteen (float) rows per register and every register of the block at once, so
// that their gathers overlap: log2(m) gathers per register instead of m / 8 compares per row,
// which pays for features with many thresholds (docs/benchmarks.md, bench-predict/b). The
// count is the same as count_right_of's: the thresholds x lies right of, by the rule's own
// comparison; NaN counts none and is binned as missing.
template <class Rule, class In>
void bin_rows_avx512(const Quantization<typename Rule::Value>& q, const In* const* rows, std::size_t count,
                     std::ptrdiff_t col_stride, uint16_t* bins) {
  using Value = typename Rule::Value;
  constexpr std::size_t L = kQuantizedLanes;
  constexpr std::size_t W = 64 / sizeof(Value);  // lanes per register
  constexpr std::size_t kRegisters = kQuantizedBlockRows / W;
  constexpr int kPredicate = Rule::kStrictLeft ? _CMP_LE_OQ : _CMP_LT_OQ;  // t <= x or t < x: x right of t
  static_assert(L == 16 && (W == 8 || W == 16), "sixteen interleaved rows, double or float lanes");
  const std::size_t padded = (count + L - 1) / L * L;
  const std::size_t registers = padded / W;
  const std::size_t group = L * q.width;
  alignas(64) Value x[kQuantizedBlockRows];
  for (std::size_t i = 0; i < q.features.size(); ++i) {
    const auto& f = q.features[i];
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(f.feature) * col_stride;
    if (f.categorical) {  // a code and two compares a row: no search to vectorise
      for (std::size_t r = 0; r < padded; ++r)
        bin_value<Rule, ScalarCount>(Rule::input(rows[r < count ? r : count - 1][offset]), f, q,
                                     bins + (r / L) * group + 2 * i * L + r % L, L);
      continue;
    }
    for (std::size_t r = 0; r < padded; ++r) x[r] = Rule::input(rows[r < count ? r : count - 1][offset]);
    const Value* t = q.thresholds.data() + f.begin;
    const auto m = static_cast<int>(f.end - f.begin);
    int top = m == 0 ? 0 : 1;
    while (2 * top <= m) top *= 2;
    // The search's first levels (four for double, five for float) probe at most 2W - 1
    // thresholds, the k-th of them t[k unit - 1] (unit: the last of those levels' step); they
    // are read into two registers once and picked by permutes instead of gathered. Probes past
    // the last threshold read NaN, which no ordered compare takes: as `inside` does below.
    int levels = 0, unit = top;
    for (int step = top; step > 0 && levels < (W == 8 ? 4 : 5); step /= 2, ++levels) unit = step;
    alignas(64) Value probes[2 * W];
    for (int k = 1; k <= static_cast<int>(2 * W); ++k)
      probes[k - 1] = k < (1 << levels) && k * unit <= m ? t[k * unit - 1] : std::numeric_limits<Value>::quiet_NaN();
    const int unit_shift = __builtin_ctz(static_cast<unsigned>(unit | (1 << 30)));
    const bool zero_missing = Rule::kZeroMissing && f.zero_missing;
    uint16_t* first = bins + 2 * i * L;  // the feature's missing-goes-left column; +L: right
    if constexpr (W == 8) {
      const __m512d probe_low = _mm512_load_pd(probes), probe_high = _mm512_load_pd(probes + W);
      __m256i at[kRegisters];  // thresholds x is known to lie right of
      for (std::size_t k0 = 0; k0 < registers; k0 += 8) {  // 8 registers at a time: no spills
        const std::size_t k1 = std::min(registers, k0 + 8);
        __m512d value[8];
        for (std::size_t k = k0; k < k1; ++k) {
          value[k - k0] = _mm512_load_pd(x + W * k);
          at[k] = _mm256_setzero_si256();
        }
        int step = top;
        for (int level = 0; level < levels; ++level, step /= 2) {  // probe k = (at + step) / unit, at 1 + (k - 1)
          const __m256i step_v = _mm256_set1_epi32(step);
          for (std::size_t k = k0; k < k1; ++k) {
            const __m256i slot = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_add_epi32(at[k], step_v), unit_shift),
                                                  _mm256_set1_epi32(1));
            const __m512d threshold = _mm512_permutex2var_pd(probe_low, _mm512_cvtepu32_epi64(slot), probe_high);
            const __mmask8 right = _mm512_cmp_pd_mask(threshold, value[k - k0], kPredicate);
            at[k] = _mm256_mask_add_epi32(at[k], right, at[k], step_v);
          }
        }
        for (; step > 0; step /= 2) {  // at + step <= m: at <= m - step
          const __m256i step_v = _mm256_set1_epi32(step), limit = _mm256_set1_epi32(m - step);
          const __m256i probe = _mm256_set1_epi32(step - 1);
          for (std::size_t k = k0; k < k1; ++k) {
            const __mmask8 inside = _mm256_cmple_epi32_mask(at[k], limit);
            const __m512d threshold =
                _mm512_mask_i32gather_pd(_mm512_setzero_pd(), inside, _mm256_add_epi32(at[k], probe), t, 8);
            const __mmask8 right = _mm512_mask_cmp_pd_mask(inside, threshold, value[k - k0], kPredicate);
            at[k] = _mm256_mask_add_epi32(at[k], right, at[k], step_v);
          }
        }
      }
      for (std::size_t k = 0; k < registers; ++k) {
        const __m512d value_k = _mm512_load_pd(x + W * k);
        __mmask8 missing = _mm512_cmp_pd_mask(value_k, value_k, _CMP_UNORD_Q);
        if (zero_missing) missing |= _mm512_cmp_pd_mask(value_k, _mm512_setzero_pd(), _CMP_EQ_OQ);
        const __m256i bin = _mm256_add_epi32(at[k], _mm256_set1_epi32(1));
        uint16_t* out = first + (k / 2) * group + (k % 2) * W;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                         _mm256_cvtepi32_epi16(_mm256_maskz_mov_epi32(static_cast<__mmask8>(~missing), bin)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + L),
                         _mm256_cvtepi32_epi16(_mm256_mask_mov_epi32(bin, missing, _mm256_set1_epi32(kMissingRight))));
      }
    } else {
      __m512 value[kRegisters];
      __m512i at[kRegisters];
      for (std::size_t k = 0; k < registers; ++k) {
        value[k] = _mm512_load_ps(x + W * k);
        at[k] = _mm512_setzero_si512();
      }
      const __m512 probe_low = _mm512_load_ps(probes), probe_high = _mm512_load_ps(probes + W);
      int step = top;
      for (int level = 0; level < levels; ++level, step /= 2) {
        const __m512i step_v = _mm512_set1_epi32(step);
        for (std::size_t k = 0; k < registers; ++k) {
          const __m512i slot = _mm512_sub_epi32(_mm512_srli_epi32(_mm512_add_epi32(at[k], step_v), unit_shift),
                                                _mm512_set1_epi32(1));
          const __m512 threshold = _mm512_permutex2var_ps(probe_low, slot, probe_high);
          const __mmask16 right = _mm512_cmp_ps_mask(threshold, value[k], kPredicate);
          at[k] = _mm512_mask_add_epi32(at[k], right, at[k], step_v);
        }
      }
      for (; step > 0; step /= 2) {
        const __m512i step_v = _mm512_set1_epi32(step), limit = _mm512_set1_epi32(m - step);
        const __m512i probe = _mm512_set1_epi32(step - 1);
        for (std::size_t k = 0; k < registers; ++k) {
          const __mmask16 inside = _mm512_cmple_epi32_mask(at[k], limit);
          const __m512 threshold =
              _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, _mm512_add_epi32(at[k], probe), t, 4);
          const __mmask16 right = _mm512_mask_cmp_ps_mask(inside, threshold, value[k], kPredicate);
          at[k] = _mm512_mask_add_epi32(at[k], right, at[k], step_v);
        }
      }
      for (std::size_t k = 0; k < registers; ++k) {
        __mmask16 missing = _mm512_cmp_ps_mask(value[k], value[k], _CMP_UNORD_Q);
        if (zero_missing) missing |= _mm512_cmp_ps_mask(value[k], _mm512_setzero_ps(), _CMP_EQ_OQ);
        const __m512i bin = _mm512_add_epi32(at[k], _mm512_set1_epi32(1));
        uint16_t* out = first + k * group;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                            _mm512_cvtepi32_epi16(_mm512_maskz_mov_epi32(static_cast<__mmask16>(~missing), bin)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + L),
                            _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(bin, missing, _mm512_set1_epi32(kMissingRight))));
      }
    }
  }
  const std::size_t leaf = 2 * q.features.size() * L;
  for (std::size_t g = 0; g < padded / L; ++g)
    for (std::size_t l = 0; l < L; ++l) bins[g * group + leaf + l] = kMissingRight;
}

// Features [first, first + n) of one row (n <= 8 kRegisters; double thresholds), binned into
// bins[2 first ..] by a branch-free binary search per feature, eight features a register
// and kRegisters registers at once, so that their gathers overlap: `at` counts the
// thresholds x lies right of and grows by each power of two from q.search_step down while
// the threshold at at + step - 1 exists (a lane stops at its feature's count, 0 on
// categorical features) and x lies right of it (t < x: double rules go left iff x <= t). A
// missing value (NaN; zero where it counts as missing) gets 0 in the first column and
// kMissingRight in the second, as bin_value.
template <class Rule, int kRegisters>
inline void bin_row_lanes(const Quantization<double>& q, const double* x, std::size_t first, std::size_t n,
                          uint16_t* bins) {
  static_assert(!Rule::kStrictLeft, "x right of t is t < x");
  __m512d value[kRegisters];
  __m256i count[kRegisters], begin[kRegisters], at[kRegisters];
  const auto load = [&](const std::vector<uint32_t>& v, int r) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v.data() + first + 8 * r));
  };
  for (int r = 0; r < kRegisters; ++r) {
    value[r] = _mm512_loadu_pd(x + 8 * r);
    count[r] = load(q.search_count, r);
    begin[r] = _mm256_sub_epi32(load(q.search_begin, r), _mm256_set1_epi32(1));
    at[r] = _mm256_setzero_si256();
  }
  for (uint32_t step = q.search_step; step != 0; step >>= 1) {
    const __m256i by = _mm256_set1_epi32(static_cast<int>(step));
    for (int r = 0; r < kRegisters; ++r) {
      const __m256i next = _mm256_add_epi32(at[r], by);
      const __mmask8 exists = _mm256_cmple_epu32_mask(next, count[r]);
      const __m512d t = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), exists, _mm256_add_epi32(begin[r], next),
                                                 q.thresholds.data(), 8);
      at[r] = _mm256_mask_mov_epi32(at[r], _mm512_mask_cmp_pd_mask(exists, t, value[r], _CMP_LT_OQ), next);
    }
  }
  for (int r = 0; r < kRegisters; ++r) {
    __mmask8 missing = _mm512_cmp_pd_mask(value[r], value[r], _CMP_UNORD_Q);
    if constexpr (Rule::kZeroMissing) {
      const __m256i zero_missing = load(q.search_zero_missing, r);
      missing |= _mm512_cmp_pd_mask(value[r], _mm512_setzero_pd(), _CMP_EQ_OQ) &
                 _mm256_test_epi32_mask(zero_missing, zero_missing);
    }
    // bin | bin << 16: the same bin in both columns, or 0 and kMissingRight when missing.
    const __m256i bin = _mm256_add_epi32(at[r], _mm256_set1_epi32(1));
    const __m256i words = _mm256_mask_mov_epi32(_mm256_or_si256(bin, _mm256_slli_epi32(bin, 16)), missing,
                                                _mm256_set1_epi32(static_cast<int>(uint32_t{kMissingRight} << 16)));
    const std::size_t lanes = n > 8u * r ? std::min<std::size_t>(8, n - 8u * r) : 0;
    _mm256_mask_storeu_epi32(bins + 2 * (first + 8u * r), static_cast<__mmask8>((1u << lanes) - 1u), words);
  }
}

// bin_row for AVX-512. Float thresholds (XGBoost): a feature at a time, sixteen thresholds a
// compare (Avx512RowCount). Double thresholds (LightGBM, scikit-learn): numeric features by
// bin_row_lanes, 32 at a time, then categorical ones one by one (bin_value; a code is its
// bin). On Zen 5 a gather costs about a load an element, so the search in lanes pays about a
// load per step and feature, while a compare covers sixteen floats but only eight doubles:
// the lanes took 10-12% off one row of (b) and 4% off (d), and added 3% to (c)
// (docs/benchmarks.md, bench-predict/row-binning).
template <class Rule, class In>
void bin_row_avx512(const Quantization<typename Rule::Value>& q, const In* row, std::ptrdiff_t col_stride,
                    uint16_t* bins) {
  if constexpr (std::is_same_v<typename Rule::Value, float>) {
    bin_row<Rule, Avx512RowCount>(q, row, col_stride, bins);
  } else {
    bin_row_searched<Rule, 32, 8>(q, row, col_stride, bins, [&](const double* x, std::size_t first, std::size_t count) {
      with_registers<4>((count + 7) / 8, [&](auto k) { bin_row_lanes<Rule, decltype(k)::value>(q, x, first, count, bins); });
    });
  }
}

// One row through `lanes` (a multiple of 16, at most 128) trees; see walk_trees_avx512.
template <int kRegisters, bool kCategorical>
inline void walk_trees_lanes(const QuantizedNode* nodes, const uint32_t* top, const uint32_t* front, const uint32_t* tables,
                             uint32_t depth, const uint16_t* bins, std::size_t lanes, uint32_t* leaves, const uint32_t* sets,
                             uint32_t set_shift) {
  switch (lanes / kQuantizedLanes) {
    case 8: return walk_trees_avx512<8, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
    case 7: return walk_trees_avx512<7, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
    case 6: return walk_trees_avx512<6, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
    case 5: return walk_trees_avx512<5, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
    case 4: return walk_trees_avx512<4, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
    case 3: return walk_trees_avx512<3, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
    case 2: return walk_trees_avx512<2, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
    default: return walk_trees_avx512<1, kRegisters, kCategorical>(nodes, top, front, tables, depth, bins, leaves, sets, set_shift);
  }
}

// Interleaved rows (`lanes`, a multiple of 16, at most kQuantizedBlockRows) through `trees`
// trees from their tables; see walk_rows_avx512.
template <bool kCategorical>
inline void walk_rows_lanes(const QuantizedNode* nodes, const uint32_t* const* tops, std::size_t trees, uint32_t depth,
                            const uint16_t* bins, std::size_t group_stride, std::size_t lanes, uint32_t* leaves,
                            uint32_t* list, const uint32_t* sets, uint32_t set_shift) {
  switch (lanes / kQuantizedLanes) {
    case 8: return walk_rows_avx512<8, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
    case 7: return walk_rows_avx512<7, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
    case 6: return walk_rows_avx512<6, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
    case 5: return walk_rows_avx512<5, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
    case 4: return walk_rows_avx512<4, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
    case 3: return walk_rows_avx512<3, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
    case 2: return walk_rows_avx512<2, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
    default: return walk_rows_avx512<1, kCategorical>(nodes, tops, trees, depth, bins, group_stride, leaves, list, sets, set_shift);
  }
}

}  // namespace floresta::detail::FLORESTA_ISA
