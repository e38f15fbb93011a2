// src/engine/plans/bitvector.hpp — the bitvector plan (QuickScorer family, bitvector.hpp):
// forests of trees with at most 64 leaves scored without walking them.
//
// A block of rows is binned as the quantized plan bins it (sixteen rows interleaved per
// group, Isa::bin_block). Then up to eight groups at a time (a pass), tree by tree in file
// order: each group's sixteen leaf words of the tree start with every leaf set, each split of
// the tree clears its leaves in the rows it sends right, and each row adds the value of its
// word's lowest set bit. The steps for sixteen rows are the instruction set's
// (Isa::BitvectorLanes, bitvector_lanes.hpp).
//
// Fewer than sixteen rows go one at a time: a tree per lane, sixteen trees at a time on
// AVX-512 and eight on AVX2 (Isa::bitvector_row, numeric forests of at most
// kBitvectorRowColumns bin columns, where the cost model expects it faster:
// Bitvector::row_preferred); otherwise by the quantized plan's row walk (the scalar
// QuickScorer, one row's false splits AND-ed one by one, measured slower than it:
// docs/benchmarks.md).
//
// Kernel code: included only through score.hpp (see plan.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "engine/bitvector.hpp"
#include "engine/forest.hpp"
#include "engine/isa.hpp"
#include "engine/plans/quantized.hpp"
#include "engine/rows.hpp"

namespace floresta::detail::FLORESTA_ISA {

template <class Isa>
struct BitvectorPlan {
  using Scratch = QuantizedScratch;
  static constexpr bool kReadsContiguous = false;  // binning reads columns by stride

  template <class Rule>
  static bool categorical(const Forest<Rule>& forest) { return forest.quantized.has_categorical; }
  template <class Rule>
  static std::size_t block_rows(const Forest<Rule>& forest) { return QuantizedPlan<Isa>::block_rows(forest); }

  template <bool kCategorical, bool kContiguous, class Rule, class In>
  static void add_block(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                        typename Rule::Accum* acc, Scratch& scratch) {
    const auto& q = forest.quantized;
    if (n < L) {
      if constexpr (Isa::kBitvectorRows != BitvectorRows::kNone) {
        if (forest.bitvector.row_preferred && forest.bitvector.rows == Isa::kBitvectorRows) {  // Kernel::bitvector_rows
          for (std::size_t r = 0; r < n; ++r) {
            Isa::template bin_one<Rule>(q, X.row(b + r), X.col_stride, scratch.bins);
            Isa::bitvector_row(forest, scratch.bins, acc + r * forest.num_groups);
          }
          return;
        }
      }
      return QuantizedPlan<Isa>::template add_block<kCategorical, kContiguous>(forest, X, b, n, acc, scratch);
    }
    const In* rows[kQuantizedBlockRows];
    for (std::size_t r = 0; r < n; ++r) rows[r] = X.row(b + r);
    Isa::template bin_block<Rule>(q, rows, n, X.col_stride, scratch.bins);
    const Bin* bins = as_lanes_bins(scratch.bins, (n + L - 1) / L * L * q.width);
    switch (forest.bitvector.parts) {
      case 1: return add<kCategorical, 1>(forest, n, acc, bins);
      case 2: return add<kCategorical, 2>(forest, n, acc, bins);
      default:
        if constexpr (Lanes::kMostParts > 2) {
          if (forest.bitvector.parts == 3) return add<kCategorical, 3>(forest, n, acc, bins);
          return add<kCategorical, 4>(forest, n, acc, bins);
        }
    }
  }

 private:
  static constexpr std::size_t L = kQuantizedLanes;

  using Lanes = typename Isa::BitvectorLanes;
  using Words = typename Lanes::Words;
  using Bin = typename Lanes::Bin;

  // The block's `count` bins as the steps read them: as binned, or widened to 32 bits in a
  // buffer of the thread's (grown once, kept: the scratch on the stack stays as it is).
  static const Bin* as_lanes_bins(const uint16_t* bins, std::size_t count) {
    if constexpr (std::is_same_v<Bin, uint16_t>) {
      return bins;
    } else {
      static thread_local std::vector<Bin> wide;
      if (wide.size() < count) wide.resize(count);
      for (std::size_t i = 0; i < count; ++i) wide[i] = bins[i];
      return wide.data();
    }
  }

  // n binned rows, a pass of as many groups as fit at a time.
  template <bool kCategorical, std::size_t kParts, class Rule>
  static void add(const Forest<Rule>& forest, std::size_t n, typename Rule::Accum* acc, const Bin* bins) {
    // Eight groups' words and sums stay in AVX-512's registers; trees of two words take
    // twice the registers: four groups. (AVX2 and portable measured alike with 2, 4 or 8
    // groups, docs/benchmarks.md, "The bitvector plan".)
    constexpr std::size_t kMost = kParts > 1 ? 4 : 8;
    const std::size_t groups = (n + L - 1) / L;
    for (std::size_t g = 0; g < groups;) {
      const std::size_t left = groups - g, rows = n - g * L;
      const Bin* at = bins + g * L * forest.quantized.width;
      typename Rule::Accum* a = acc + g * L * forest.num_groups;
      if (left >= kMost) g += pass<kMost, kCategorical, kParts>(forest, at, rows, a);
      else if (left >= 4) g += pass<4, kCategorical, kParts>(forest, at, rows, a);
      else if (left >= 2) g += pass<2, kCategorical, kParts>(forest, at, rows, a);
      else g += pass<1, kCategorical, kParts>(forest, at, rows, a);
    }
  }

