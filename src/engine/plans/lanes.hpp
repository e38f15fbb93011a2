// src/engine/plans/lanes.hpp — the lanes plan: forests of scalar leaves without linear
// leaves, several value walks at once so that the loads of independent walks overlap
// (walk.hpp's walk_lanes, eight lanes): a block's rows eight at a time down each tree, or,
// for fewer than eight rows, each row down eight trees at once. With AVX2, categorical
// XGBoost forests on contiguous float32 rows gather instead: sixteen rows, two registers,
// down each tree (Isa::walk8_xgboost). The plan of forests the quantized plan cannot take
// (categorical codes past 16 bits, LoadOptions::quantize = false).
//
// Kernel code: included only through score.hpp (see plan.hpp and score.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "engine/forest.hpp"
#include "engine/plans/value_walk.hpp"  // ValueTreeBlocks
#include "engine/rows.hpp"
#include "engine/walk.hpp"

namespace floresta::detail::FLORESTA_ISA {

template <class Isa>
struct LanesPlan : ValueTreeBlocks {
  static constexpr std::size_t kLanes = 8;  // lanes per walk (docs/benchmarks.md, bench-predict)

  template <bool kCategorical, bool kContiguous, class Rule, class In>
  static void add_block(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                        typename Rule::Accum* acc, Scratch&) {
    if constexpr (Isa::kGatherWalk && std::is_same_v<Rule, XGBoostRule> && std::is_same_v<In, float> && kContiguous &&
                  kCategorical) {
      if (X.row_stride < (std::ptrdiff_t(1) << 24)) return gather_rows<kCategorical, kContiguous>(forest, X, b, n, acc);
    }
    if (n >= kLanes) rows_in_lanes<kCategorical, kContiguous>(forest, X, b, n, acc);
    else trees_in_lanes<kCategorical, kContiguous>(forest, X, b, n, acc);
  }

 private:
  // Eight rows walk each tree at once; the rows past a multiple of eight walk alone.
  template <bool kCategorical, bool kContiguous, class Rule, class In>
  static void rows_in_lanes(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                            typename Rule::Accum* acc) {
    const std::size_t groups = forest.num_groups;
    const auto* nodes = forest.nodes.data();
    const uint32_t* words = forest.category_words.data();
    const In* row_ptr[kBlockRows];
    for (std::size_t r = 0; r < n; ++r) row_ptr[r] = X.row(b + r);
    typename Rule::Value leaves[kLanes];
    for (std::size_t t = 0; t < forest.num_trees(); ++t) {
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

  // Few rows: each row walks eight trees at once instead, in tree order.
  template <bool kCategorical, bool kContiguous, class Rule, class In>
  static void trees_in_lanes(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                             typename Rule::Accum* acc) {
    const std::size_t groups = forest.num_groups;
    const std::size_t trees = forest.num_trees();
    const auto* nodes = forest.nodes.data();
    const uint32_t* words = forest.category_words.data();
    typename Rule::Value leaves[kLanes];
    for (std::size_t r = 0; r < n; ++r) {
      const In* row = X.row(b + r);
      const In* rows[kLanes];
      for (std::size_t i = 0; i < kLanes; ++i) rows[i] = row;
      typename Rule::Accum* a = acc + r * groups;
      std::size_t u = 0;
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
  }

  // XGBoost on contiguous float32 rows: sixteen, then eight rows per gather walk.
  template <bool kCategorical, bool kContiguous, class Rule, class In>
  static void gather_rows(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                          typename Rule::Accum* acc) {
    const std::size_t groups = forest.num_groups;
    const auto* nodes = forest.nodes.data();
    const uint32_t* words = forest.category_words.data();
    const auto stride = static_cast<int32_t>(X.row_stride);
    float leaves[16];
    for (std::size_t t = 0; t < forest.num_trees(); ++t) {
      const auto* root = nodes + forest.tree_begin[t];
      const uint32_t depth = forest.tree_depth[t];
      const std::size_t g = forest.tree_group[t];
      std::size_t r = 0;
      for (; r + 16 <= n; r += 16) {  // two registers in flight (docs/benchmarks.md, bench-predict/a)
        Isa::template walk8_xgboost<kCategorical, 2>(root, depth, X.row(b + r), stride, words, leaves);
        for (std::size_t i = 0; i < 16; ++i) acc[(r + i) * groups + g] += leaves[i];
      }
      for (; r + 8 <= n; r += 8) {
        Isa::template walk8_xgboost<kCategorical, 1>(root, depth, X.row(b + r), stride, words, leaves);
        for (std::size_t i = 0; i < 8; ++i) acc[(r + i) * groups + g] += leaves[i];
      }
      for (; r < n; ++r)
        acc[r * groups + g] += walk<Rule, kCategorical, kContiguous>(root, words, X.row(b + r), X.col_stride)->value;
    }
  }
};

}  // namespace floresta::detail::FLORESTA_ISA
