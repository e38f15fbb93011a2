// src/engine/plans/bitvector.hpp — the bitvector plan (QuickScorer family, bitvector.hpp):
// forests of trees with at most 64 leaves scored without walking them.
//
// A block of rows is binned as the quantized plan bins it (sixteen rows interleaved per
// group, Isa::bin_block). Then up to kBitvectorRows rows at a time (a pass of 8, 4, 2 or 1
// groups), per block of trees: every tree's word starts with all its leaves set in each row;
// per bin column, each bound is compared once with every group's sixteen bins, and each
// entry under it clears its leaves in the rows whose bin is greater; categorical columns
// clear each row's own list. Each row's exit leaf is then its word's lowest set bit, and rows
// add their trees' leaves in file order. The steps for sixteen rows are the instruction
// set's (Isa::BitvectorLanes, bitvector_lanes.hpp).
//
// Fewer than sixteen rows take the quantized plan's row walk: the scalar QuickScorer (one
// row's false splits AND-ed one by one) measured slower than it (docs/benchmarks.md).
//
// Kernel code: included only through score.hpp (see plan.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/bitvector.hpp"
#include "engine/forest.hpp"
#include "engine/isa.hpp"
#include "engine/plans/quantized.hpp"
#include "engine/rows.hpp"

namespace floresta::detail::FLORESTA_ISA {

// What the plan keeps on the stack, once per scoring call: the quantized plan's bins and
// one block of trees' leaf words for kBitvectorRows rows.
struct BitvectorScratch : QuantizedScratch {
  union alignas(64) State {
    uint32_t narrow[kBitvectorStateBytes / 4];
    uint64_t wide[kBitvectorStateBytes / 8];
  } state;
};

template <class Isa>
struct BitvectorPlan {
  using Scratch = BitvectorScratch;
  static constexpr bool kReadsContiguous = false;  // binning reads columns by stride

  // Categorical splits matter only to the single-row walk (the bitvectors tell categorical
  // columns apart per column).
  template <class Rule>
  static bool categorical(const Forest<Rule>& forest) { return forest.quantized.has_categorical; }
  template <class Rule>
  static std::size_t block_rows(const Forest<Rule>& forest) { return QuantizedPlan<Isa>::block_rows(forest); }

  template <bool kCategorical, bool kContiguous, class Rule, class In>
  static void add_block(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                        typename Rule::Accum* acc, Scratch& scratch) {
    if (n < kQuantizedLanes) return QuantizedPlan<Isa>::template add_block<kCategorical, kContiguous>(forest, X, b, n, acc, scratch);
    if (forest.bitvector.wide) add<uint64_t>(forest, forest.bitvector.entries64.data(), X, b, n, acc, scratch.bins, scratch.state.wide);
    else add<uint32_t>(forest, forest.bitvector.entries32.data(), X, b, n, acc, scratch.bins, scratch.state.narrow);
  }

 private:
  static constexpr std::size_t L = kQuantizedLanes;

  template <class Word, class Rule, class In>
  static void add(const Forest<Rule>& forest, const BitvectorEntry<Word>* entries, const Rows<In>& X, std::size_t b,
                  std::size_t n, typename Rule::Accum* acc, uint16_t* bins, Word* state) {
    const auto& q = forest.quantized;
    const In* rows[kQuantizedBlockRows];
    for (std::size_t r = 0; r < n; ++r) rows[r] = X.row(b + r);
    Isa::template bin_block<Rule>(q, rows, n, X.col_stride, bins);
    const std::size_t groups = (n + L - 1) / L;
    for (std::size_t g = 0; g < groups;) {
      const std::size_t left = groups - g, rows_left = n - g * L;
      uint16_t* at = bins + g * L * q.width;
      typename Rule::Accum* a = acc + g * L * forest.num_groups;
      if (left >= 8) g += pass<8>(forest, entries, at, rows_left, a, state);
      else if (left >= 4) g += pass<4>(forest, entries, at, rows_left, a, state);
      else if (left >= 2) g += pass<2>(forest, entries, at, rows_left, a, state);
      else g += pass<1>(forest, entries, at, rows_left, a, state);
    }
  }

  // kGroups groups of sixteen rows (their bins at `bins`; `rows` real rows from there, at
  // least the first group's) through every block of trees; returns kGroups.
  template <std::size_t kGroups, class Word, class Rule>
  static std::size_t pass(const Forest<Rule>& forest, const BitvectorEntry<Word>* entries, const uint16_t* bins,
                          std::size_t rows, typename Rule::Accum* acc, Word* state) {
    static_assert(kGroups * L <= kBitvectorRows, "a pass's words must fit the scratch state");
    for (const auto& block : forest.bitvector.blocks) {
      clear_false_leaves<kGroups>(forest, entries, block, bins, state);
      add_leaves<kGroups>(forest, block, state, std::min(rows, kGroups * L), acc);
    }
    return kGroups;
  }

