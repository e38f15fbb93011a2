// src/engine/walk.hpp — the portable walks the plans are built from: value trees one row or
// eight lanes at a time (walk, walk_lanes, linear_leaf), and quantized trees (binning, the
// sixteen-lane walk, the table levels and the work lists). isa.hpp gathers the quantized
// ones into PortableIsa.
//
// Kernel code: included only through score.hpp inside a kernel translation unit, in the
// namespace of that unit's instruction set (FLORESTA_ISA), so that each unit's copies of
// these templates stay its own (see kernel.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "engine/forest.hpp"
#include "engine/quantized.hpp"
#include "engine/rows.hpp"

#ifndef FLORESTA_ISA
#error "engine/walk.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

// Walks one tree for one row; returns its leaf. Terminates because every step moves
// strictly forward inside the tree (checked by compile()).
template <class Rule, bool kCategorical, bool kContiguous, class In>
inline const Node<typename Rule::Value>* walk(const Node<typename Rule::Value>* node, const uint32_t* words,
                                              const In* row, std::ptrdiff_t col_stride) {
  while (!node->is_leaf()) {
    const std::ptrdiff_t f = static_cast<std::ptrdiff_t>(node->feature());
    const auto x = Rule::input(kContiguous ? row[f] : row[f * col_stride]);
    node += goes_left<Rule, kCategorical>(*node, words, x) ? 1u : node->right;
  }
  return node;
}

// Walks one tree for kLanes rows at once: every row advances one level per step, so the
// loads of independent rows overlap instead of waiting on each other. A row that reached
// its leaf stays there (the step is masked to 0), so `depth` steps finish every row. No
// branch depends on the data except the categorical test, taken only on categorical nodes.
// `roots[i]` and `rows[i]` give each lane its tree and its row: one tree for several rows
// (batches), or several trees for one row (single rows).
template <class Rule, std::size_t kLanes, bool kCategorical, bool kContiguous, class In>
inline void walk_lanes(const Node<typename Rule::Value>* const* roots, uint32_t depth, const In* const* rows,
                       std::ptrdiff_t col_stride, const uint32_t* words, typename Rule::Value* leaves) {
  using Value = typename Rule::Value;
  const Node<Value>* node[kLanes];
  for (std::size_t i = 0; i < kLanes; ++i) node[i] = roots[i];
  for (uint32_t level = 0; level < depth; ++level) {
    for (std::size_t i = 0; i < kLanes; ++i) {
      const Node<Value>* n = node[i];
      const uint32_t info = n->info;
      const std::ptrdiff_t f = static_cast<std::ptrdiff_t>(info & kFeatureMask);
      const Value x = Rule::input(kContiguous ? rows[i][f] : rows[i][f * col_stride]);
      // Bit arithmetic only: NaN fails every comparison, so it can go left only by default.
      const uint32_t default_left = (info >> 30) & 1u;
      uint32_t missing = static_cast<uint32_t>(x != x);
      if (Rule::kZeroMissing)
        missing |= ((info >> 28) & 1u) & static_cast<uint32_t>(std::fabs(x) <= Value(kLightGBMZeroThreshold));
      uint32_t compare;
      if (kCategorical && (info & kCategoricalFlag) && !(info & kLeafFlag))
        compare = static_cast<uint32_t>(Rule::category_left(x, words + n->bitset, default_left != 0));
      else
        compare = static_cast<uint32_t>(Rule::numeric_left(x, n->value));
      const uint32_t left = (compare & (missing ^ 1u)) | (missing & default_left);
      uint32_t step = left + (left ^ 1u) * n->right;  // 1 when left, right offset otherwise
      step &= (info >> 31) - 1u;  // leaves stay put
      node[i] = n + step;
    }
    // Deep, lopsided trees (LightGBM's leaf-wise growth) end most walks early.
    if (level >= 2) {
      uint32_t all_leaves = 1u;
      for (std::size_t i = 0; i < kLanes; ++i) all_leaves &= node[i]->info >> 31;
      if (all_leaves) break;
    }
  }
  for (std::size_t i = 0; i < kLanes; ++i) leaves[i] = node[i]->value;
}

