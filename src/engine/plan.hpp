// src/engine/plan.hpp — scoring plans: the strategy a model is scored by, chosen once by
// compile() and stored in the model (Model::plan()), as the kernel (the instruction set) is.
//
// A plan is one way of walking an estimator, with its own file in plans/:
//   bitvector   quantized trees of at most 64 leaves as leaf masks, AND-ed per bin column
//               without walking a tree (bitvector.hpp, plans/bitvector.hpp)
//   quantized   trees compare 16-bit bins (quantized.hpp): a block of rows binned once, then
//               walked from the trees' top tables (quantized_batch.hpp), or one row through
//               many trees at once (quantized_row.hpp)
//   lanes       value trees, several walks at once: eight rows down one tree, or one row down
//               eight trees (lanes.hpp)
//   value_walk  value trees one row at a time; every forest can take it, and only it scores
//               linear leaves and vector leaves (value_walk.hpp)
//   kmeans      nearest centres (kmeans.hpp); k-means models take only this one
// Each plan says which estimators it can score (compatible_plans below); the first
// compatible one in the order above is the fastest on every shape benchmarked
// (docs/benchmarks.md, bench-predict/plans), so it is the one chosen unless a caller forces
// another. Every plan gives bit-identical results (tests/cpp/test_kernels.cpp).
//
// How a plan scores is written once (plans/*.hpp) over the unit's instruction-set traits
// (isa.hpp); score.hpp's driver splits rows into blocks and knows no plan.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/forest.hpp"
#include "engine/kmeans.hpp"
#include "engine/quantized.hpp"

namespace floresta::detail {

// AMD's CPU family 1Ah (Zen 5) or later, asked once (kernel.cpp).
bool cpu_is_zen5_or_later();

enum class Plan : unsigned char { kBitvector, kQuantized, kLanes, kValueWalk, kKMeans };
constexpr std::size_t kPlanCount = 5;

// "bitvector", "quantized", "lanes", "value_walk", "kmeans".
const char* plan_name(Plan plan);

// Whether the quantized plan can take this forest: quantized (compile_forest did), and its
// bins and outputs fit a block of kQuantizedLanes rows.
template <class Rule>
bool quantized_plan_fits(const Forest<Rule>& forest) {
  return !forest.quantized.empty() && forest.quantized.width * kQuantizedLanes <= kBinBudget &&
         forest.num_groups * kQuantizedLanes <= kBlockValues;
}

// Whether the bitvector plan is expected faster than the quantized walk for batches of a
// forest (`wide`: trees of 33-64 leaves, two leaf words) with `kernel` ("avx512", "avx2", "portable"); `zen5`:
// the CPU is AMD's family 1Ah (Zen 5) or later (cpu_is_zen5_or_later above). plan.cpp
// says what was measured.
bool bitvector_preferred(const BitvectorCost& cost, bool wide, const std::string& kernel, bool zen5);

// The plans an estimator can take with `kernel` (the name of the kernel compile() chose),
// fastest first.
template <class Rule>
std::vector<Plan> compatible_plans(const Forest<Rule>& forest, const std::string& kernel) {
  std::vector<Plan> plans;
  // The bitvector plan before the quantized one where its cost model expects it faster.
  const bool bitvector = quantized_plan_fits(forest) && !forest.bitvector.empty();
  const bool preferred =
      bitvector && bitvector_preferred(forest.bitvector.cost, forest.bitvector.wide(), kernel, cpu_is_zen5_or_later());
  if (preferred) plans.push_back(Plan::kBitvector);
  if (quantized_plan_fits(forest)) plans.push_back(Plan::kQuantized);
  if (bitvector && !preferred) plans.push_back(Plan::kBitvector);
  if (!forest.has_linear && forest.leaf_width == 1) plans.push_back(Plan::kLanes);
  plans.push_back(Plan::kValueWalk);
  return plans;
}
inline std::vector<Plan> compatible_plans(const KMeans&, const std::string&) { return {Plan::kKMeans}; }

// The plan a model gets, from the plans it can take (fastest first). `requested` is "auto"
// (or empty), or a plan's name: a plan the model cannot take is an Error naming those it
// can; `source` names the model in it. "auto" takes the first, unless FLORESTA_PLAN names
// another the model can take (a preference, for tests and benchmarks that force one plan
// on every model they load: models it does not fit keep their first; an unknown name is an
// Error).
Plan choose_plan(const std::vector<Plan>& compatible, const std::string& requested, const std::string& source);

}  // namespace floresta::detail
