// src/engine/score.hpp — one kernel unit's entry points: every scoring plan (plan.hpp) for
// every decision rule and input type, and k-means, gathered into a Kernel table (kernel.hpp)
// by make_kernel(). The driver here splits a call's rows into the plan's blocks and turns
// each block's margins into outputs; it knows no plan.
//
// Included once by each kernels_*.cpp unit, which first defines FLORESTA_ISA (the namespace
// of its copies: portable, avx2, avx512) and FLORESTA_ISA_LEVEL (0, 1: AVX2 + FMA, 2:
// AVX-512 too). The instruction set is fixed when the unit is compiled: nothing here asks
// the CPU what it has (kernel.cpp does, once per model).
#pragma once

#include <algorithm>
#include <cstddef>

#include "engine/forest.hpp"
#include "engine/isa.hpp"
#include "engine/kernel.hpp"
#include "engine/kmeans.hpp"
#include "engine/outputs.hpp"
#include "engine/plan.hpp"
#include "engine/plans/bitvector.hpp"
#include "engine/plans/kmeans.hpp"
#include "engine/plans/lanes.hpp"
#include "engine/plans/quantized.hpp"
#include "engine/plans/value_walk.hpp"

namespace floresta::detail::FLORESTA_ISA {

// Scores rows [begin, end) of X into out (row-major, output_width() values per row), a
// block of Plan::block_rows rows at a time: the block's accumulators start at the base
// margins, the plan adds every tree, and each row's margins become its outputs.
template <class Plan, bool kCategorical, bool kContiguous, class Rule, class In>
void score_blocks(const Forest<Rule>& forest, const Rows<In>& X, std::size_t begin, std::size_t end,
                  const OutputPlan& plan, double* out) {
  const std::size_t groups = forest.num_groups;
  const std::size_t width = output_width(plan.kind, groups);
  const std::size_t block_rows = Plan::block_rows(forest);
  typename Rule::Accum acc[kBlockValues];
  typename Plan::Scratch scratch;
  for (std::size_t b = begin; b < end; b += block_rows) {
    const std::size_t n = std::min(block_rows, end - b);
    for (std::size_t r = 0; r < n; ++r)
      std::copy(forest.base_margin.begin(), forest.base_margin.end(), acc + r * groups);
    Plan::template add_block<kCategorical, kContiguous>(forest, X, b, n, acc, scratch);
    for (std::size_t r = 0; r < n; ++r)
      write_outputs(plan, acc + r * groups, groups, out + (b - begin + r) * width);
  }
}

// A plan's entry point: its walks instantiated for the forest's kind of splits and, where
// the plan reads them directly, contiguous rows.
template <class Plan, class Rule, class In>
void score_forest(const Forest<Rule>& forest, const Rows<In>& X, std::size_t begin, std::size_t end,
                  const OutputPlan& plan, double* out) {
  const bool categorical = Plan::categorical(forest);
  if constexpr (Plan::kReadsContiguous) {
    if (X.contiguous_rows()) {
      if (categorical) score_blocks<Plan, true, true>(forest, X, begin, end, plan, out);
      else score_blocks<Plan, false, true>(forest, X, begin, end, plan, out);
      return;
    }
  }
  if (categorical) score_blocks<Plan, true, false>(forest, X, begin, end, plan, out);
  else score_blocks<Plan, false, false>(forest, X, begin, end, plan, out);
}

template <class Rule>
PlanEntries<Forest<Rule>> forest_entries() {
  PlanEntries<Forest<Rule>> entries;
  entries[Plan::kBitvector] = {&score_forest<BitvectorPlan<Isa>, Rule, float>,
                               &score_forest<BitvectorPlan<Isa>, Rule, double>};
  entries[Plan::kQuantized] = {&score_forest<QuantizedPlan<Isa>, Rule, float>,
                               &score_forest<QuantizedPlan<Isa>, Rule, double>};
  entries[Plan::kLanes] = {&score_forest<LanesPlan<Isa>, Rule, float>, &score_forest<LanesPlan<Isa>, Rule, double>};
  entries[Plan::kValueWalk] = {&score_forest<ValueWalkPlan, Rule, float>, &score_forest<ValueWalkPlan, Rule, double>};
  return entries;
}

// This unit's table.
inline Kernel make_kernel(const char* name) {
  Kernel kernel;
  kernel.name = name;
  kernel.bitvector_word_bits = Isa::BitvectorLanes::kWordBits;
  kernel.bitvector_rows = Isa::kBitvectorRows;
  kernel.xgboost = forest_entries<XGBoostRule>();
  kernel.lightgbm = forest_entries<LightGBMRule>();
  kernel.sklearn_hist = forest_entries<SkLearnHistRule>();
  kernel.sklearn_tree = forest_entries<SkLearnTreeRule>();
  kernel.kmeans[Plan::kKMeans] = {&KMeansPlan<Isa>::score<float>, &KMeansPlan<Isa>::score<double>};
  return kernel;
}

}  // namespace floresta::detail::FLORESTA_ISA
