// src/engine/isa.hpp — the instruction set of a kernel unit as a traits type, so that each
// plan (plans/*.hpp) is written once and asks the traits for the steps that differ:
//   bin_block   a block of rows to interleaved bins (quantized.hpp's layout)
//   bin_one     one row to its bins
//   walk_block  a block's interleaved rows through every tree, tree by tree to `add`
//   walk_row    one row through up to kQuantizedBlockRows trees, a lane per tree; returns
//               nullptr (leaves holds node indices) or the table words that hold them
//   add_leaves  float leaf values gathered into one group's accumulators (kGatherLeaves)
//   walk8_xgboost  eight rows down one XGBoost value tree (kGatherWalk)
//   BitvectorLanes  the bitvector plan's steps for sixteen rows (bitvector_lanes.hpp)
//   bitvector_row  one row through the bitvectors in the unit's single-row layout
//               (kBitvectorRows: AVX-512 sixteen trees a step, AVX2 eight trees' byte
//               entries, PortableIsa the same in 128-bit halves where the unit has a byte
//               shuffle: SSE4, NEON; else none)
//   kmeans_float_labels  k-means labels of float32 rows by this instruction set's kernel,
//               or false when it has none for the call (plans/kmeans.hpp)
// PortableIsa is plain C++ (walk.hpp, kmeans_kernels.hpp); Avx2Isa and Avx512Isa wrap
// simd_avx2.hpp / kmeans_avx2.hpp and simd_avx512.hpp / kmeans_avx512.hpp. The walks are not one template over a vector width: AVX2 has no mask
// registers, compress or scatter, so its work lists are packed through a permute table and
// kept in two lists (simd_avx2.hpp), where AVX-512 compresses in place; what the instruction
// sets share (the table layout, the work-list order, binning, leaf order) lives in
// quantized.hpp and walk.hpp.
//
// Kernel code: included only through score.hpp inside a kernel translation unit, in its
// FLORESTA_ISA namespace; FLORESTA_ISA_LEVEL (0 portable and sse4, 1 AVX2 + FMA, 2 AVX-512
// too) says which traits the unit has. `Isa` is the unit's own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/bitvector_lanes.hpp"
#include "engine/bitvector_bytes.hpp"
#include "engine/kmeans.hpp"
#include "engine/kmeans_kernels.hpp"
#include "engine/quantized.hpp"
#include "engine/rows.hpp"
#include "engine/walk.hpp"
#if FLORESTA_ISA_LEVEL >= 1
#include "engine/kmeans_avx2.hpp"
#include "engine/simd_avx2.hpp"
#endif
#if FLORESTA_ISA_LEVEL >= 2
#include "engine/kmeans_avx512.hpp"
#include "engine/simd_avx512.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

constexpr std::size_t kRowTrees = 8;  // trees per batch walk call, sharing one work list
static_assert(kBinBudget <= 0xFFFF && kRowTrees * kQuantizedBlockRows <= 0xFFFF,
              "the work lists (simd_avx2.hpp, walk_rows_quantized) pack a bin offset and a leaf slot in 16 "
              "bits each");

struct PortableIsa {
  // Vector walks address nodes in 32-bit lanes (indices below 2^28): a forest with more
  // nodes takes PortableIsa's walks in every unit.
  static constexpr bool kVector = false;
  static constexpr bool kGatherLeaves = false;
  static constexpr bool kGatherWalk = false;
  using BitvectorLanes = PortableBitvectorLanes;
#if FLORESTA_BYTES128
  // A byte shuffle (SSSE3 in the x86-64-v2 unit, NEON on 64-bit ARM): the byte entries on
  // 128-bit registers.
  static constexpr BitvectorRows kBitvectorRows = BitvectorRows::kBytes;
  template <class Rule>
  static void bitvector_row(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
    bitvector_row_bytes128(forest, bins, a);
  }
#else
  static constexpr BitvectorRows kBitvectorRows = BitvectorRows::kNone;  // no single-row bitvector step (bitvector_row)
#endif

  template <class Rule, class In>
  static void bin_block(const Quantization<typename Rule::Value>& q, const In* const* rows, std::size_t count,
                        std::ptrdiff_t col_stride, uint16_t* bins) {
    bin_rows<Rule>(q, rows, count, col_stride, bins);
  }
  template <class Rule, class In>
  static void bin_one(const Quantization<typename Rule::Value>& q, const In* row, std::ptrdiff_t col_stride,
                      uint16_t* bins) {
    bin_row_searched<Rule, kSearchFeatures, 1>(q, row, col_stride, bins, [&](const auto* x, std::size_t first, std::size_t count) {
      bin_row_lockstep<Rule>(q, x, first, count, bins);
    });
  }

