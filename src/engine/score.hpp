// src/engine/score.hpp — the scoring entry points of one kernel: forests (value walk and
// quantized walk, chosen per call by the forest's layout) and k-means, for float and double
// rows, gathered into a Kernel table (kernel.hpp) by make_kernel().
//
// Included once by each kernels_*.cpp unit, which first defines FLORESTA_ISA (the namespace
// of its copies: portable, avx2, avx512) and FLORESTA_ISA_LEVEL (0, 1: AVX2 + FMA, 2:
// AVX-512 too). The instruction set is fixed when the unit is compiled: nothing here asks
// the CPU what it has (kernel.cpp does, once per model).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "engine/forest.hpp"
#include "engine/kernel.hpp"
#include "engine/kmeans.hpp"
#include "engine/quantized.hpp"
#include "engine/walk.hpp"
#if FLORESTA_ISA_LEVEL >= 1
#include "engine/simd_avx2.hpp"
#endif
#if FLORESTA_ISA_LEVEL >= 2
#include "engine/simd_avx512.hpp"
#endif
#include "engine/kmeans_kernels.hpp"

namespace floresta::detail::FLORESTA_ISA {

// Scores rows [begin, end) of X into out (row-major, output_width() values per row). Rows
// are taken in blocks with the tree loop outside, so each tree's nodes stay in cache across
// the block; each row still adds its trees in file order, as the training library does.
template <class Rule, bool kCategorical, bool kContiguous, class In>
void score_range(const Forest<Rule>& forest, const MatrixView<In>& X, std::size_t begin,
                 std::size_t end, const OutputPlan& plan, double* out) {
  using Accum = typename Rule::Accum;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = output_width(plan.kind, groups);
  const std::size_t block_rows = std::max<std::size_t>(1, std::min(kBlockRows, kBlockValues / groups));
  Accum acc[kBlockValues];
  const auto* nodes = forest.nodes.data();
  const uint32_t* words = forest.category_words.data();
  const std::size_t trees = forest.num_trees();

  for (std::size_t b = begin; b < end; b += block_rows) {
    const std::size_t n = std::min(block_rows, end - b);
    for (std::size_t r = 0; r < n; ++r)
      std::copy(forest.base_margin.begin(), forest.base_margin.end(), acc + r * groups);
    std::size_t t = 0;
#if FLORESTA_ISA_LEVEL >= 1
    // XGBoost forests on contiguous float32 rows: eight rows per AVX2 register.
    if constexpr (std::is_same_v<Rule, XGBoostRule> && std::is_same_v<In, float> && kContiguous && kCategorical) {
      if (forest.leaf_width == 1 && X.row_stride < (std::ptrdiff_t(1) << 24)) {
        float leaves[16];
        for (; t < trees; ++t) {
          const auto* root = nodes + forest.tree_begin[t];
          const uint32_t depth = forest.tree_depth[t];
          const std::size_t g = forest.tree_group[t];
          std::size_t r = 0;
          for (; r + 16 <= n; r += 16) {  // two registers in flight (4 and 8 spill: slower)
            walk8_xgboost_avx2<kCategorical, 2>(root, depth, X.row(b + r), static_cast<int32_t>(X.row_stride), words, leaves);
            for (std::size_t i = 0; i < 16; ++i) acc[(r + i) * groups + g] += leaves[i];
          }
          for (; r + 8 <= n; r += 8) {
            walk8_xgboost_avx2<kCategorical, 1>(root, depth, X.row(b + r), static_cast<int32_t>(X.row_stride), words, leaves);
            for (std::size_t i = 0; i < 8; ++i) acc[(r + i) * groups + g] += leaves[i];
          }
          for (; r < n; ++r)
            acc[r * groups + g] += walk<Rule, kCategorical, kContiguous>(root, words, X.row(b + r), X.col_stride)->value;
        }
      }
    }
#endif
    if (!forest.has_linear && forest.leaf_width == 1 && n >= 8) {
      // The fast path: several rows walking each tree at once (8 lanes measured best for
      // float and double nodes alike; 4 and 16 were slower).
      constexpr std::size_t kLanes = 8;
      const In* row_ptr[kBlockRows];
      for (std::size_t r = 0; r < n; ++r) row_ptr[r] = X.row(b + r);
      typename Rule::Value leaves[kLanes];
      for (; t < trees; ++t) {
        const auto* root = nodes + forest.tree_begin[t];
        const uint32_t depth = forest.tree_depth[t];
        const std::size_t g = forest.tree_group[t];
        const Node<typename Rule::Value>* roots[kLanes];
        for (std::size_t i = 0; i < kLanes; ++i) roots[i] = root;
        std::size_t r = 0;
        for (; r + kLanes <= n; r += kLanes) {
          walk_lanes<Rule, kLanes, kCategorical, kContiguous>(roots, depth, row_ptr + r, X.col_stride, words, leaves);
          for (std::size_t i = 0; i < kLanes; ++i) acc[(r + i) * groups + g] += leaves[i];
        }
        for (; r < n; ++r)
          acc[r * groups + g] += walk<Rule, kCategorical, kContiguous>(root, words, row_ptr[r], X.col_stride)->value;
      }
    }
    if (!forest.has_linear && forest.leaf_width == 1 && n < 8) {
      // Few rows: each row walks eight trees at once instead, in tree order.
      constexpr std::size_t kLanes = 8;
      typename Rule::Value leaves[kLanes];
      for (std::size_t r = 0; r < n; ++r) {
        const In* row = X.row(b + r);
        const In* rows[kLanes];
        for (std::size_t i = 0; i < kLanes; ++i) rows[i] = row;
        Accum* a = acc + r * groups;
        std::size_t u = t;
        for (; u + kLanes <= trees; u += kLanes) {
          const Node<typename Rule::Value>* roots[kLanes];
          uint32_t depth = 0;
          for (std::size_t i = 0; i < kLanes; ++i) {
            roots[i] = nodes + forest.tree_begin[u + i];
            depth = std::max(depth, forest.tree_depth[u + i]);
          }
          walk_lanes<Rule, kLanes, kCategorical, kContiguous>(roots, depth, rows, X.col_stride, words, leaves);
          for (std::size_t i = 0; i < kLanes; ++i) a[forest.tree_group[u + i]] += leaves[i];
        }
        for (; u < trees; ++u)
          a[forest.tree_group[u]] += walk<Rule, kCategorical, kContiguous>(nodes + forest.tree_begin[u], words, row, X.col_stride)->value;
      }
      t = trees;
    }
    for (; t < trees; ++t) {
      const auto* root = nodes + forest.tree_begin[t];
      if (forest.has_linear) {
        const std::size_t g = forest.tree_group[t];
        for (std::size_t r = 0; r < n; ++r) {
          const In* row = X.row(b + r);
          const auto* leaf = walk<Rule, kCategorical, kContiguous>(root, words, row, X.col_stride);
          acc[r * groups + g] += (leaf->info & kLinearLeafFlag)
                                     ? linear_leaf<Rule>(forest.linear_terms.data() + leaf->right, row, X.col_stride)
                                     : static_cast<Accum>(leaf->value);
        }
      } else if (forest.leaf_width == 1) {
        const std::size_t g = forest.tree_group[t];
        for (std::size_t r = 0; r < n; ++r)
          acc[r * groups + g] += walk<Rule, kCategorical, kContiguous>(root, words, X.row(b + r), X.col_stride)->value;
      } else {
        for (std::size_t r = 0; r < n; ++r) {
          const auto* leaf = walk<Rule, kCategorical, kContiguous>(root, words, X.row(b + r), X.col_stride);
          const Accum* vector = forest.leaf_vectors.data() + leaf->right;
          for (std::size_t g = 0; g < groups; ++g) acc[r * groups + g] += vector[g];
        }
      }
    }
    for (std::size_t r = 0; r < n; ++r)
      write_outputs(plan, acc + r * groups, groups, out + (b - begin + r) * width);
  }
}

constexpr std::size_t kBinBudget = 16384;  // uint16 bins kept on the stack per block (32 KiB)
constexpr std::size_t kRowTrees = 8;  // trees per batch walk call, sharing one work list
static_assert(kBinBudget <= 0xFFFF && kRowTrees * kQuantizedBlockRows <= 0xFFFF,
              "the work lists (simd_avx2.hpp, walk_rows_quantized) pack a bin offset and a leaf slot in 16 "
              "bits each");

template <class Rule>
bool use_quantized(const Forest<Rule>& forest) {
  return !forest.quantized.empty() && forest.quantized.width * kQuantizedLanes <= kBinBudget && forest.num_groups * kQuantizedLanes <= kBlockValues;
}

#if FLORESTA_ISA_LEVEL >= 2
// One row through `lanes` (a multiple of 16, at most 128) trees; see walk_trees_avx512.
template <int kRegisters, bool kCategorical>
inline void walk_trees_lanes(const QuantizedNode* nodes, const uint32_t* top, const uint32_t* tables, uint32_t depth,
                             const uint16_t* bins, std::size_t lanes, uint32_t* leaves, const uint32_t* sets,
                             uint32_t set_shift) {
  switch (lanes / kQuantizedLanes) {
    case 8: return walk_trees_avx512<8, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
    case 7: return walk_trees_avx512<7, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
    case 6: return walk_trees_avx512<6, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
    case 5: return walk_trees_avx512<5, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
    case 4: return walk_trees_avx512<4, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
    case 3: return walk_trees_avx512<3, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
    case 2: return walk_trees_avx512<2, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
    default: return walk_trees_avx512<1, kRegisters, kCategorical>(nodes, top, tables, depth, bins, leaves, sets, set_shift);
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
#endif

// Scores rows [begin, end) through the quantized trees (see quantized.hpp): rows are binned
// once per block, then the block's rows walk eight trees at a time (their top tables, then
// a work list: walk_rows_quantized), or sixteen rows one tree (categorical forests); fewer
// rows walk sixteen trees at once instead. With AVX-512 the lanes live in vector
// registers, several at a time; AVX2 has walks of its own (simd_avx2.hpp). Leaf values
// come from Forest::nodes and are added in file order.
template <class Rule, bool kCategorical, class In>
void score_range_quantized(const Forest<Rule>& forest, const MatrixView<In>& X, std::size_t begin,
                           std::size_t end, const OutputPlan& plan, double* out) {
  using Accum = typename Rule::Accum;
  constexpr std::size_t L = kQuantizedLanes;
  const auto& q = forest.quantized;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = output_width(plan.kind, groups);
  const std::size_t block_rows = std::min({kQuantizedBlockRows, kBlockValues / groups, kBinBudget / q.width}) / L * L;
  Accum acc[kBlockValues];
  uint16_t bins[kBinBudget + 2];  // + padding for 32-bit gathers of the last bin
  uint32_t roots[kQuantizedBlockRows];
  uint32_t leaves[kRowTrees * kQuantizedBlockRows];
  const auto* nodes = forest.nodes.data();
  const QuantizedNode* qnodes = q.nodes.data();
  const std::size_t trees = forest.num_trees();
  const uint32_t* sets = q.category_sets.data();
  // The vector walks address nodes in 32-bit lanes: node indices below 2^28. The portable
  // single-row walk starts from the tables when their node words can hold every index.
  const bool vector = FLORESTA_ISA_LEVEL >= 1 && q.nodes.size() < (std::size_t{1} << 28);
  const bool tables = !vector && q.nodes.size() <= kTopLeafFlag;

  for (std::size_t b = begin; b < end; b += block_rows) {
    const std::size_t n = std::min(block_rows, end - b);
    for (std::size_t r = 0; r < n; ++r)
      std::copy(forest.base_margin.begin(), forest.base_margin.end(), acc + r * groups);
    if (n >= L) {
      const In* rows[kQuantizedBlockRows];
      for (std::size_t r = 0; r < n; ++r) rows[r] = X.row(b + r);
#if FLORESTA_ISA_LEVEL >= 2
      if (vector) bin_rows_avx512<Rule>(q, rows, n, X.col_stride, bins);
      else
#endif
        bin_rows<Rule>(q, rows, n, X.col_stride, bins);
      const std::size_t lanes = (n + L - 1) / L * L;
      bins[lanes * q.width] = bins[lanes * q.width + 1] = 0;
      // Adds tree t's leaves (for the block's rows, at `found`) in file order.
      auto add_tree = [&](std::size_t t, const uint32_t* found) {
        // Float leaves, one group: gathered eight or sixteen at a time. (Double leaves take the
        // loop below: gathers of doubles measured slower than scalar loads.)
        if constexpr (std::is_same_v<Accum, float> && std::is_same_v<typename Rule::Value, float>) {
          if (vector && groups == 1) {
#if FLORESTA_ISA_LEVEL >= 2
            add_leaves_avx512(nodes, sizeof(*nodes), found, n, acc);
            return;
#elif FLORESTA_ISA_LEVEL == 1
            add_leaves_avx2(nodes, sizeof(*nodes), found, n, acc);
            return;
#endif
          }
        }
        Accum* a = acc + forest.tree_group[t];
        for (std::size_t r = 0; r < n; ++r) a[r * groups] += nodes[found[r]].value;
      };
#if FLORESTA_ISA_LEVEL >= 2
      if (vector) {
        uint32_t list[3 * (kRowTrees * kQuantizedBlockRows + kQuantizedLanes)];
        for (std::size_t t = 0; t < trees; t += kRowTrees) {
          const std::size_t count = std::min(kRowTrees, trees - t);
          const uint32_t* tops[kRowTrees];
          const uint32_t depth = q.tables_of(forest.tree_depth.data(), t, count, tops);
          walk_rows_lanes<kCategorical>(qnodes, tops, count, depth, bins, L * q.width, lanes, leaves, list, sets,
                                        q.set_shift);
          for (std::size_t i = 0; i < count; ++i) add_tree(t + i, leaves + i * kQuantizedBlockRows);
        }
      } else
#elif FLORESTA_ISA_LEVEL == 1
      if (vector) walk_block_avx2<kCategorical>(q, forest.tree_depth.data(), trees, bins, lanes, leaves, add_tree);
      else
#endif
      // Portable: the table levels, then a work list (walk_rows_quantized). Categorical
      // forests step sixteen rows through each tree instead (walk_quantized reads their
      // nodes; the list walk measured slower on a depth-wise categorical forest, whose walks
      // rarely end early), as do node indices past the tables' reach.
      if (!kCategorical && q.nodes.size() <= kTopLeafFlag) {
        uint64_t list[kRowTrees * kQuantizedBlockRows];
        for (std::size_t t = 0; t < trees; t += kRowTrees) {
          const std::size_t count = std::min(kRowTrees, trees - t);
          const uint32_t* tops[kRowTrees];
          const uint32_t depth = q.tables_of(forest.tree_depth.data(), t, count, tops);
          walk_rows_quantized(qnodes, tops, count, depth, bins, L * q.width, lanes, leaves, list);
          for (std::size_t i = 0; i < count; ++i) add_tree(t + i, leaves + i * kQuantizedBlockRows);
        }
      } else {
        for (std::size_t t = 0; t < trees; ++t) {
          std::fill(roots, roots + L, forest.tree_begin[t]);
          for (std::size_t r = 0; r < lanes; r += L)
            walk_quantized<L, L, 1, kCategorical>(qnodes, roots, forest.tree_depth[t], bins + (r / L) * L * q.width,
                                                  leaves + r, sets, q.set_shift);
          add_tree(t, leaves);
        }
      }
    } else {
      for (std::size_t r = 0; r < n; ++r) {
#if FLORESTA_ISA_LEVEL >= 2
        if (vector) bin_row_avx512<Rule>(q, X.row(b + r), X.col_stride, bins);
        else
#elif FLORESTA_ISA_LEVEL == 1
        if (vector) bin_row_avx2<Rule>(q, X.row(b + r), X.col_stride, bins);
        else
#endif
          bin_row<Rule>(q, X.row(b + r), X.col_stride, bins);
        bins[q.width] = 0;
        Accum* a = acc + r * groups;
        // Up to 128 trees at once, one lane each (the last register padded with copies of the
        // chunk's first tree, whose leaves are ignored). Big forests go 64 trees at a time:
        // a call lasts as long as its deepest walk, so fewer lanes a call waste less on
        // lopsided trees, while small forests gain from one call (docs/benchmarks.md).
        const std::size_t chunk = trees <= kQuantizedBlockRows ? kQuantizedBlockRows : 4 * L;
        for (std::size_t t = 0; t < trees; t += chunk) {
          const std::size_t count = std::min(chunk, trees - t);
          const std::size_t lanes = (count + L - 1) / L * L;
          uint32_t depth = 0;
          for (std::size_t i = 0; i < count; ++i) {
            roots[i] = vector || tables ? q.top_offset(t + i) : forest.tree_begin[t + i];
            depth = std::max(depth, forest.tree_depth[t + i]);
          }
          std::fill(roots + count, roots + lanes, roots[0]);
#if FLORESTA_ISA_LEVEL >= 2
          // walk_trees_avx512 with the row's bins in two or four registers (up to 128 bin
          // columns), else gathered.
          if (vector) {
            const uint32_t* top = q.top.data();
            if (q.width <= 64) walk_trees_lanes<2, kCategorical>(qnodes, top, roots, depth, bins, lanes, leaves, sets, q.set_shift);
            else if (q.width <= 128) walk_trees_lanes<4, kCategorical>(qnodes, top, roots, depth, bins, lanes, leaves, sets, q.set_shift);
            else walk_trees_lanes<0, kCategorical>(qnodes, top, roots, depth, bins, lanes, leaves, sets, q.set_shift);
          } else
#elif FLORESTA_ISA_LEVEL == 1
          if (vector) walk_trees_avx2<kCategorical>(qnodes, q.top.data(), roots, depth, bins, count, leaves, sets, q.set_shift);
          else
#endif
          if (tables) {  // the table levels, then a work list or sixteen lanes together
            uint32_t words[kQuantizedBlockRows];
            walk_tables_row<kCategorical>(q.top.data(), roots, lanes, bins, words, sets, q.set_shift);
            if (!walk_list_row<kCategorical>(qnodes, bins, words, lanes, depth, leaves, sets, q.set_shift)) {
              const uint32_t below = depth > kTopLevels ? depth - kTopLevels : 0;  // from the table nodes in leaves
              for (std::size_t r = 0; r < lanes; r += L)
                walk_quantized<L, 1, 0, kCategorical>(qnodes, leaves + r, below, bins, leaves + r, sets, q.set_shift);
            }
          } else {
            for (std::size_t r = 0; r < lanes; r += L)
              walk_quantized<L, 1, 0, kCategorical>(qnodes, roots + r, depth, bins, leaves + r, sets, q.set_shift);
          }
          if (groups == 1) {  // keep the running sum in a register, not in memory
            Accum sum = a[0];
            for (std::size_t i = 0; i < count; ++i) sum += nodes[leaves[i]].value;
            a[0] = sum;
          } else {
            for (std::size_t i = 0; i < count; ++i) a[forest.tree_group[t + i]] += nodes[leaves[i]].value;
          }
        }
      }
    }
    for (std::size_t r = 0; r < n; ++r)
      write_outputs(plan, acc + r * groups, groups, out + (b - begin + r) * width);
  }
}

// The walk for this forest's layout and these rows.
template <class Rule, class In>
void score_rows(const Forest<Rule>& forest, const MatrixView<In>& X, std::size_t begin,
                std::size_t end, const OutputPlan& plan, double* out) {
  if (use_quantized(forest)) {
    if (forest.quantized.has_categorical) score_range_quantized<Rule, true>(forest, X, begin, end, plan, out);
    else score_range_quantized<Rule, false>(forest, X, begin, end, plan, out);
    return;
  }
  const bool contiguous = X.contiguous_rows();
  if (forest.has_categorical) {
    if (contiguous) score_range<Rule, true, true>(forest, X, begin, end, plan, out);
    else score_range<Rule, true, false>(forest, X, begin, end, plan, out);
  } else {
    if (contiguous) score_range<Rule, false, true>(forest, X, begin, end, plan, out);
    else score_range<Rule, false, false>(forest, X, begin, end, plan, out);
  }
}

template <class In>
void score_kmeans(const KMeans& model, const MatrixView<In>& X, std::size_t begin, std::size_t end,
                  const OutputPlan& plan, double* out) {
  if (plan.kind == OutputKind::kDistances) kmeans_distances(model, X, begin, end, out);
  else kmeans_labels(model, X, begin, end, out);
}

// This unit's table.
inline Kernel make_kernel(const char* name) {
  Kernel kernel;
  kernel.name = name;
  kernel.xgboost = {&score_rows<XGBoostRule, float>, &score_rows<XGBoostRule, double>};
  kernel.lightgbm = {&score_rows<LightGBMRule, float>, &score_rows<LightGBMRule, double>};
  kernel.sklearn_hist = {&score_rows<SkLearnHistRule, float>, &score_rows<SkLearnHistRule, double>};
  kernel.sklearn_tree = {&score_rows<SkLearnTreeRule, float>, &score_rows<SkLearnTreeRule, double>};
  kernel.kmeans = {&score_kmeans<float>, &score_kmeans<double>};
  return kernel;
}

}  // namespace floresta::detail::FLORESTA_ISA
