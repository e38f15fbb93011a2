// src/engine/plans/quantized_batch.hpp — the quantized plan's batches (blocks of at least
// kQuantizedLanes rows): the block is binned once (Isa::bin_block: sixteen rows interleaved,
// quantized.hpp), then its rows walk the trees from their top tables, the walks still inside
// a tree going on in a work list (Isa::walk_block), and each tree's leaves are added, tree
// by tree in file order, so every row sums its trees as the training library does.
//
// Kernel code: included only through score.hpp (see plan.hpp and plans/quantized.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "engine/forest.hpp"
#include "engine/isa.hpp"
#include "engine/rows.hpp"

namespace floresta::detail::FLORESTA_ISA {

// What a block's walk keeps on the stack, once per scoring call.
struct QuantizedScratch {
  uint16_t bins[kBinBudget + 2];  // + padding for 32-bit gathers of the last bin
  uint32_t leaves[kRowTrees * kQuantizedBlockRows];
};

// Adds every tree's leaf to rows [b, b + n)'s accumulators (n >= kQuantizedLanes, at most
// the block the plan sized; num_groups values a row).
template <class Isa, bool kCategorical, class Rule, class In>
void add_quantized_batch(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                         typename Rule::Accum* acc, QuantizedScratch& scratch) {
  using Accum = typename Rule::Accum;
  constexpr std::size_t L = kQuantizedLanes;
  const auto& q = forest.quantized;
  const std::size_t groups = forest.num_groups;
  const auto* nodes = forest.nodes.data();
  uint16_t* bins = scratch.bins;
  const In* rows[kQuantizedBlockRows];
  for (std::size_t r = 0; r < n; ++r) rows[r] = X.row(b + r);
  Isa::template bin_block<Rule>(q, rows, n, X.col_stride, bins);
  const std::size_t lanes = (n + L - 1) / L * L;
  bins[lanes * q.width] = bins[lanes * q.width + 1] = 0;
  // Adds tree t's leaves (for the block's rows, at `found`) in file order.
  auto add_tree = [&](std::size_t t, const uint32_t* found) {
    // Float leaves, one group: gathered eight or sixteen at a time. (Double leaves take the
    // loop below: gathers of doubles are slower than scalar loads, docs/benchmarks.md,
    // "Engine choices".)
    if constexpr (Isa::kGatherLeaves && std::is_same_v<Accum, float> && std::is_same_v<typename Rule::Value, float>) {
      if (groups == 1) {
        Isa::add_leaves(nodes, sizeof(*nodes), found, n, acc);
        return;
      }
    }
    Accum* a = acc + forest.tree_group[t];
    for (std::size_t r = 0; r < n; ++r) a[r * groups] += nodes[found[r]].value;
  };
  Isa::template walk_block<kCategorical>(q, forest.tree_begin.data(), forest.tree_depth.data(), forest.num_trees(),
                                         bins, lanes, scratch.leaves, add_tree);
}

}  // namespace floresta::detail::FLORESTA_ISA
