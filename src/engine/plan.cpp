// Plan choice (plan.hpp): the plan a model gets when it is compiled.
#include "engine/plan.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "fail.hpp"

namespace floresta::detail {
namespace {

constexpr Plan kAllPlans[] = {Plan::kBitvector, Plan::kQuantized, Plan::kLanes, Plan::kValueWalk, Plan::kKMeans};

bool plan_named(const std::string& name, Plan& plan) {
  for (const Plan p : kAllPlans)
    if (name == plan_name(p)) {
      plan = p;
      return true;
    }
  return false;
}

std::string joined(const std::vector<Plan>& plans) {
  std::string out;
  for (const Plan plan : plans) out += (out.empty() ? "" : ", ") + std::string(plan_name(plan));
  return out;
}

}  // namespace

const char* plan_name(Plan plan) {
  switch (plan) {
    case Plan::kBitvector: return "bitvector";
    case Plan::kQuantized: return "quantized";
    case Plan::kLanes: return "lanes";
    case Plan::kValueWalk: return "value_walk";
    case Plan::kKMeans: return "kmeans";
  }
  return "";
}

// The cost model was fitted to ten forests measured with both plans on an Intel VM (Sapphire
// Rapids class; docs/benchmarks.md, bench-predict/bitvector-choice): a row costs the bitvector
// plan about 1.2 units per 32-bit leaf word its splits clear for every sixteen rows, plus 0.5 a
// tree; the quantized walk a unit per step (a 16-bit word counts half). It picked the faster
// plan on all ten there, and on an AMD Zen 5 VM for avx2 and portable (after wide trees became
// two 32-bit words, or four 16-bit ones for the portable kernel: docs/benchmarks.md,
// bench-predict/bitvector-words). One exception, measured on the Zen 5 VM on the same forests:
// AVX-512 there scores every wide forest (trees of 33-64 leaves) 1.4-2x faster as bitvectors,
// which the rule does not always see.
bool bitvector_preferred(const BitvectorCost& cost, bool wide, const std::string& kernel, bool zen5) {
  if (wide && kernel == "avx512" && zen5) return true;
  return 0.5 * cost.trees + 1.2 * cost.words < cost.steps;
}

Plan choose_plan(const std::vector<Plan>& compatible, const std::string& requested, const std::string& source) {
  if (compatible.empty()) fail(source, ": no scoring plan takes this model");
  const auto takes = [&](Plan plan) { return std::find(compatible.begin(), compatible.end(), plan) != compatible.end(); };
  Plan plan = compatible.front();
  if (requested.empty() || requested == "auto") {
    const char* env = std::getenv("FLORESTA_PLAN");
    if (!env || !*env || std::string(env) == "auto") return compatible.front();
    if (!plan_named(env, plan))
      fail(source, ": unknown plan '", env, "' (FLORESTA_PLAN): expected auto, bitvector, quantized, lanes, value_walk or kmeans");
    return takes(plan) ? plan : compatible.front();
  }
  if (!plan_named(requested, plan))
    fail(source, ": unknown plan '", requested, "' (LoadOptions::plan): expected auto, bitvector, quantized, lanes, value_walk or kmeans");
  if (!takes(plan))
    fail(source, ": plan '", requested, "' (LoadOptions::plan) cannot score this model; it can take ", joined(compatible));
  return plan;
}

}  // namespace floresta::detail