// A linear leaf's output (LightGBM linear_tree): the constant leaf value when any input is NaN.
template <class Rule, class In>
inline typename Rule::Accum linear_leaf(const double* terms, const In* row, std::ptrdiff_t col_stride) {
  using Value = typename Rule::Value;
  const auto count = static_cast<std::size_t>(terms[0]);
  double out = terms[1];
  for (std::size_t k = 0; k < count; ++k) {
    const Value x = Rule::input(row[static_cast<std::ptrdiff_t>(terms[3 + 2 * k]) * col_stride]);
    if (std::isnan(x)) return static_cast<typename Rule::Accum>(terms[2]);
    out += terms[4 + 2 * k] * static_cast<double>(x);
  }
  return static_cast<typename Rule::Accum>(out);
}

// The number of thresholds t in t[0, m) with !numeric_left(x, t) (x lies right of them),
// found by a branch-free binary search (thresholds ascend, so those come first).
template <class Rule>
inline uint32_t count_right_of(typename Rule::Value x, const typename Rule::Value* t, uint32_t m) {
  if (m == 0) return 0;
  const typename Rule::Value* base = t;
  uint32_t n = m;
  while (n > 1) {
    const uint32_t half = n / 2;
    base = Rule::numeric_left(x, base[half]) ? base : base + half;
    n -= half;
  }
  return static_cast<uint32_t>(base - t) + (Rule::numeric_left(x, *base) ? 0u : 1u);
}

// Writes the bins of x (already through Rule::input) for binned feature f: first[0] in its
// missing-goes-left column and first[apart] in its missing-goes-right column. `Count` finds
// the number of f's thresholds x lies right of (ScalarCount: a binary search; simd_avx512.hpp has a
// vector one). Zero-is-missing features (LightGBM) test x == 0: Rule::input has already
// read LightGBM's zero band as 0.
template <class Rule, class Count>
inline void bin_value(typename Rule::Value x, const typename Quantization<typename Rule::Value>::Feature& f,
                      const Quantization<typename Rule::Value>& q, uint16_t* first, std::size_t apart) {
  using Value = typename Rule::Value;
  if (f.categorical) {  // codes below N keep their bin, all others N; missing N or N + 1
    const uint32_t code = x != x ? f.categories : std::min(Rule::category_code(x), f.categories);
    first[0] = static_cast<uint16_t>(code);
    first[apart] = static_cast<uint16_t>(x != x ? f.categories + 1 : code);
    return;
  }
  const bool missing = (x != x) || (Rule::kZeroMissing && f.zero_missing && x == Value(0));
  if (missing) {
    first[0] = 0;
    first[apart] = kMissingRight;
  } else {
    first[0] = first[apart] = static_cast<uint16_t>(1 + Count::template count<Rule>(x, f, q));
  }
}

struct ScalarCount {
  template <class Rule>
  static uint32_t count(typename Rule::Value x, const typename Quantization<typename Rule::Value>::Feature& f,
                        const Quantization<typename Rule::Value>& q) {
    return count_right_of<Rule>(x, q.thresholds.data() + f.begin, f.end - f.begin);
  }
};

