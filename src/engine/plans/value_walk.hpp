// src/engine/plans/value_walk.hpp — the value walk plan: every forest, one row at a time down
// each value tree (walk.hpp's walk), trees outside and a block's rows inside, so each tree's
// nodes stay in cache across the block. The only plan for linear leaves (LightGBM
// linear_tree) and vector leaves (one value per output group); the slowest otherwise.
//
// Kernel code: included only through score.hpp (see plan.hpp for the plans, score.hpp for
// the driver that calls add_block).
#pragma once

#include <algorithm>
#include <cstddef>

#include "engine/forest.hpp"
#include "engine/rows.hpp"
#include "engine/walk.hpp"

namespace floresta::detail::FLORESTA_ISA {

// What the plans over value trees (this one and lanes.hpp) share: blocks of kBlockRows rows
// (fewer for many output groups), the forest's categorical nodes, rows read in place.
struct ValueTreeBlocks {
  struct Scratch {};
  static constexpr bool kReadsContiguous = true;  // contiguous rows index features directly

  template <class Rule>
  static bool categorical(const Forest<Rule>& forest) { return forest.has_categorical; }
  template <class Rule>
  static std::size_t block_rows(const Forest<Rule>& forest) {
    return std::max<std::size_t>(1, std::min(kBlockRows, kBlockValues / forest.num_groups));
  }
};

struct ValueWalkPlan : ValueTreeBlocks {
  // Adds every tree's leaf to rows [b, b + n)'s accumulators (n per group), each row's trees
  // in file order, as the training library sums them.
  template <bool kCategorical, bool kContiguous, class Rule, class In>
  static void add_block(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                        typename Rule::Accum* acc, Scratch&) {
    using Accum = typename Rule::Accum;
    const std::size_t groups = forest.num_groups;
    const auto* nodes = forest.nodes.data();
    const uint32_t* words = forest.category_words.data();
    for (std::size_t t = 0; t < forest.num_trees(); ++t) {
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
  }
};

}  // namespace floresta::detail::FLORESTA_ISA