  // Numeric forests: the table levels, then a work list (walk_rows_quantized). Categorical
  // forests step sixteen rows through each tree instead (walk_quantized reads their nodes;
  // the list walk is slower on a depth-wise categorical forest, whose walks rarely end early:
  // docs/benchmarks.md, bench-predict), as do node indices past the tables' reach.
  template <bool kCategorical, class Value, class Add>
  static void walk_block(const Quantization<Value>& q, const uint32_t* tree_begin, const uint32_t* tree_depth,
                         std::size_t trees, const uint16_t* bins, std::size_t lanes, uint32_t* leaves, Add&& add) {
    constexpr std::size_t L = kQuantizedLanes;
    const QuantizedNode* nodes = q.nodes.data();
    if (!kCategorical && q.nodes.size() <= kTopLeafFlag) {
      uint64_t list[kRowTrees * kQuantizedBlockRows];
      for (std::size_t t = 0; t < trees; t += kRowTrees) {
        const std::size_t count = std::min(kRowTrees, trees - t);
        const uint32_t* tops[kRowTrees];
        const uint32_t depth = q.tables_of(tree_depth, t, count, tops);
        walk_rows_quantized(nodes, tops, count, depth, bins, L * q.width, lanes, leaves, list);
        for (std::size_t i = 0; i < count; ++i) add(t + i, leaves + i * kQuantizedBlockRows);
      }
      return;
    }
    uint32_t roots[L];
    for (std::size_t t = 0; t < trees; ++t) {
      std::fill(roots, roots + L, tree_begin[t]);
      for (std::size_t r = 0; r < lanes; r += L)
        walk_quantized<L, L, 1, kCategorical>(nodes, roots, tree_depth[t], bins + (r / L) * L * q.width, leaves + r,
                                              q.category_sets.data(), q.set_shift);
      add(t, leaves);
    }
  }

  // Trees [t, t + count) from the tables when their node words can hold every index: the
  // table levels, then a work list or sixteen lanes together (walk_list_row says which);
  // else sixteen lanes from the roots.
  template <bool kCategorical, class Value>
  static const uint32_t* walk_row(const Quantization<Value>& q, const uint32_t* tree_begin, const uint32_t* tree_depth,
                                  std::size_t t, std::size_t count, const uint16_t* bins, uint32_t* leaves) {
    constexpr std::size_t L = kQuantizedLanes;
    const QuantizedNode* nodes = q.nodes.data();
    const uint32_t* sets = q.category_sets.data();
    const bool tables = q.nodes.size() <= kTopLeafFlag;
    const std::size_t lanes = (count + L - 1) / L * L;
    uint32_t roots[kQuantizedBlockRows];
    uint32_t depth = 0;
    for (std::size_t i = 0; i < count; ++i) {
      roots[i] = tables ? q.top_offset(t + i) : tree_begin[t + i];
      depth = std::max(depth, tree_depth[t + i]);
    }
    std::fill(roots + count, roots + lanes, tables ? q.top_offset(t) : tree_begin[t]);  // the first tree again
    if (tables) {
      uint32_t words[kQuantizedBlockRows];
      walk_tables_row<kCategorical>(q.top.data(), roots, lanes, bins, words, sets, q.set_shift);
      if (!walk_list_row<kCategorical>(nodes, bins, words, lanes, depth, leaves, sets, q.set_shift)) {
        const uint32_t below = depth > kTopLevels ? depth - kTopLevels : 0;  // from the table nodes in leaves
        for (std::size_t r = 0; r < lanes; r += L)
          walk_quantized<L, 1, 0, kCategorical>(nodes, leaves + r, below, bins, leaves + r, sets, q.set_shift);
      }
      return nullptr;
    }
    for (std::size_t r = 0; r < lanes; r += L)
      walk_quantized<L, 1, 0, kCategorical>(nodes, roots + r, depth, bins, leaves + r, sets, q.set_shift);
    return nullptr;
  }

  // Rows in lanes with GCC / Clang vector extensions (SSE2, NEON).
  static bool kmeans_float_labels(const KMeans& model, const Rows<float>& X, std::size_t begin, std::size_t end,
                                  double* out) {
#if defined(__GNUC__)
    if (end - begin >= PortableLanes::kWidth) {
      kmeans_labels_lanes<PortableLanes>(model, X, begin, end, out);
      return true;
    }
#endif
    return false;
  }
};