// Bins `count` rows into `bins`, kQuantizedLanes (L) rows interleaved per group: the bin of
// column c for row r sits at bins[(r / L) * L * width + c * L + r % L]. Lanes past `count`
// in the last group repeat the last row, so a walk of all L lanes stays well defined. The
// L rows' binary searches (count_right_of's, step for step) run interleaved: one search is
// a chain of dependent loads, so a row at a time waits on each, where L chains keep the
// loads in flight.
template <class Rule, class In>
void bin_rows(const Quantization<typename Rule::Value>& q, const In* const* rows, std::size_t count,
              std::ptrdiff_t col_stride, uint16_t* bins) {
  using Value = typename Rule::Value;
  constexpr std::size_t L = kQuantizedLanes;
  const std::size_t padded = (count + L - 1) / L * L;
  const std::size_t group = L * q.width;
  for (std::size_t i = 0; i < q.features.size(); ++i) {
    const auto& f = q.features[i];
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(f.feature) * col_stride;
    const Value* t = q.thresholds.data() + f.begin;
    const uint32_t m = f.end - f.begin;
    const bool zero_missing = Rule::kZeroMissing && f.zero_missing;
    if (f.categorical) {  // a code is its bin: nothing to search
      for (std::size_t r = 0; r < padded; ++r) {
        const Value x = Rule::input(rows[r < count ? r : count - 1][offset]);
        bin_value<Rule, ScalarCount>(x, f, q, bins + (r / L) * group + 2 * i * L + r % L, L);
      }
      continue;
    }
    for (std::size_t r0 = 0; r0 < padded; r0 += L) {
      Value x[L];
      uint32_t at[L];
      for (std::size_t k = 0; k < L; ++k) {
        const std::size_t r = r0 + k;
        x[k] = Rule::input(rows[r < count ? r : count - 1][offset]);
        at[k] = 0;
      }
      if (m > 0) {
        for (uint32_t n = m; n > 1;) {
          const uint32_t half = n / 2;
          for (std::size_t k = 0; k < L; ++k) at[k] = Rule::numeric_left(x[k], t[at[k] + half]) ? at[k] : at[k] + half;
          n -= half;
        }
        for (std::size_t k = 0; k < L; ++k) at[k] += Rule::numeric_left(x[k], t[at[k]]) ? 0u : 1u;
      }
      // As bin_value: missing (NaN; zero where it counts as missing) is 0 in the first
      // column and kMissingRight in the second.
      uint16_t* out = bins + (r0 / L) * group + 2 * i * L;
      for (std::size_t k = 0; k < L; ++k) {
        const bool missing = (x[k] != x[k]) || (zero_missing && x[k] == Value(0));
        const auto bin = static_cast<uint16_t>(1 + at[k]);
        out[k] = missing ? uint16_t{0} : bin;
        out[k + L] = missing ? kMissingRight : bin;
      }
    }
  }
  const std::size_t leaf = 2 * q.features.size() * L;
  for (std::size_t g = 0; g < padded / L; ++g)
    for (std::size_t l = 0; l < L; ++l) bins[g * group + leaf + l] = kMissingRight;
}

// Bins one row (no interleaving): bins[c] for column c.
template <class Rule, class Count = ScalarCount, class In>
void bin_row(const Quantization<typename Rule::Value>& q, const In* row, std::ptrdiff_t col_stride,
             uint16_t* bins) {
  using Value = typename Rule::Value;
  for (std::size_t i = 0; i < q.features.size(); ++i) {
    const auto& f = q.features[i];
    const Value x = Rule::input(row[static_cast<std::ptrdiff_t>(f.feature) * col_stride]);
    bin_value<Rule, Count>(x, f, q, bins + 2 * i, 1);
  }
  bins[2 * q.features.size()] = kMissingRight;
}

// f(std::integral_constant<int, k>{}) for k = min(n, kMost) (at least 1): a count of
// registers known when compiled.
template <int kMost, class F>
FLORESTA_ALWAYS_INLINE void with_registers(std::size_t n, F&& f) {
  if constexpr (kMost == 1) {
    f(std::integral_constant<int, 1>{});
  } else {
    if (n >= static_cast<std::size_t>(kMost)) return f(std::integral_constant<int, kMost>{});
    with_registers<kMost - 1>(n, f);
  }
}