  // The leaf words of `block`'s trees for kGroups groups: tree i's for group j at
  // state[(i * kGroups + j) * L], all leaves set, then the false splits' leaves cleared.
  template <std::size_t kGroups, class Rule, class Word>
  FLORESTA_ALWAYS_INLINE static void clear_false_leaves(const Forest<Rule>& forest, const BitvectorEntry<Word>* entries,
                                                        const typename Bitvector<typename Rule::Value>::Block& block,
                                                        const uint16_t* bins, Word* state) {
    using Lanes = typename Isa::template BitvectorLanes<Word>;
    constexpr std::size_t kStride = kGroups * L;  // words per tree
    const auto& bv = forest.bitvector;
    const std::size_t group_bins = L * forest.quantized.width;
    std::fill(state, state + (block.tree_end - block.tree_begin) * kStride, ~Word{0});
    for (uint32_t k = block.column_begin; k < block.column_end; ++k) {
      const auto& column = bv.columns[k];
      const uint16_t* at = bins + column.column * L;
      if (column.categorical) {  // each row's own list
        const uint32_t* lists = bv.lists.data() + column.begin;
        for (std::size_t j = 0; j < kGroups; ++j)
          for (std::size_t lane = 0; lane < L; ++lane) {
            const uint32_t bin = std::min<uint32_t>(at[j * group_bins + lane], column.end);
            for (uint32_t e = lists[bin]; e < lists[bin + 1]; ++e)
              state[entries[e].tree * kStride + j * L + lane] &= ~entries[e].cleared;
          }
        continue;
      }
      typename Lanes::Bins lane_bins[kGroups];
      for (std::size_t j = 0; j < kGroups; ++j) Lanes::load_bins(at + j * group_bins, lane_bins[j]);
      const BitvectorBound* bounds = bv.bounds.data();
      for (uint32_t g = column.begin; g < column.end; ++g) {
        typename Lanes::Compared greater[kGroups];
        for (std::size_t j = 0; j < kGroups; ++j) Lanes::compare(lane_bins[j], bounds[g].bound, greater[j]);
        for (uint32_t e = bounds[g].first; e < bounds[g + 1].first; ++e) {
          Word* words = state + entries[e].tree * kStride;
          const Word cleared = entries[e].cleared;
          for (std::size_t j = 0; j < kGroups; ++j) Lanes::clear(words + j * L, greater[j], cleared);
        }
      }
    }
  }

  // Adds each of `rows` rows' exit leaves of `block`'s trees to its accumulators, tree by
  // tree in file order.
  template <std::size_t kGroups, class Rule, class Word>
  FLORESTA_ALWAYS_INLINE static void add_leaves(const Forest<Rule>& forest,
                                                const typename Bitvector<typename Rule::Value>::Block& block,
                                                const Word* state, std::size_t rows, typename Rule::Accum* acc) {
    using Accum = typename Rule::Accum;
    constexpr std::size_t kStride = kGroups * L;
    const auto& bv = forest.bitvector;
    const auto* values = bv.leaf_values.data();
    const uint32_t* leaf_begin = bv.leaf_begin.data() + block.tree_begin;
    const std::size_t trees = block.tree_end - block.tree_begin;
    const std::size_t groups = forest.num_groups;
    if (groups == 1) {  // sixteen sums in flight
      for (std::size_t j = 0; j * L < rows; ++j) {
        const std::size_t count = std::min(L, rows - j * L);
        Accum sums[L] = {};
        std::copy(acc + j * L, acc + j * L + count, sums);
        Isa::template BitvectorLanes<Word>::add_leaves(state + j * L, kStride, trees, values, leaf_begin, sums);
        std::copy(sums, sums + count, acc + j * L);
      }
      return;
    }
    const uint32_t* group = forest.tree_group.data() + block.tree_begin;
    for (std::size_t r = 0; r < rows; ++r) {
      Accum* a = acc + r * groups;
      const Word* words = state + (r / L) * L + r % L;
      for (std::size_t i = 0; i < trees; ++i) a[group[i]] += values[leaf_begin[i] + lowest_bit(words[i * kStride])];
    }
  }
};

}  // namespace floresta::detail::FLORESTA_ISA
