// src/model_data.hpp — what a compiled Model holds (model.hpp keeps it opaque): the model's
// description as its loader read it, the compiled estimator with the kernel and plan that
// score it (src/engine/), and the record lookups (record_encoding.hpp).
#pragma once

#include <cstddef>
#include <variant>

#include "engine/forest.hpp"
#include "engine/kernel.hpp"
#include "engine/kmeans.hpp"
#include "engine/plan.hpp"
#include "floresta/spec.hpp"
#include "record_encoding.hpp"

namespace floresta::detail {

using AnyEstimator = std::variant<Forest<XGBoostRule>, Forest<LightGBMRule>, Forest<SkLearnHistRule>,
                                  Forest<SkLearnTreeRule>, KMeans>;

struct ModelData : ModelDescription {
  std::size_t num_trees = 0;
  AnyEstimator estimator;
  const Kernel* kernel = nullptr;  // chosen once by compile() (choose_kernel)
  Plan plan = Plan::kValueWalk;    // chosen once by compile() (choose_plan)
  RecordEncoding records;
};

}  // namespace floresta::detail