// bin_row for double thresholds by a search over kFeatures features at a time (the vector
// units' bin_row_lanes): `search(x, first, count)` bins features [first, first + count) from
// their inputs in x, padded with zeros to a multiple of kLanes (lanes past count are searched,
// never stored; search_* is padded for them); then categorical features one by one
// (bin_value; a code is its bin; the search saw no thresholds for them), and the leaf column.
template <class Rule, std::size_t kFeatures, std::size_t kLanes, class In, class Search>
FLORESTA_ALWAYS_INLINE void bin_row_searched(const Quantization<typename Rule::Value>& q, const In* row,
                                             std::ptrdiff_t col_stride, uint16_t* bins, Search&& search) {
  alignas(64) typename Rule::Value x[kFeatures];
  const std::size_t n = q.features.size();
  for (std::size_t first = 0; first < n; first += kFeatures) {
    const std::size_t count = std::min(n - first, kFeatures);
    for (std::size_t k = 0; k < count; ++k)
      x[k] = Rule::input(row[static_cast<std::ptrdiff_t>(q.features[first + k].feature) * col_stride]);
    std::fill(x + count, x + (count + kLanes - 1) / kLanes * kLanes, typename Rule::Value(0));
    search(x, first, count);
  }
  if (q.has_categorical)  // only categorical splits make a feature categorical
    for (std::size_t i = 0; i < n; ++i) {
      const auto& f = q.features[i];
      if (f.categorical)
        bin_value<Rule, ScalarCount>(Rule::input(row[static_cast<std::ptrdiff_t>(f.feature) * col_stride]), f, q,
                                     bins + 2 * i, 1);
    }
  bins[2 * n] = kMissingRight;
}

// The bins of searched features [first, first + n) of one row (bin_row_lockstep,
// bin_row_lanes_avx2): right[k] thresholds lie left of x[k]; a missing value (NaN; zero where
// it counts as missing) gets 0 in the first column and kMissingRight in the second, as
// bin_value.
template <class Rule, class Count>
FLORESTA_ALWAYS_INLINE void store_searched_bins(const Quantization<typename Rule::Value>& q, const typename Rule::Value* x,
                                                const Count* right, std::size_t first, std::size_t n, uint16_t* bins) {
  using Value = typename Rule::Value;
  for (std::size_t k = 0; k < n; ++k) {
    bool missing = x[k] != x[k];
    if constexpr (Rule::kZeroMissing) missing = missing || (q.search_zero_missing[first + k] && x[k] == Value(0));
    const auto bin = static_cast<uint16_t>(right[k] + 1);
    bins[2 * (first + k)] = missing ? uint16_t{0} : bin;
    bins[2 * (first + k) + 1] = missing ? kMissingRight : bin;
  }
}

// Bins features [first, first + n) of one row (their inputs in x, n at most kSearchFeatures)
// by binary searches in lockstep, a step of each feature's search in turn (Quantization's
// search_*: a feature past its thresholds stays put), so that the searches' chains of
// dependent loads overlap: searched one after another, each waits on its own loads, and a
// loop exit at every feature's own count mispredicts. The portable units' bin_row for one row.
constexpr std::size_t kSearchFeatures = 32;
template <class Rule>
inline void bin_row_lockstep(const Quantization<typename Rule::Value>& q, const typename Rule::Value* x, std::size_t first,
                             std::size_t n, uint16_t* bins) {
  using Value = typename Rule::Value;
  uint32_t at[kSearchFeatures], above[kSearchFeatures], before[kSearchFeatures];
  for (std::size_t k = 0; k < n; ++k) {
    at[k] = 0;
    above[k] = q.search_count[first + k] + 1;
    before[k] = q.search_begin[first + k] - 1;  // wraps at 0: before + next is still the index
  }
  const Value* t = q.thresholds.data();
  for (uint32_t step = q.search_step; step != 0; step >>= 1)
    for (std::size_t k = 0; k < n; ++k) {
      // Bit arithmetic, as a branch here mispredicts. Some threshold exists when search_step
      // is not 0: index 0 stands in for those past the feature's end.
      const uint32_t next = at[k] + step;
      const uint32_t exists = static_cast<uint32_t>(next < above[k]);
      const uint32_t index = (before[k] + next) & (0u - exists);
      const uint32_t right = exists & static_cast<uint32_t>(!Rule::numeric_left(x[k], t[index]));
      at[k] += step & (0u - right);
    }
  store_searched_bins<Rule>(q, x, at, first, n, bins);
}

