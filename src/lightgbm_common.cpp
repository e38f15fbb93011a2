// What LightGBM's text and JSON loaders share (lightgbm_common.hpp). Facts used here are
// in docs/lightgbm.md and checked by tests/python/test_lightgbm_parity.py.
#include "lightgbm_common.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "fail.hpp"
#include "floresta/error.hpp"

namespace floresta::detail::lightgbm {
namespace {

enum class MissingType { kNone = 0, kZero = 1, kNaN = 2 };

}  // namespace

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const bool space = i == text.size() || text[i] == ' ' || text[i] == '\t' || text[i] == '\r';
    if (!space) continue;
    if (i > start) words.emplace_back(text.data() + start, i - start);
    start = i + 1;
  }
  return words;
}

ObjectiveInfo parse_objective(const std::string& text, int num_class, const std::string& source) {
  ObjectiveInfo info;
  const std::vector<std::string_view> words = split_words(text);
  if (words.empty() || words[0] == "custom" || words[0] == "none") return info;
  const std::string name(words[0]);
  auto option = [&](const std::string& key, double fallback) {
    for (const auto& w : words)
      if (w.rfind(key + ":", 0) == 0) {
        double v = 0;
        if (!parse_double(w.substr(key.size() + 1), v)) fail(source, ": objective option '", w, "' is not a number");
        return v;
      }
    return fallback;
  };
  auto has_word = [&](const char* flag) { return std::find(words.begin(), words.end(), flag) != words.end(); };
  if (name == "binary") {
    info.task = Task::kBinaryClassification;
    info.link = Link::kSigmoid;
    info.scale = option("sigmoid", 1.0);
    info.num_classes = 2;
  } else if (name == "multiclass" || name == "softmax") {
    info.task = Task::kMulticlassClassification;
    info.link = Link::kSoftmax;
    info.num_classes = num_class;
  } else if (name == "multiclassova" || name == "multiclass_ova" || name == "ova" || name == "ovr") {
    info.task = Task::kMulticlassClassification;
    info.link = Link::kOneVsRestSigmoid;
    info.scale = option("sigmoid", 1.0);
    info.num_classes = num_class;
  } else if (name == "cross_entropy" || name == "xentropy") {
    info.link = Link::kSigmoid;
  } else if (name == "poisson" || name == "gamma" || name == "tweedie") {
    info.link = Link::kExp;
  } else if (name == "regression" || name == "regression_l2" || name == "regression_l1" || name == "huber" ||
             name == "fair" || name == "quantile" || name == "mape" || name == "lambdarank" || name == "rank_xendcg") {
    info.link = has_word("sqrt") ? Link::kSignedSquare : Link::kIdentity;
  } else {
    fail(source, ": unsupported LightGBM objective '", text,
         "' (supported: binary, multiclass, multiclassova, cross_entropy, regression, regression_l1, huber, fair, "
         "quantile, mape, poisson, gamma, tweedie, lambdarank, rank_xendcg, custom)");
  }
  return info;
}

void size_tree(TreeSpec& tree, std::size_t n) {
  tree.left_children.assign(n, -1);
  tree.right_children.assign(n, -1);
  tree.split_feature.assign(n, 0);
  tree.threshold.assign(n, 0.0);
  tree.leaf_value.assign(n, 0.0);
  tree.default_left.assign(n, 0);
  tree.is_categorical.assign(n, 0);
  tree.zero_is_missing.assign(n, 0);
  tree.category_bits.assign(n, 0);
  tree.category_offsets.assign(n + 1, 0);
}

void set_split(TreeSpec& tree, std::size_t i, int64_t feature, double threshold, int decision_type,
               const std::vector<uint32_t>& category_set, uint32_t category_bits) {
  const bool categorical = decision_type & 1;
  const bool default_left = (decision_type >> 1) & 1;
  const auto missing = static_cast<MissingType>((decision_type >> 2) & 3);
  tree.split_feature[i] = static_cast<int32_t>(feature);
  tree.threshold[i] = threshold;
  tree.is_categorical[i] = categorical;
  if (categorical) {
    tree.default_left[i] = 0;  // NaN, negative and unknown codes go right
    tree.category_bits[i] = category_bits;
    tree.category_words.insert(tree.category_words.end(), category_set.begin(), category_set.end());
  } else if (missing == MissingType::kNone) {
    tree.default_left[i] = 0.0 <= threshold;  // NaN is scored as 0
  } else {
    tree.default_left[i] = default_left;
    tree.zero_is_missing[i] = missing == MissingType::kZero;
  }
  tree.category_offsets[i + 1] = static_cast<uint32_t>(tree.category_words.size());
}

void attach_pandas_categorical(const Json& lists, Schema& schema, const std::string& source) {
  if (lists.is_null()) return;
  if (!lists.is_array()) fail(source, ": pandas_categorical must be a list of lists");
  std::vector<std::size_t> categorical;
  for (std::size_t f = 0; f < schema.features.size(); ++f)
    if (schema.features[f].is_categorical()) categorical.push_back(f);
  if (lists.size() != categorical.size()) return;  // categorical_feature given by index: codes are taken as given
  for (std::size_t k = 0; k < lists.size(); ++k) {
    Feature& feature = schema.features[categorical[k]];
    if (!lists[k].is_array()) fail(source, ": pandas_categorical[", k, "] must be a list");
    for (const auto& v : lists[k]) {
      if (v.is_string()) feature.string_categories.push_back(v.get<std::string>());
      else if (v.is_number()) feature.number_categories.push_back(v.get<double>());
      else fail(source, ": pandas_categorical[", k, "] holds a value that is neither a string nor a number");
    }
    if (!feature.string_categories.empty() && !feature.number_categories.empty())
      fail(source, ": pandas_categorical[", k, "] mixes strings and numbers");
  }
}

void finish_spec(ModelSpec& spec, const ObjectiveInfo& objective, int per_iteration, bool average_output) {
  spec.rule = DecisionRule::kLightGBM;
  spec.task = objective.task;
  spec.link = objective.link;
  spec.link_scale = objective.scale;
  spec.num_classes = objective.task == Task::kRegression ? 0 : (objective.task == Task::kBinaryClassification ? 2 : objective.num_classes);
  spec.num_outputs = per_iteration;
  spec.base_margin.assign(static_cast<std::size_t>(per_iteration), 0.0);
  for (std::size_t t = 0; t < spec.trees.size(); ++t) spec.trees[t].output_group = static_cast<int32_t>(t % static_cast<std::size_t>(per_iteration));
  for (uint64_t b = 0; b <= spec.trees.size(); b += static_cast<uint64_t>(per_iteration)) spec.iteration_indptr.push_back(b);
  if (spec.iteration_indptr.back() != spec.trees.size()) spec.iteration_indptr.push_back(spec.trees.size());
  if (average_output) spec.average_divisor = static_cast<double>(spec.iteration_indptr.size() - 1);
  if (spec.task != Task::kRegression)
    for (int k = 0; k < spec.num_classes; ++k) spec.schema.output_labels.push_back(std::to_string(k));
}

}  // namespace floresta::detail::lightgbm
