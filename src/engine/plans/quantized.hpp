// src/engine/plans/quantized.hpp — the quantized plan: forests compiled to trees that
// compare 16-bit bins (quantized.hpp), the fastest plan wherever it fits
// (quantized_plan_fits, plan.hpp). Blocks of at least sixteen rows are batches
// (quantized_batch.hpp), smaller ones go row by row (quantized_row.hpp). Forests of more
// than 2^28 nodes take PortableIsa's walks, whose node indices are not vector lanes.
//
// Kernel code: included only through score.hpp (see plan.hpp and score.hpp).
#pragma once

#include <algorithm>
#include <cstddef>

#include "engine/forest.hpp"
#include "engine/isa.hpp"
#include "engine/plans/quantized_batch.hpp"
#include "engine/plans/quantized_row.hpp"
#include "engine/rows.hpp"

namespace floresta::detail::FLORESTA_ISA {

template <class Isa>
struct QuantizedPlan {
  using Scratch = QuantizedScratch;
  static constexpr bool kReadsContiguous = false;  // binning reads columns by stride

  template <class Rule>
  static bool categorical(const Forest<Rule>& forest) { return forest.quantized.has_categorical; }
  // Whole groups of sixteen rows, as many as the accumulators and the bins' budget hold.
  template <class Rule>
  static std::size_t block_rows(const Forest<Rule>& forest) {
    return std::min({kQuantizedBlockRows, kBlockValues / forest.num_groups, kBinBudget / forest.quantized.width}) /
           kQuantizedLanes * kQuantizedLanes;
  }

  template <bool kCategorical, bool /*kContiguous*/, class Rule, class In>
  static void add_block(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                        typename Rule::Accum* acc, Scratch& scratch) {
    if (Isa::kVector && forest.quantized.nodes.size() < (std::size_t{1} << 28)) add<Isa, kCategorical>(forest, X, b, n, acc, scratch);
    else add<PortableIsa, kCategorical>(forest, X, b, n, acc, scratch);
  }

 private:
  template <class Traits, bool kCategorical, class Rule, class In>
  static void add(const Forest<Rule>& forest, const Rows<In>& X, std::size_t b, std::size_t n,
                  typename Rule::Accum* acc, Scratch& scratch) {
    if (n >= kQuantizedLanes) return add_quantized_batch<Traits, kCategorical>(forest, X, b, n, acc, scratch);
    for (std::size_t r = 0; r < n; ++r)
      add_quantized_row<Traits, kCategorical>(forest, X.row(b + r), X.col_stride, acc + r * forest.num_groups, scratch);
  }
};

}  // namespace floresta::detail::FLORESTA_ISA