// Walks kLanes (tree, row) pairs at once; returns each lane's leaf index. Lane i starts at
// node roots[i] (roots may be `leaves` itself) and reads its bins at bins[column * kColumnStride + i * kLaneStride]:
// <L, 1> for interleaved rows walking one tree, <1, 0> for one row walking kLanes trees.
// A lane at its leaf takes steps of 0; the walk stops after `depth` levels or as soon as a
// whole level moved no lane. kCategorical: nodes may be categorical (quantized.hpp), their
// sets in `sets`, 2^set_shift words apart.
template <std::size_t kLanes, std::size_t kColumnStride, std::size_t kLaneStride, bool kCategorical = false>
inline void walk_quantized(const QuantizedNode* nodes, const uint32_t* roots, uint32_t depth, const uint16_t* bins,
                           uint32_t* leaves, const uint32_t* sets = nullptr, uint32_t set_shift = 0) {
  uint32_t at[kLanes];
  for (std::size_t i = 0; i < kLanes; ++i) at[i] = roots[i];
  for (uint32_t level = 0; level < depth; ++level) {
    uint32_t stay = ~0u;
    for (std::size_t i = 0; i < kLanes; ++i) {
      const QuantizedNode n = nodes[at[i]];
      // Bit arithmetic, as a branch here mispredicts: skip = 0 when going left, the right
      // offset - 1 when going right, and ~0 (a step of 0) on leaves.
      const uint32_t word = n.word();
      const uint32_t bin = bins[(word & kQuantizedColumnMask) * kColumnStride + i * kLaneStride];
      const uint32_t right_mask = 0u - quantized_right<kCategorical>(word, bin, sets, set_shift);
      const uint32_t skip = n.skip & right_mask;
      at[i] += skip + 1u;
      stay &= skip;
    }
    if (stay == ~0u) break;
  }
  for (std::size_t i = 0; i < kLanes; ++i) leaves[i] = at[i];
}

// One row (its bins, not interleaved) through the table levels of `lanes` trees (a
// multiple of eight), a lane per tree: lane j starts at top + tables[j] (Quantization::top)
// and its sixth-level table word (node index, | kTopLeafFlag on a leaf) goes to words[j].
// Scalar code, eight trees interleaved: a level is two dependent loads (table word, bin),
// and separate loads issue several per cycle where a gather of eight takes longer than
// eight loads. kCategorical: as in walk_quantized.
template <bool kCategorical>
inline void walk_tables_row(const uint32_t* top, const uint32_t* tables, std::size_t lanes, const uint16_t* bins,
                            uint32_t* words, const uint32_t* sets, uint32_t set_shift) {
  for (std::size_t j0 = 0; j0 < lanes; j0 += 8) {
    const uint32_t* table[8];
    uint32_t slot[8];
    for (int i = 0; i < 8; ++i) {
      table[i] = top + tables[j0 + i];
      slot[i] = 0;
    }
#pragma GCC unroll 8
    for (int level = 0; level < kTopLevels; ++level)
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const uint32_t column_bound = table[i][slot[i]];
        slot[i] = 2 * slot[i] + 1 +
                  quantized_right<kCategorical>(column_bound, bins[column_bound & kQuantizedColumnMask], sets, set_shift);
      }
    // The sixth level's slots 31..62 hold node indices at table words 32..63.
    for (int i = 0; i < 8; ++i) words[j0 + i] = table[i][slot[i] + 1];
  }
}