#if FLORESTA_ISA_LEVEL >= 1
// The vector units' shared part: their row walk starts every tree from its table, and the
// XGBoost gather walk of value trees (simd_avx2.hpp) runs in both. What they do not replace
// is PortableIsa's (AVX2 bins a block of rows with the portable interleaved search).
struct VectorIsaBase : PortableIsa {
  static constexpr bool kVector = true;
  static constexpr bool kGatherLeaves = true;
  static constexpr bool kGatherWalk = true;

  template <bool kCategorical, int kGroups>
  static void walk8_xgboost(const void* root, uint32_t depth, const float* rows, int32_t row_stride,
                            const uint32_t* words, float* leaves) {
    walk8_xgboost_avx2<kCategorical, kGroups>(root, depth, rows, row_stride, words, leaves);
  }

 protected:
  // Trees [t, t + count)'s tables (`words` a tree: kTopWords in Quantization::top,
  // kRowTopWords in row_top) into roots, padded to a multiple of 16 with the first; returns
  // their deepest depth.
  static uint32_t table_roots(const uint32_t* tree_depth, std::size_t t, std::size_t count, std::size_t words,
                              uint32_t* roots) {
    const std::size_t lanes = (count + kQuantizedLanes - 1) / kQuantizedLanes * kQuantizedLanes;
    uint32_t depth = 0;
    for (std::size_t i = 0; i < count; ++i) {
      roots[i] = static_cast<uint32_t>((t + i) * words);
      depth = std::max(depth, tree_depth[t + i]);
    }
    std::fill(roots + count, roots + lanes, static_cast<uint32_t>(t * words));  // the first tree again
    return depth;
  }
};

struct Avx2Isa : VectorIsaBase {
  using BitvectorLanes = Avx2BitvectorLanes;
  static constexpr BitvectorRows kBitvectorRows = BitvectorRows::kBytes;
  // One row of at most kBitvectorRowColumns byte bin columns through a forest's byte entries.
  template <class Rule>
  static void bitvector_row(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
    bitvector_row_bytes_avx2(forest, bins, a);
  }
  template <class Rule, class In>
  static void bin_one(const Quantization<typename Rule::Value>& q, const In* row, std::ptrdiff_t col_stride,
                      uint16_t* bins) {
    bin_row_avx2<Rule>(q, row, col_stride, bins);
  }
  template <bool kCategorical, class Value, class Add>
  static void walk_block(const Quantization<Value>& q, const uint32_t* /*tree_begin*/, const uint32_t* tree_depth,
                         std::size_t trees, const uint16_t* bins, std::size_t lanes, uint32_t* leaves, Add&& add) {
    walk_block_avx2<kCategorical>(q, tree_depth, trees, bins, lanes, leaves, add);
  }
  template <bool kCategorical, class Value>
  static const uint32_t* walk_row(const Quantization<Value>& q, const uint32_t* /*tree_begin*/,
                                  const uint32_t* tree_depth, std::size_t t, std::size_t count, const uint16_t* bins,
                                  uint32_t* leaves) {
    uint32_t roots[kQuantizedBlockRows];
    const uint32_t depth = table_roots(tree_depth, t, count, kTopWords, roots);
    walk_trees_avx2<kCategorical>(q.nodes.data(), q.top.data(), roots, depth, bins, count, leaves,
                                  q.category_sets.data(), q.set_shift);
    return nullptr;
  }
  static void add_leaves(const void* nodes, std::size_t node_bytes, const uint32_t* found, std::size_t n, float* acc) {
    add_leaves_avx2(nodes, node_bytes, found, n, acc);
  }
  // Rows in lanes (Avx2Lanes); a few rows of a model of more than eight centres: centres in
  // lanes.
  static bool kmeans_float_labels(const KMeans& model, const Rows<float>& X, std::size_t begin, std::size_t end,
                                  double* out) {
    if (end - begin >= Avx2Lanes::kWidth) {
      kmeans_labels_lanes<Avx2Lanes>(model, X, begin, end, out);
      return true;
    }
    if (model.num_clusters() > 8) {
      kmeans_labels_avx2(model, X, begin, end, out);
      return true;
    }
    return false;
  }
};
#endif

