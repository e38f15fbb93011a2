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
#include "explain/treeshap.hpp"
#include "floresta/model.hpp"
#include "floresta/spec.hpp"
#include "record_encoding.hpp"

namespace floresta::detail {

using AnyEstimator = std::variant<Forest<XGBoostRule>, Forest<LightGBMRule>, Forest<SkLearnHistRule>,
                                  Forest<SkLearnTreeRule>, KMeans>;

}  // namespace floresta::detail

namespace floresta {

struct Model::Data : ModelDescription {
  std::size_t num_trees = 0;
  detail::AnyEstimator estimator;
  const detail::Kernel* kernel = nullptr;  // chosen once by compile() (choose_kernel)
  detail::Plan plan = detail::Plan::kValueWalk;  // chosen once by compile() (choose_plan)
  detail::RecordEncoding records;
  detail::ShapTables shap;  // explanations (src/explain.cpp): the expected values, or why not
};

namespace detail {
using ModelData = Model::Data;
}  // namespace detail

}  // namespace floresta