// One row on from the sixth-level table words of walk_tables_row (`lanes` of them, at most
// kQuantizedBlockRows): leaves[j] first gets lane j's table node. Then, when more than one
// level is left (`depth`: the deepest tree's) and at most half the lanes are still inside a
// tree, as leaf-wise forests leave them, those lanes go on in a work list, compacted at
// every level without a branch, so that a few deep trees do not hold the rest, and leaves[j]
// ends at each lane's leaf. Otherwise returns false: lanes that mostly go on (depth-wise
// forests) cost less a step walked together, from leaves[]. kCategorical: as in
// walk_quantized.
template <bool kCategorical>
inline bool walk_list_row(const QuantizedNode* nodes, const uint16_t* bins, const uint32_t* words, std::size_t lanes,
                          uint32_t depth, uint32_t* leaves, const uint32_t* sets, uint32_t set_shift) {
  if (depth <= kTopLevels + 1) {  // one level left at most: no list to build
    for (std::size_t j = 0; j < lanes; ++j) leaves[j] = words[j] & ~kTopLeafFlag;
    return false;
  }
  uint32_t list_node[kQuantizedBlockRows], list_slot[kQuantizedBlockRows];
  std::size_t pending = 0;
  for (std::size_t j = 0; j < lanes; ++j) {
    const uint32_t node = words[j] & ~kTopLeafFlag;
    leaves[j] = node;  // final for the lanes at a leaf
    list_node[pending] = node;
    list_slot[pending] = static_cast<uint32_t>(j);
    pending += (words[j] >> 31) ^ 1u;
  }
  if (2 * pending > lanes) return false;
  // As walk_rows_quantized's list: a step from a leaf stays there, and the last write to a
  // lane's slot is its leaf.
  for (uint32_t level = kTopLevels; pending > 0 && level < depth; ++level) {
    std::size_t kept = 0;
    for (std::size_t k = 0; k < pending; ++k) {
      const uint32_t node = list_node[k], slot = list_slot[k];
      const QuantizedNode n = nodes[node];
      const uint32_t word = n.word();
      const uint32_t right = quantized_right<kCategorical>(word, bins[word & kQuantizedColumnMask], sets, set_shift);
      const uint32_t moved = node + 1 + (n.skip & (0u - right));
      leaves[slot] = moved;
      list_node[kept] = moved;
      list_slot[kept] = slot;
      kept += static_cast<std::size_t>(n.skip != ~0u);
    }
    pending = kept;
  }
  return true;
}