#if FLORESTA_ISA_LEVEL >= 2
struct Avx512Isa : Avx2Isa {
  using BitvectorLanes = Avx512BitvectorLanes;
  static constexpr BitvectorRows kBitvectorRows = BitvectorRows::kPairs;
  // One row of at most kBitvectorRowColumns bin columns through a forest's pairs.
  template <class Rule>
  static void bitvector_row(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
    bitvector_row_avx512(forest, bins, a);
  }
  template <class Rule, class In>
  static void bin_block(const Quantization<typename Rule::Value>& q, const In* const* rows, std::size_t count,
                        std::ptrdiff_t col_stride, uint16_t* bins) {
    bin_rows_avx512<Rule>(q, rows, count, col_stride, bins);
  }
  template <class Rule, class In>
  static void bin_one(const Quantization<typename Rule::Value>& q, const In* row, std::ptrdiff_t col_stride,
                      uint16_t* bins) {
    bin_row_avx512<Rule>(q, row, col_stride, bins);
  }
  // Eight trees a call (walk_rows_avx512), `lanes` / 16 registers of rows.
  template <bool kCategorical, class Value, class Add>
  static void walk_block(const Quantization<Value>& q, const uint32_t* /*tree_begin*/, const uint32_t* tree_depth,
                         std::size_t trees, const uint16_t* bins, std::size_t lanes, uint32_t* leaves, Add&& add) {
    uint32_t list[3 * (kRowTrees * kQuantizedBlockRows + kQuantizedLanes)];
    for (std::size_t t = 0; t < trees; t += kRowTrees) {
      const std::size_t count = std::min(kRowTrees, trees - t);
      const uint32_t* tops[kRowTrees];
      const uint32_t depth = q.tables_of(tree_depth, t, count, tops);
      walk_rows_lanes<kCategorical>(q.nodes.data(), tops, count, depth, bins, kQuantizedLanes * q.width, lanes, leaves,
                                    list, q.category_sets.data(), q.set_shift);
      for (std::size_t i = 0; i < count; ++i) add(t + i, leaves + i * kQuantizedBlockRows);
    }
  }
  // walk_trees_avx512 with the row's bins in two or four registers (up to 128 bin columns),
  // else gathered; row_top when no tree is deeper than its levels (leaves then index it).
  template <bool kCategorical, class Value>
  static const uint32_t* walk_row(const Quantization<Value>& q, const uint32_t* /*tree_begin*/,
                                  const uint32_t* tree_depth, std::size_t t, std::size_t count, const uint16_t* bins,
                                  uint32_t* leaves) {
    uint32_t roots[kQuantizedBlockRows];
    const uint32_t depth = table_roots(tree_depth, t, count, kRowTopWords, roots);
    const std::size_t lanes = (count + kQuantizedLanes - 1) / kQuantizedLanes * kQuantizedLanes;
    const QuantizedNode* nodes = q.nodes.data();
    const uint32_t* top = q.row_top.data();
    // t is a chunk's first tree, a multiple of kQuantizedLanes (plans/quantized_row.hpp)
    const uint32_t* front = q.top_front.data() + t / kQuantizedLanes * kTopFrontSlots * kQuantizedLanes;
    const uint32_t* sets = q.category_sets.data();
    if (q.width <= 64) walk_trees_lanes<2, kCategorical>(nodes, top, front, roots, depth, bins, lanes, leaves, sets, q.set_shift);
    else if (q.width <= 128) walk_trees_lanes<4, kCategorical>(nodes, top, front, roots, depth, bins, lanes, leaves, sets, q.set_shift);
    else walk_trees_lanes<0, kCategorical>(nodes, top, front, roots, depth, bins, lanes, leaves, sets, q.set_shift);
    return depth <= kRowTopLevels ? top : nullptr;
  }
  static void add_leaves(const void* nodes, std::size_t node_bytes, const uint32_t* found, std::size_t n, float* acc) {
    add_leaves_avx512(nodes, node_bytes, found, n, acc);
  }
  // Sixteen rows or more: centres in lanes where that kernel applies, else rows in lanes;
  // fewer rows: the AVX2 kernels.
  static bool kmeans_float_labels(const KMeans& model, const Rows<float>& X, std::size_t begin, std::size_t end,
                                  double* out) {
    if (end - begin >= 16) {
      if (!kmeans_labels_few(model, X, begin, end, out)) kmeans_labels_avx512(model, X, begin, end, out);
      return true;
    }
    return Avx2Isa::kmeans_float_labels(model, X, begin, end, out);
  }
};
#endif

#if FLORESTA_ISA_LEVEL >= 2
using Isa = Avx512Isa;
#elif FLORESTA_ISA_LEVEL == 1
using Isa = Avx2Isa;
#else
using Isa = PortableIsa;
#endif

}  // namespace floresta::detail::FLORESTA_ISA
