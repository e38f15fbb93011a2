// src/engine/plans/quantized_row.hpp — the quantized plan for single rows (blocks of fewer
// than kQuantizedLanes rows): the row is binned (Isa::bin_one), then walks up to 128 trees
// at once, a lane per tree (Isa::walk_row), and their leaves are added in file order.
//
// Kernel code: included only through score.hpp (see plan.hpp and plans/quantized.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/forest.hpp"
#include "engine/isa.hpp"
#include "engine/plans/quantized_batch.hpp"  // QuantizedScratch

namespace floresta::detail::FLORESTA_ISA {

// Adds every tree's leaf to one row's accumulators `a` (num_groups values).
template <class Isa, bool kCategorical, class Rule, class In>
void add_quantized_row(const Forest<Rule>& forest, const In* row, std::ptrdiff_t col_stride, typename Rule::Accum* a,
                       QuantizedScratch& scratch) {
  using Accum = typename Rule::Accum;
  const auto& q = forest.quantized;
  const auto* nodes = forest.nodes.data();
  const std::size_t trees = forest.num_trees();
  uint16_t* bins = scratch.bins;
  uint32_t* leaves = scratch.leaves;
  Isa::template bin_one<Rule>(q, row, col_stride, bins);
  bins[q.width] = 0;
  // Up to 128 trees at once (the last register padded with copies of the chunk's first
  // tree, whose leaves are ignored). Big forests go 64 trees at a time: a call lasts as long
  // as its deepest walk, so fewer lanes a call waste less on lopsided trees, while small
  // forests gain from one call (docs/benchmarks.md, "Engine choices", bench-predict).
  const std::size_t chunk = trees <= kQuantizedBlockRows ? kQuantizedBlockRows : 4 * kQuantizedLanes;
  for (std::size_t t = 0; t < trees; t += chunk) {
    const std::size_t count = std::min(chunk, trees - t);
    const uint32_t* words =
        Isa::template walk_row<kCategorical>(q, forest.tree_begin.data(), forest.tree_depth.data(), t, count, bins, leaves);
    // With `words`, leaves holds the index of the table word that holds each leaf's node.
    const auto value = [&](std::size_t i) {
      return nodes[words != nullptr ? words[leaves[i]] & ~kTopLeafFlag : leaves[i]].value;
    };
    if (forest.num_groups == 1) {  // keep the running sum in a register, not in memory
      Accum sum = a[0];
      for (std::size_t i = 0; i < count; ++i) sum += value(i);
      a[0] = sum;
    } else {
      for (std::size_t i = 0; i < count; ++i) a[forest.tree_group[t + i]] += value(i);
    }
  }
}

}  // namespace floresta::detail::FLORESTA_ISA