// Interleaved rows (`lanes`, a multiple of 16, at most kQuantizedBlockRows; lane j of group
// g reads column c's bin at bins[g * group_stride + 16 c + j]) through `trees` trees from
// their tables (tops[i], Quantization::top); tree i's leaf for row r goes to
// leaves[i * kQuantizedBlockRows + r]. The portable form of walk_rows_avx512: leaf-wise trees
// end most walks in the first levels while the deepest of sixteen rows goes far deeper, so
// stepping every lane until all sixteen are at a leaf wastes most steps. Here the table
// levels run for every lane (two loads a level, no node read), then only the lanes not yet
// at a leaf go on in a work list shared by all `trees` trees, compacted at every level
// without a branch: every entry is written, the count advances for those still inside.
// `list` holds trees * kQuantizedBlockRows entries; bin offsets and leaf slots fit in 16
// bits each (isa.hpp's static_assert), node indices below 2^31 (kTopLeafFlag). Numeric
// nodes only: categorical forests keep walk_quantized (PortableIsa::walk_block, isa.hpp).
inline void walk_rows_quantized(const QuantizedNode* nodes, const uint32_t* const* tops, std::size_t trees,
                                uint32_t depth, const uint16_t* bins, std::size_t group_stride, std::size_t lanes,
                                uint32_t* leaves, uint64_t* list) {
  constexpr std::size_t L = kQuantizedLanes;
  const bool last = depth <= kTopLevels + 1;  // at most one level past the table: no list
  std::size_t pending = 0;
  for (std::size_t i = 0; i < trees; ++i) {
    const uint32_t* top = tops[i];
    for (std::size_t g = 0; g < lanes / L; ++g) {
      const uint16_t* group = bins + g * group_stride;
      // The table levels, sixteen lanes interleaved. Levels 0 and 1 read one or two split
      // words, known before any bin: the lanes' bins there are rows of sixteen.
      uint32_t slot[L];
      {
        const uint32_t word = top[0];
        const uint16_t* row = group + (word & 0xFFFFu) * L;
        for (std::size_t j = 0; j < L; ++j) slot[j] = 1 + static_cast<uint32_t>(row[j] > (word >> 16));
      }
      {
        const uint32_t word_a = top[1], word_b = top[2];
        const uint16_t* row_a = group + (word_a & 0xFFFFu) * L;
        const uint16_t* row_b = group + (word_b & 0xFFFFu) * L;
        for (std::size_t j = 0; j < L; ++j) {
          const uint32_t a = static_cast<uint32_t>(row_a[j] > (word_a >> 16));
          const uint32_t b = static_cast<uint32_t>(row_b[j] > (word_b >> 16));
          slot[j] = 2 * slot[j] + 1 + (slot[j] == 1 ? a : b);
        }
      }
      for (int level = 2; level < kTopLevels; ++level)
        for (std::size_t j = 0; j < L; ++j) {
          const uint32_t word = top[slot[j]];
          const uint32_t bin = group[(word & 0xFFFFu) * L + j];
          slot[j] = 2 * slot[j] + 1 + static_cast<uint32_t>(bin > (word >> 16));
        }
      uint32_t* to = leaves + i * kQuantizedBlockRows + g * L;
      if (last) {  // leaves: always right with a skip of ~0, so they stay
        for (std::size_t j = 0; j < L; ++j) {
          const uint32_t node = top[slot[j] + 1] & ~kTopLeafFlag;  // slots 31..62: words 32..63
          const QuantizedNode n = nodes[node];
          to[j] = node + 1 + (n.skip & (0u - static_cast<uint32_t>(group[n.column * L + j] > n.bound)));
        }
        continue;
      }
      const uint64_t where = g * group_stride | (i * kQuantizedBlockRows + g * L) << 16;
      for (std::size_t j = 0; j < L; ++j) {
        const uint32_t word = top[slot[j] + 1];
        const uint32_t node = word & ~kTopLeafFlag;
        to[j] = node;  // final for the lanes at a leaf
        list[pending] = node | (where + j + (j << 16)) << 32;
        pending += (word >> 31) ^ 1u;
      }
    }
  }
  // A level at a time, compacted in place (entry k is rewritten at or before k). A step
  // from a leaf stays there, so every lane's slot may be written at every level: the last
  // write is its leaf.
  for (uint32_t level = kTopLevels; pending > 0 && level < depth; ++level) {
    std::size_t kept = 0;
    for (std::size_t k = 0; k < pending; ++k) {
      const uint64_t entry = list[k];
      const auto node = static_cast<uint32_t>(entry);
      const auto where = static_cast<uint32_t>(entry >> 32);
      const QuantizedNode n = nodes[node];
      const uint32_t bin = bins[n.column * L + (where & 0xFFFFu)];
      const uint32_t moved = node + 1 + (n.skip & (0u - static_cast<uint32_t>(bin > n.bound)));
      leaves[where >> 16] = moved;
      list[kept] = moved | (entry & ~uint64_t{0xFFFFFFFFu});
      kept += static_cast<std::size_t>(n.skip != ~0u);
    }
    pending = kept;
  }
}

}  // namespace floresta::detail::FLORESTA_ISA