  // kGroups groups of sixteen rows (their bins at `bins`; `rows` real rows from there, at
  // least kGroups - 1 groups' and one more) through every tree; returns kGroups.
  template <std::size_t kGroups, bool kCategorical, std::size_t kParts, class Rule>
  static std::size_t pass(const Forest<Rule>& forest, const Bin* bins, std::size_t rows,
                          typename Rule::Accum* acc) {
    using Accum = typename Rule::Accum;
    using Value = typename Rule::Value;
    const auto& bv = forest.bitvector;
    const std::size_t trees = forest.num_trees();
    // One output and leaves summed in their own type: sums in registers.
    if constexpr (std::is_same_v<Value, Accum>) {
      if (forest.num_groups == 1) {
        typename Lanes::template Sums<Accum> sums[kGroups];
        Accum padded[L];
        for (std::size_t j = 0; j < kGroups; ++j) {
          const std::size_t count = std::min(L, rows - std::min(rows, j * L));
          std::copy(acc + j * L, acc + j * L + count, padded);
          Lanes::load(sums[j], padded);
        }
        for (std::size_t t = 0; t < trees; ++t) {
          Words words[kGroups][kParts];
          tree_words<kGroups, kCategorical, kParts>(forest, t, bins, words);
          const auto leaves = Lanes::template tree_leaves<kParts>(bv.leaf_values.data() + bv.leaf_begin[t],
                                                                  bv.leaf_values.size() - bv.leaf_begin[t]);
          for (std::size_t j = 0; j < kGroups; ++j) Lanes::template add_leaves<kParts>(sums[j], leaves, words[j]);
        }
        for (std::size_t j = 0; j < kGroups; ++j) {
          const std::size_t count = std::min(L, rows - std::min(rows, j * L));
          Lanes::store(sums[j], padded);
          std::copy(padded, padded + count, acc + j * L);
        }
        return kGroups;
      }
    }
    const std::size_t groups = forest.num_groups;
    const std::size_t real = std::min(rows, kGroups * L);
    for (std::size_t t = 0; t < trees; ++t) {
      Words words[kGroups][kParts];
      tree_words<kGroups, kCategorical, kParts>(forest, t, bins, words);
      uint32_t leaf[kGroups * L];
      for (std::size_t j = 0; j < kGroups; ++j) Lanes::template exit_leaves<kParts>(words[j], leaf + j * L);
      const Value* leaves = bv.leaf_values.data() + bv.leaf_begin[t];
      Accum* a = acc + forest.tree_group[t];
      for (std::size_t r = 0; r < real; ++r) a[r * groups] += leaves[leaf[r]];
    }
    return kGroups;
  }

  // Tree t's words for the kGroups groups (their bins at `bins`): words[group][word]. Inlined,
  // each word's index a constant: a loop over the words left them in memory, each split a
  // load and a store per register (AVX2 (c) 412-424 ns a row against 326).
  template <std::size_t kGroups, bool kCategorical, std::size_t kParts, class Rule>
  FLORESTA_ALWAYS_INLINE static void tree_words(const Forest<Rule>& forest, std::size_t t, const Bin* bins,
                                                Words (&words)[kGroups][kParts]) {
    const BitvectorSplit<uint32_t>* splits = forest.bitvector.splits.data();
    const uint32_t* begin = forest.bitvector.split_begin.data() + t * kParts;
    word_of_tree<kGroups, kCategorical, kParts, 0>(forest, splits + begin[0], splits + begin[1], bins, words);
    if constexpr (kParts > 1) word_of_tree<kGroups, kCategorical, kParts, 1>(forest, splits + begin[1], splits + begin[2], bins, words);
    if constexpr (kParts > 2) word_of_tree<kGroups, kCategorical, kParts, 2>(forest, splits + begin[2], splits + begin[3], bins, words);
    if constexpr (kParts > 3) word_of_tree<kGroups, kCategorical, kParts, 3>(forest, splits + begin[3], splits + begin[4], bins, words);
  }

  // Word p of a tree for kGroups groups (words[group][p]): every leaf set, then each split
  // [split, end) clears its leaves in the rows it sends right.
  template <std::size_t kGroups, bool kCategorical, std::size_t kParts, std::size_t p, class Rule>
  FLORESTA_ALWAYS_INLINE static void word_of_tree(const Forest<Rule>& forest, const BitvectorSplit<uint32_t>* split,
                                                  const BitvectorSplit<uint32_t>* end, const Bin* bins,
                                                  Words (&words)[kGroups][kParts]) {
    const auto& q = forest.quantized;
    const std::size_t group_bins = L * q.width;
    for (std::size_t j = 0; j < kGroups; ++j) Lanes::start(words[j][p]);
    for (; split < end; ++split) {
      const uint32_t word = split->word;
      const uint32_t cleared = split->cleared;
      const Bin* column = bins + (word & kQuantizedColumnMask) * L;
      if constexpr (kCategorical) {
        if (word & kQuantizedCategorical) {
          const uint32_t* set = q.category_sets.data() + ((word >> kQuantizedSetShift) << q.set_shift);
          for (std::size_t j = 0; j < kGroups; ++j) Lanes::clear_right(words[j][p], column + j * group_bins, set, q.set_shift, cleared);
          continue;
        }
      }
      for (std::size_t j = 0; j < kGroups; ++j) Lanes::clear_greater(words[j][p], column + j * group_bins, word >> 16, cleared);
    }
  }
};

}  // namespace floresta::detail::FLORESTA_ISA
