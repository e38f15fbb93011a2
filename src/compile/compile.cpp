// compile(): a ModelSpec from any loader -> validated -> rounds cut -> compiled -> Model.
// Each stage has its own file in src/compile/ (declared in stages.hpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "compile/stages.hpp"
#include "engine/forest.hpp"
#include "engine/kernel.hpp"
#include "engine/kmeans.hpp"
#include "engine/model_data.hpp"
#include "floresta/error.hpp"
#include "floresta/model.hpp"
#include "floresta/record.hpp"

namespace floresta {
namespace detail {

namespace {

// Checks a feature's input rule against its vocabulary and builds its lookup: every category
// and alias folded as the rule says, each folded text meaning one category.
ModelData::InputLookup index_input_rule(const Feature& feature, const std::string& source) {
  const InputRule& rule = feature.input;
  ModelData::InputLookup lookup;
  const std::string where = source + ": input rule of feature '" + feature.name + "'";
  const bool texts = feature.is_categorical() && !feature.string_categories.empty();
  const bool folds = rule.fold_case || rule.fold_accents || rule.fold_spaces;
  if (!texts && (folds || !rule.aliases.empty() || rule.leading_words || rule.otherwise || !rule.display.empty()))
    fail(where, ": fold, aliases, leading_words, otherwise and display need a categorical feature with string categories");
  if (feature.is_categorical() && (rule.min || rule.max)) fail(where, ": min and max are for numeric features");
  if (rule.min && rule.max && *rule.min > *rule.max) fail(where, ": min ", *rule.min, " is above max ", *rule.max);
  if (!texts) return lookup;
  std::unordered_map<std::string, std::size_t> code_of;
  for (std::size_t k = 0; k < feature.string_categories.size(); ++k) code_of.emplace(feature.string_categories[k], k);
  const auto category = [&](const std::string& name, const char* what) {
    const auto it = code_of.find(name);
    if (it == code_of.end()) fail(where, ": ", what, " \"", name, "\" is not one of the feature's categories");
    return it->second;
  };
  const auto fold = [&](const std::string& text) { return fold_text(text, rule.fold_case, rule.fold_accents, rule.fold_spaces); };
  std::unordered_map<std::string, std::string> meaning;  // folded text -> the text it came from
  const auto add = [&](const std::string& text, std::size_t code) {
    const std::string key = fold(text);
    const auto [it, inserted] = lookup.codes.emplace(key, static_cast<double>(code));
    if (!inserted && it->second != static_cast<double>(code))
      fail(where, ": \"", text, "\" and \"", meaning[key], "\" both read as \"", key, "\" but mean different categories");
    meaning.emplace(key, text);
  };
  for (std::size_t k = 0; k < feature.string_categories.size(); ++k) add(feature.string_categories[k], k);
  for (const auto& [text, target] : rule.aliases) add(text, category(target, "alias target"));
  for (const auto& [name, shown] : rule.display) category(name, "display name's category");
  if (rule.otherwise) {
    lookup.otherwise = static_cast<double>(category(*rule.otherwise, "otherwise"));
    lookup.has_otherwise = true;
  }
  return lookup;
}

}  // namespace

// Lookups for encoding records: names, category codes, and the code of an unseen category
// (-1 where a preprocessing lookup reads the feature and tells unknown from missing, else NaN).
void index_schema(ModelData& data) {
  const auto& features = data.schema.features;
  data.string_codes.assign(features.size(), {});
  data.number_codes.assign(features.size(), {});
  data.unknown_code.assign(features.size(), std::numeric_limits<double>::quiet_NaN());
  data.input_codes.assign(features.size(), {});
  for (std::size_t f = 0; f < features.size(); ++f) {
    if (features[f].input.present) data.input_codes[f] = index_input_rule(features[f], data.source);
    data.feature_index.emplace(features[f].name, f);  // a repeated name keeps its first column
    for (std::size_t k = 0; k < features[f].string_categories.size(); ++k)
      data.string_codes[f].emplace(features[f].string_categories[k], static_cast<double>(k));
    for (std::size_t k = 0; k < features[f].number_categories.size(); ++k)
      data.number_codes[f].emplace(features[f].number_categories[k], static_cast<double>(k));
  }
  for (const auto& column : data.preprocessing.columns)
    for (const auto& step : column.steps)
      if (step.kind == StepKind::kLookupCode && column.steps.front().kind == step.kind) data.unknown_code[column.input] = -1;
}

}  // namespace detail

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
  data->source = spec.source;
  data->format = spec.format;
  data->objective = spec.objective;
  data->task = spec.task;
  data->link = spec.link;
  data->class_from_margin = spec.class_from_margin;
  data->num_classes = spec.num_classes;
  data->num_outputs = static_cast<std::size_t>(spec.num_outputs);
  data->num_trees = spec.trees.size();
  data->best_iteration = spec.best_iteration;
  data->average_divisor = spec.average_divisor;
  data->link_scale = spec.link_scale;
  data->decision_offset = spec.decision_offset;
  if (spec.task != Task::kClustering) {
    switch (spec.rule) {
      case DecisionRule::kXGBoost:
        data->estimator = detail::compile_forest<detail::XGBoostRule>(spec, options);
        break;
      case DecisionRule::kLightGBM:
        data->estimator = detail::compile_forest<detail::LightGBMRule>(spec, options);
        break;
      case DecisionRule::kSkLearnHist:
        data->estimator = detail::compile_forest<detail::SkLearnHistRule>(spec, options);
        break;
      case DecisionRule::kSkLearnTree:
        data->estimator = detail::compile_forest<detail::SkLearnTreeRule>(spec, options);
        break;
    }
  }
  data->kernel = &detail::choose_kernel(options.kernel, spec.source);
  data->schema = std::move(spec.schema);
  data->preprocessing = std::move(spec.preprocessing);
  data->metadata = std::move(spec.metadata);
  detail::index_schema(*data);
  return Model(std::move(data));
}

}  // namespace floresta
