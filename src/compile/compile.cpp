// compile(): a ModelSpec from any loader -> validated -> rounds cut -> compiled -> Model.
// Each stage has its own file in src/compile/ (declared in stages.hpp).
#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "compile/stages.hpp"
#include "engine/forest.hpp"
#include "engine/kernel.hpp"
#include "engine/kmeans.hpp"
#include "engine/plan.hpp"
#include "fail.hpp"
#include "floresta/model.hpp"
#include "model_data.hpp"
#include "record_encoding.hpp"

namespace floresta {

namespace {

// Keeps the first `rounds` boosting rounds; an averaged forest then averages over those.
void keep_rounds(ModelSpec& spec, std::size_t rounds) {
  if (spec.iteration_indptr.empty() || rounds + 1 >= spec.iteration_indptr.size()) return;
  if (spec.iteration_indptr.back() != spec.trees.size())
    detail::fail(spec.source, ": iteration_indptr must end at the number of trees (", spec.trees.size(), ")");
  spec.trees.resize(std::min<std::size_t>(spec.trees.size(), spec.iteration_indptr[rounds]));
  spec.iteration_indptr.resize(rounds + 1);
  if (spec.average_divisor > 0) spec.average_divisor = static_cast<double>(rounds);
}

}  // namespace

Model compile(ModelSpec spec, const LoadOptions& options) {
  // Every tree is validated, the ones about to be cut too: a damaged file is refused whatever
  // number of rounds a caller asks for.
  if (spec.task == Task::kClustering) detail::validate_kmeans(spec);
  else detail::validate(spec, options);
  if ((options.use_best_iteration || spec.use_best_iteration) && spec.best_iteration >= 0)
    keep_rounds(spec, static_cast<std::size_t>(spec.best_iteration) + 1);
  if (options.num_iterations < 0) detail::fail(spec.source, ": num_iterations must be >= 0");
  if (options.num_iterations > 0) keep_rounds(spec, static_cast<std::size_t>(options.num_iterations));
  auto data = std::make_shared<detail::ModelData>();
  if (spec.task == Task::kClustering) {
    const auto k = static_cast<Eigen::Index>(spec.num_outputs), d = static_cast<Eigen::Index>(spec.num_features);
    detail::KMeans::RowMatrix<double> centers(k, d);
    std::copy(spec.centers.begin(), spec.centers.end(), centers.data());
    data->estimator = detail::KMeans(std::move(centers));
  }
  data->num_trees = spec.trees.size();
  data->kernel = &detail::choose_kernel(options.kernel, spec.source);  // its bitvectors' word width first
  if (spec.task != Task::kClustering) {
    switch (spec.rule) {
      case DecisionRule::kXGBoost:
        data->estimator = detail::compile_forest<detail::XGBoostRule>(spec, options, data->kernel->bitvector_word_bits,
                                                                          data->kernel->bitvector_rows);
        break;
      case DecisionRule::kLightGBM:
        data->estimator = detail::compile_forest<detail::LightGBMRule>(spec, options, data->kernel->bitvector_word_bits,
                                                                          data->kernel->bitvector_rows);
        break;
      case DecisionRule::kSkLearnHist:
        data->estimator = detail::compile_forest<detail::SkLearnHistRule>(spec, options, data->kernel->bitvector_word_bits,
                                                                          data->kernel->bitvector_rows);
        break;
      case DecisionRule::kSkLearnTree:
        data->estimator = detail::compile_forest<detail::SkLearnTreeRule>(spec, options, data->kernel->bitvector_word_bits,
                                                                          data->kernel->bitvector_rows);
        break;
    }
  }
  data->plan = std::visit([&](const auto& estimator) {
    return detail::choose_plan(detail::compatible_plans(estimator, data->kernel->name), options.plan, spec.source);
  }, data->estimator);
  data->shap = std::visit([&](const auto& estimator) {
    if constexpr (std::is_same_v<std::decay_t<decltype(estimator)>, detail::KMeans>) {
      detail::ShapTables none;
      none.refusal = spec.source + ": explanations (TreeSHAP) are for tree models, and this is a k-means model";
      return none;
    } else {
      return detail::prepare_tree_shap(estimator, spec.source);
    }
  }, data->estimator);
  data->records = detail::build_record_encoding(spec.schema, spec.preprocessing, spec.source);
  static_cast<ModelDescription&>(*data) = std::move(spec);
  return Model(std::move(data));
}

}  // namespace floresta
