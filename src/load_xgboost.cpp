// Loader for XGBoost's save_model format (JSON and UBJSON share one document shape).
// Facts used here are documented in docs/xgboost.md and checked by
// tests/python/test_xgboost_parity.py and test_xgboost_model_zoo.py.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "floresta/error.hpp"
#include "threads.hpp"
#include "loaders.hpp"

namespace floresta::detail {
namespace {

enum class BaseScoreForm { kIdentity, kLogit, kLog };

struct Objective {
  const char* name;
  Task task;
  Link link;
  BaseScoreForm base;
  bool class_from_margin;
};

// Every objective floresta scores; anything else is refused by name.
constexpr Objective kObjectives[] = {
    {"binary:logistic", Task::kBinaryClassification, Link::kSigmoid, BaseScoreForm::kLogit, false},
    {"binary:logitraw", Task::kBinaryClassification, Link::kSigmoid, BaseScoreForm::kIdentity, true},
    {"binary:hinge", Task::kBinaryClassification, Link::kHinge, BaseScoreForm::kIdentity, false},
    {"reg:squarederror", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"reg:linear", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"reg:squaredlogerror", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"reg:absoluteerror", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"reg:pseudohubererror", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"reg:quantileerror", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"reg:logistic", Task::kRegression, Link::kSigmoid, BaseScoreForm::kLogit, false},
    {"count:poisson", Task::kRegression, Link::kExp, BaseScoreForm::kLog, false},
    {"reg:gamma", Task::kRegression, Link::kExp, BaseScoreForm::kLog, false},
    {"reg:tweedie", Task::kRegression, Link::kExp, BaseScoreForm::kLog, false},
    {"multi:softprob", Task::kMulticlassClassification, Link::kSoftmax, BaseScoreForm::kIdentity, false},
    {"multi:softmax", Task::kMulticlassClassification, Link::kSoftmax, BaseScoreForm::kIdentity, true},
    // Ranking: XGBoost predicts the raw scores.
    {"rank:pairwise", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"rank:ndcg", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    {"rank:map", Task::kRegression, Link::kIdentity, BaseScoreForm::kIdentity, false},
    // Survival: predict gives exp(margin) (Cox: the hazard ratio; AFT: the survival time).
    {"survival:cox", Task::kRegression, Link::kExp, BaseScoreForm::kLog, false},
    {"survival:aft", Task::kRegression, Link::kExp, BaseScoreForm::kLog, false},
};

const Objective& find_objective(const JsonCursor& name_field) {
  const std::string name = name_field.as_string();
  for (const auto& objective : kObjectives)
    if (name == objective.name) return objective;
  std::string known;
  for (const auto& objective : kObjectives) known += std::string(known.empty() ? "" : ", ") + objective.name;
  name_field.fail("unsupported objective '" + name + "' (supported: " + known + ")");
}

// base_score is stored in response space as a string: "5E-1" (<= 3.0) or "[5E-1]" /
// "[a,b,c]" (>= 3.1). XGBoost parses it as float32 and converts it to a margin in float32.
std::vector<std::string> base_score_items(const JsonCursor& field) {
  const std::string text = field.as_string();
  std::vector<std::string> items;
  if (!text.empty() && text.front() == '[') {
    if (text.back() != ']') field.fail("unterminated base_score array \"" + text + "\"");
    std::string item;
    for (std::size_t i = 1; i + 1 < text.size(); ++i) {
      if (text[i] == ',') {
        items.push_back(item);
        item.clear();
      } else if (text[i] != ' ') {
        item += text[i];
      }
    }
    items.push_back(item);
  } else {
    items.push_back(text);
  }
  return items;
}

std::vector<double> read_base_margin(const JsonCursor& field, const std::vector<std::string>& items, const Objective& objective,
                                     int num_outputs) {
  if (items.size() != 1 && items.size() != static_cast<std::size_t>(num_outputs))
    field.fail("base_score has " + std::to_string(items.size()) + " values for " +
               std::to_string(num_outputs) + " outputs");
  std::vector<double> margins;
  for (const auto& item : items) {
    float p = 0;
    if (!parse_float(item, p)) field.fail("base_score \"" + item + "\" is not a number");
    float m = p;
    if (objective.base == BaseScoreForm::kLogit) {
      if (!(p > 0.0f && p < 1.0f)) field.fail("base_score " + item + " must lie in (0, 1) for " + objective.name);
      m = -std::log(1.0f / p - 1.0f);
    } else if (objective.base == BaseScoreForm::kLog) {
      if (!(p > 0.0f)) field.fail("base_score " + item + " must be positive for " + objective.name);
      m = std::log(p);
    }
    margins.push_back(static_cast<double>(m));
  }
  if (margins.size() == 1) margins.assign(static_cast<std::size_t>(num_outputs), margins[0]);
  return margins;
}

template <class T>
void require_length(const JsonCursor& field, const std::vector<T>& values, std::size_t expected) {
  if (values.size() != expected)
    field.fail("has " + std::to_string(values.size()) + " entries, expected num_nodes = " +
               std::to_string(expected));
}

int32_t to_int32(const JsonCursor& field, int64_t v, std::size_t index) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    field.fail("entry " + std::to_string(index) + " = " + std::to_string(v) + " does not fit in int32");
  return static_cast<int32_t>(v);
}

// The leaf width a tree declares: 1 for scalar leaves (size_leaf_vector 0 or 1, or absent).
int64_t leaf_vector_size(const JsonCursor& tree) {
  const JsonCursor param = tree.at("tree_param");
  if (!param.has("size_leaf_vector")) return 1;
  const int64_t width = param.at("size_leaf_vector").as_int();
  if (width < 0 || width > kMaxOutputs) param.at("size_leaf_vector").fail("out of range [0, " + std::to_string(kMaxOutputs) + "]");
  return std::max<int64_t>(width, 1);
}

// Vector leaves (multi_strategy=multi_output_tree, XGBoost 2.0+): leaf i's values are
// leaf_weights[r * width .. (r + 1) * width) with r = right_children[i] (XGBoost keeps a
// leaf's slot there); without leaf_weights, base_weights holds width values per node.
// num_nodes x size_leaf_vector values are only allocated once the file is seen to hold them:
// base_weights all of them, leaf_weights one vector per leaf of a binary tree of num_nodes
// nodes ((num_nodes + 1) / 2, as XGBoost writes them).
void read_leaf_vectors(const JsonCursor& tree, TreeSpec& spec, std::size_t width) {
  const std::size_t n = spec.num_nodes();
  const bool slotted = tree.has("leaf_weights");
  const JsonCursor field = tree.at(slotted ? "leaf_weights" : "base_weights");
  const std::vector<double> weights = field.double_array();
  std::size_t total = 0;
  if (!checked_mul(n, width, total)) field.fail("num_nodes x size_leaf_vector overflows");
  if (!slotted && weights.size() != total)
    field.fail("has " + std::to_string(weights.size()) + " values, expected num_nodes x size_leaf_vector = " +
               std::to_string(n) + " x " + std::to_string(width) + " = " + std::to_string(total));
  if (weights.size() % width != 0) field.fail("length is not a multiple of size_leaf_vector");
  if (slotted && weights.size() / width < (n + 1) / 2)
    field.fail("has " + std::to_string(weights.size() / width) + " leaf vectors of size_leaf_vector = " + std::to_string(width) +
               ", a tree of num_nodes = " + std::to_string(n) + " needs " + std::to_string((n + 1) / 2));
  spec.leaf_vector.assign(total, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    if (spec.left_children[i] != -1) continue;
    std::size_t slot = i;
    if (slotted) {
      const int32_t r = spec.right_children[i];
      if (r < 0 || static_cast<std::size_t>(r) >= weights.size() / width)
        tree.at("right_children").fail("leaf " + std::to_string(i) + " points to leaf slot " + std::to_string(r) +
                                       ", outside leaf_weights");
      slot = static_cast<std::size_t>(r);
      spec.right_children[i] = -1;
    }
    std::copy_n(weights.begin() + static_cast<std::ptrdiff_t>(slot * width), width,
                spec.leaf_vector.begin() + static_cast<std::ptrdiff_t>(i * width));
  }
}

TreeSpec read_tree(const JsonCursor& tree, int64_t width, CategoryBudget& budget) {
  TreeSpec spec;
  const int64_t num_nodes = tree.at("tree_param").at("num_nodes").as_int();
  if (num_nodes <= 0 || num_nodes > (int64_t(1) << 31) - 1)
    tree.at("tree_param").at("num_nodes").fail("num_nodes must be in [1, 2^31)");
  const auto n = static_cast<std::size_t>(num_nodes);
  if (leaf_vector_size(tree) != width)
    tree.at("tree_param").at("size_leaf_vector").fail("differs from the first tree's (" + std::to_string(width) + ")");

  auto read_ints = [&](const char* key, std::vector<int32_t>& out) {
    const JsonCursor field = tree.at(key);
    const auto values = field.int_array();
    require_length(field, values, n);
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = to_int32(field, values[i], i);
  };
  read_ints("left_children", spec.left_children);
  read_ints("right_children", spec.right_children);
  read_ints("split_indices", spec.split_feature);

  const JsonCursor conditions = tree.at("split_conditions");
  spec.threshold = conditions.double_array();
  require_length(conditions, spec.threshold, n);
  spec.leaf_value = spec.threshold;  // XGBoost keeps a leaf's value in split_conditions

  // Booleans in XGBoost 1.0-1.5, integers since.
  const JsonCursor default_left = tree.at("default_left");
  spec.default_left = default_left.flag_array();
  require_length(default_left, spec.default_left, n);

  // The hessian sum reaching each node: explanations' cover (absent from vector-leaf trees).
  if (tree.has("sum_hessian")) {
    const JsonCursor hessians = tree.at("sum_hessian");
    spec.cover = hessians.double_array();
    require_length(hessians, spec.cover, n);
  }

  spec.is_categorical.assign(n, 0);
  if (tree.has("split_type")) {
    const JsonCursor split_type = tree.at("split_type");
    const auto types = split_type.int_array();
    require_length(split_type, types, n);
    for (std::size_t i = 0; i < n; ++i) {
      if (types[i] != 0 && types[i] != 1)
        split_type.fail("entry " + std::to_string(i) + " = " + std::to_string(types[i]) +
                        " is not a known split type (0 numeric, 1 categorical)");
      spec.is_categorical[i] = static_cast<uint8_t>(types[i]);
    }
  }

  // Categorical splits: categories_nodes (node ids) with segments into `categories`.
  const bool any_categorical =
      std::find(spec.is_categorical.begin(), spec.is_categorical.end(), 1) != spec.is_categorical.end();
  if (any_categorical) {
    const JsonCursor nodes_field = tree.at("categories_nodes");
    const JsonCursor segments_field = tree.at("categories_segments");
    const JsonCursor sizes_field = tree.at("categories_sizes");
    const JsonCursor values_field = tree.at("categories");
    const auto nodes = nodes_field.int_array();
    const auto segments = segments_field.int_array();
    const auto sizes = sizes_field.int_array();
    const auto values = values_field.int_array();
    if (segments.size() != nodes.size() || sizes.size() != nodes.size())
      nodes_field.fail("categories_nodes, categories_segments and categories_sizes differ in length");
    std::vector<int64_t> begin(n, -1), count(n, 0);
    uint64_t listed = 0;  // codes the segments list together: XGBoost's segments do not overlap
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      const int64_t node = nodes[k];
      if (node < 0 || node >= num_nodes) nodes_field.fail("node id " + std::to_string(node) + " out of range");
      if (!spec.is_categorical[static_cast<std::size_t>(node)])
        nodes_field.fail("node " + std::to_string(node) + " is listed but its split_type is numeric");
      if (segments[k] < 0 || sizes[k] < 0 ||
          segments[k] > static_cast<int64_t>(values.size()) ||
          sizes[k] > static_cast<int64_t>(values.size()) - segments[k])
        segments_field.fail("segment " + std::to_string(k) + " lies outside 'categories'");
      listed += static_cast<uint64_t>(sizes[k]);
      if (listed > values.size())
        sizes_field.fail("the segments list " + std::to_string(listed) + " codes in all by segment " + std::to_string(k) +
                         ", more than the " + std::to_string(values.size()) + " of 'categories' (segments may not overlap)");
      begin[static_cast<std::size_t>(node)] = segments[k];
      count[static_cast<std::size_t>(node)] = sizes[k];
    }
    spec.category_offsets.assign(n + 1, 0);
    constexpr uint64_t kBillEvery = uint64_t(1) << 16;
    uint64_t unbilled = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (spec.is_categorical[i] && spec.left_children[i] != -1 && begin[i] < 0)
        tree.fail("categorical split at node " + std::to_string(i) + " has no category set");
      const int64_t* codes = values.data() + std::max<int64_t>(begin[i], 0);
      if (!append_category_set(spec.category_words, codes, static_cast<std::size_t>(count[i])))
        for (int64_t c = 0; c < count[i]; ++c)
          if (codes[c] < 0 || codes[c] >= kMaxCategory)
            values_field.fail("node " + std::to_string(i) + ": category value " + std::to_string(codes[c]) +
                              " out of range [0, 2^24)");
      spec.category_offsets[i + 1] = static_cast<uint32_t>(spec.category_words.size());
      // The set's words (and the compiled set's count word) against the file's budget,
      // a few sets at a time: at most one set (2 MiB) is built past the limit.
      if (spec.is_categorical[i]) unbilled += spec.category_offsets[i + 1] - spec.category_offsets[i] + 1;
      if (unbilled >= kBillEvery || (i + 1 == n && unbilled > 0)) {
        if (!budget.charge(unbilled)) values_field.fail("node " + std::to_string(i) + ": " + budget.rule());
        unbilled = 0;
      }
    }
  }
  if (width > 1) read_leaf_vectors(tree, spec, static_cast<std::size_t>(width));
  return spec;
}

// Category vocabularies (XGBoost >= 3.1): model.cats.enc[f] is either {offsets, values}
// with the UTF-8 bytes of string categories, or {type, values} with numeric categories.
void read_categories(const JsonCursor& cats, Schema& schema) {
  if (!cats.has("enc")) return;
  const JsonCursor enc = cats.at("enc");
  const std::size_t n = enc.size();
  if (n == 0) return;  // a model without categorical features
  if (n != schema.features.size())
    enc.fail("has " + std::to_string(n) + " entries for " + std::to_string(schema.features.size()) + " features");
  for (std::size_t f = 0; f < n; ++f) {
    const JsonCursor column = enc.at(f);
    Feature& feature = schema.features[f];
    if (column.has("offsets")) {
      // CSR: category k is bytes[offsets[k] .. offsets[k + 1]).
      const auto offsets = column.at("offsets").int_array();
      const auto bytes = column.at("values").int_array();
      for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
        const int64_t start = offsets[k], stop = offsets[k + 1];
        if (start < 0 || stop < start || stop > static_cast<int64_t>(bytes.size()))
          column.at("offsets").fail("offset " + std::to_string(k) + " out of order or past the values");
        std::string value;
        for (int64_t b = start; b < stop; ++b) {
          const int64_t byte = bytes[static_cast<std::size_t>(b)];
          // XGBoost writes these bytes as signed 8-bit numbers; a negative one belongs to a
          // non-ASCII category name, which XGBoost up to 3.2 stores truncated (its offsets count
          // characters, not bytes): the vocabulary cannot be trusted, so it is refused.
          if (byte < 0)
            column.at("values").fail("non-ASCII category name: XGBoost (up to 3.2 at least) stores such names "
                                     "truncated, so this vocabulary cannot be read; use ASCII categories or LightGBM");
          if (byte > 255) column.at("values").fail("byte out of range");
          value += static_cast<char>(byte);
        }
        feature.string_categories.push_back(std::move(value));
      }
    } else if (column.has("values")) {
      feature.number_categories = column.at("values").double_array();
    }
    if (feature.has_vocabulary()) feature.type = FeatureType::kCategorical;
  }
}

// gblinear: model.weights is (num_feature + 1) x groups, row-major, the last row the bias.
// XGBoost's margin is base + bias + the sum of x[f] * w[f] over the features present (a
// missing input adds nothing). Each non-zero weight becomes a one-leaf tree whose linear
// leaf is w[f] * x[f] and whose constant leaf value (taken when x[f] is NaN) is 0.
void read_linear_booster(const JsonCursor& model, ModelSpec& spec) {
  const JsonCursor field = model.at("weights");
  const std::vector<double> weights = field.double_array();
  const auto groups = static_cast<std::size_t>(spec.num_outputs);
  const auto features = static_cast<std::size_t>(spec.num_features);
  std::size_t expected = 0;
  if (!checked_mul(features + 1, groups, expected) || weights.size() != expected)
    field.fail("has " + std::to_string(weights.size()) + " weights, expected (num_feature + 1) x " +
               std::to_string(groups) + " = " + std::to_string(expected));
  // XGBoost's gblinear starts every group from the first group's base margin (3.2 stores
  // one per class but its linear predictor reads only the first).
  const float base = static_cast<float>(spec.base_margin[0]);
  for (std::size_t g = 0; g < groups; ++g)
    spec.base_margin[g] = static_cast<double>(base + static_cast<float>(weights[features * groups + g]));
  for (std::size_t f = 0; f < features; ++f)
    for (std::size_t g = 0; g < groups; ++g) {
      const double w = weights[f * groups + g];
      if (w == 0.0) continue;
      TreeSpec tree;
      tree.left_children = {-1};
      tree.right_children = {-1};
      tree.split_feature = {0};
      tree.threshold = {0.0};
      tree.leaf_value = {0.0};
      tree.default_left = {0};
      tree.is_categorical = {0};
      tree.linear_offsets = {0, 1};
      tree.linear_features = {static_cast<int32_t>(f)};
      tree.linear_coeffs = {w};
      tree.linear_const = {0.0};
      tree.output_group = static_cast<int32_t>(g);
      spec.trees.push_back(std::move(tree));
    }
  spec.iteration_indptr = {0, spec.trees.size()};  // gblinear has no rounds to cut
}

// The objective, which sets the task and the link; anything floresta does not score is
// refused by name.
const Objective& read_objective(const JsonCursor& learner, ModelSpec& spec) {
  const Objective& objective = find_objective(learner.at("objective").at("name"));
  spec.objective = objective.name;
  spec.task = objective.task;
  spec.link = objective.link;
  spec.class_from_margin = objective.class_from_margin;
  return objective;
}

// The booster: gbtree, legacy dart {gbtree, weight_drop}, or 3.3+ dart saved as gbtree.
struct Booster {
  JsonCursor node;   // learner.gradient_booster
  JsonCursor model;  // its model: the trees, or gblinear's weights
  bool dart;
  bool linear;
};

Booster find_booster(const JsonCursor& learner) {
  const JsonCursor booster = learner.at("gradient_booster");
  const std::string name = booster.at("name").as_string();
  if (name == "gbtree") return {booster, booster.at("model"), false, false};
  if (name == "dart") return {booster, booster.at("gbtree").at("model"), true, false};
  if (name == "gblinear") return {booster, booster.at("model"), false, true};
  booster.at("name").fail("unsupported booster '" + name + "' (supported: gbtree, dart, gblinear)");
}

int read_num_feature(const JsonCursor& params) {
  const int64_t num_feature = params.at("num_feature").as_int();
  if (num_feature < 0 || num_feature >= int64_t(1) << 28)
    params.at("num_feature").fail("num_feature " + std::to_string(num_feature) + " out of range [0, 2^28)");
  return static_cast<int>(num_feature);
}

// The output groups: classes for a multi-class objective, targets otherwise. The count is a
// claim, backed by what the file holds: a tree per output (gbtree, dart), a weight per
// output and feature (gblinear: `held` of either), or base_score's values (3.1+).
void read_outputs(const JsonCursor& params, const Objective& objective, std::size_t held, bool linear,
                  std::size_t base_values, ModelSpec& spec) {
  const int64_t num_class = params.has("num_class") ? params.at("num_class").as_int() : 0;
  const int64_t num_target = params.has("num_target") ? params.at("num_target").as_int() : 1;
  if (num_class < 0 || num_class > kMaxOutputs) params.at("num_class").fail("num_class " + std::to_string(num_class) + " out of range");
  if (num_target < 1 || num_target > kMaxOutputs) params.at("num_target").fail("num_target " + std::to_string(num_target) + " out of range");
  const std::size_t backing = std::max(held, base_values);
  const char* held_what = linear ? " weights)" : " trees)";
  if (spec.task == Task::kMulticlassClassification) {
    if (num_class < 2) params.at("num_class").fail(std::string(objective.name) + " needs num_class >= 2");
    if (num_class > max_outputs(backing)) params.at("num_class").fail(std::to_string(num_class) + " classes: " + outputs_rule(held) + held_what);
    spec.num_classes = static_cast<int>(num_class);
    spec.num_outputs = spec.num_classes;
  } else {
    if (num_target > max_outputs(backing)) params.at("num_target").fail(std::to_string(num_target) + " targets: " + outputs_rule(held) + held_what);
    spec.num_classes = spec.task == Task::kBinaryClassification ? 2 : 0;
    spec.num_outputs = static_cast<int>(num_target);
  }
}

// Schema: names and types when the file has them, XGBoost's default names otherwise, and the
// classes' labels. The feature count is a claim: checked against the names or types listed,
// else held to max_unnamed_features, before any feature is made.
void read_schema(const JsonCursor& learner, const JsonCursor& params, std::size_t file_bytes, ModelSpec& spec) {
  const int64_t num_feature = spec.num_features;
  std::vector<std::string> names, types;
  if (learner.has("feature_names")) names = learner.at("feature_names").string_array();
  if (learner.has("feature_types")) types = learner.at("feature_types").string_array();
  if (!names.empty() && names.size() != static_cast<std::size_t>(num_feature))
    learner.at("feature_names").fail("has " + std::to_string(names.size()) + " names for num_feature = " +
                                     std::to_string(num_feature));
  if (!types.empty() && types.size() != static_cast<std::size_t>(num_feature))
    learner.at("feature_types").fail("has " + std::to_string(types.size()) + " types for num_feature = " +
                                     std::to_string(num_feature));
  if (names.empty() && types.empty() && num_feature > max_unnamed_features(file_bytes))
    params.at("num_feature").fail(std::to_string(num_feature) + " but the file lists no feature_names or feature_types: " +
                                  unnamed_features_rule(file_bytes));
  spec.schema.features.resize(static_cast<std::size_t>(num_feature));
  for (std::size_t f = 0; f < spec.schema.features.size(); ++f) {
    Feature& feature = spec.schema.features[f];
    feature.name = names.empty() ? "f" + std::to_string(f) : names[f];
    if (!types.empty()) {
      const std::string& t = types[f];
      if (t == "c") feature.type = FeatureType::kCategorical;
      else if (t == "q" || t == "float" || t == "int" || t == "i") feature.type = FeatureType::kNumeric;
      else learner.at("feature_types").at(f).fail("unknown feature type '" + t + "'");
    }
  }
  if (spec.task == Task::kMulticlassClassification || spec.task == Task::kBinaryClassification)
    for (int k = 0; k < spec.num_classes; ++k) spec.schema.output_labels.push_back(std::to_string(k));
}

// Vector leaves: every tree holds one value per output (XGBoost writes the same
// size_leaf_vector in every tree; read_tree checks it against the first). Returns the width.
int64_t read_leaf_width(const JsonCursor& trees, ModelSpec& spec) {
  const int64_t width = trees.size() == 0 ? 1 : leaf_vector_size(trees.at(std::size_t{0}));
  if (width > 1) {
    if (width != spec.num_outputs)
      trees.at(std::size_t{0}).at("tree_param").at("size_leaf_vector").fail(
          "is " + std::to_string(width) + ", the model has " + std::to_string(spec.num_outputs) + " outputs");
    spec.leaf_width = static_cast<int>(width);
  }
  return width;
}

// The trees in file order, with the id each gives itself. (Pointers: a slot costs 8 bytes
// until its tree has been read, so that an array of empty objects claims no more than it
// holds.)
struct TreesInFile {
  std::vector<std::unique_ptr<TreeSpec>> trees;
  std::vector<int64_t> ids;
};

// Reads the trees in parallel. Their category sets share one budget; if it runs out on
// several threads, the trees are read again on one, so the error is the first a sequential
// read meets, whatever the thread count.
TreesInFile read_trees_in_file(const JsonCursor& trees, int64_t width, int threads, std::size_t file_bytes) {
  const std::size_t num_trees = trees.size();
  TreesInFile in_file{std::vector<std::unique_ptr<TreeSpec>>(num_trees), std::vector<int64_t>(num_trees)};
  CategoryBudget budget(file_bytes);
  auto read_all = [&](int n_threads) {
    parallel_for(num_trees, n_threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        const JsonCursor tree = trees.at(i);
        int64_t& id = in_file.ids[i];
        id = tree.has("id") ? tree.at("id").as_int() : static_cast<int64_t>(i);
        if (id < 0 || id >= static_cast<int64_t>(num_trees))
          tree.at("id").fail("tree id " + std::to_string(id) + " is out of range or repeated");
        in_file.trees[i] = std::make_unique<TreeSpec>(read_tree(tree, width, budget));
      }
    }, kMinTreesPerThread);
  };
  try {
    read_all(threads);
  } catch (const Error&) {
    if (!budget.tripped() || parallel_chunk(num_trees, threads, kMinTreesPerThread) >= num_trees) throw;
    for (auto& tree : in_file.trees) tree.reset();
    budget.reset();
    read_all(1);
  }
  return in_file;
}

// Places the trees read in file order by id, with their output group (tree_info) and dart
// weight.
void place_trees(const JsonCursor& trees, TreesInFile& in_file, const JsonCursor& tree_info, const std::vector<int64_t>& groups,
                 const std::vector<double>& weight_drop, ModelSpec& spec) {
  const std::size_t num_trees = in_file.trees.size();
  spec.trees.resize(num_trees);
  std::vector<bool> placed(num_trees, false);
  for (std::size_t i = 0; i < num_trees; ++i) {
    const int64_t id = in_file.ids[i];
    if (placed[static_cast<std::size_t>(id)])
      trees.at(i).at("id").fail("tree id " + std::to_string(id) + " is out of range or repeated");
    placed[static_cast<std::size_t>(id)] = true;
    TreeSpec& t = spec.trees[static_cast<std::size_t>(id)];
    t = std::move(*in_file.trees[i]);
    in_file.trees[i].reset();
    const int64_t group = groups[static_cast<std::size_t>(id)];
    if (group < 0 || group >= spec.num_outputs)
      tree_info.at(static_cast<std::size_t>(id)).fail("output group " + std::to_string(group) + " out of range for " +
                                                      std::to_string(spec.num_outputs) + " outputs");
    t.output_group = static_cast<int32_t>(group);
    if (!weight_drop.empty()) t.weight = weight_drop[static_cast<std::size_t>(id)];
  }
}

// The trees of a gbtree or dart booster: their count checked against what the model
// declares, their leaf width, then the trees themselves (read on `threads`).
void read_trees(const Booster& booster, int threads, std::size_t file_bytes, ModelSpec& spec) {
  const JsonCursor& model = booster.model;
  std::vector<double> weight_drop;
  if (booster.dart) weight_drop = booster.node.at("weight_drop").double_array();
  if (model.has("weight_drop")) weight_drop = model.at("weight_drop").double_array();

  const JsonCursor trees = model.at("trees");
  const std::size_t num_trees = trees.size();
  const int64_t declared = model.at("gbtree_model_param").at("num_trees").as_int();
  if (declared != static_cast<int64_t>(num_trees))
    model.at("gbtree_model_param").at("num_trees").fail("says " + std::to_string(declared) + " trees, the file has " +
                                                        std::to_string(num_trees));
  const JsonCursor tree_info = model.at("tree_info");
  const auto groups = tree_info.int_array();
  if (groups.size() != num_trees) tree_info.fail("length differs from the number of trees");
  if (!weight_drop.empty() && weight_drop.size() != num_trees)
    model.fail("weight_drop has " + std::to_string(weight_drop.size()) + " entries for " + std::to_string(num_trees) + " trees");

  const int64_t width = read_leaf_width(trees, spec);
  TreesInFile in_file = read_trees_in_file(trees, width, threads, file_bytes);
  place_trees(trees, in_file, tree_info, groups, weight_drop, spec);
}

// The boosting rounds: iteration_indptr (2.0+), or before 2.0 a fixed number of trees per
// round.
std::vector<uint64_t> read_iterations(const JsonCursor& model, const ModelSpec& spec) {
  std::vector<uint64_t> indptr;
  if (model.has("iteration_indptr")) {
    for (int64_t v : model.at("iteration_indptr").int_array()) {
      if (v < 0) model.at("iteration_indptr").fail("negative entry");
      indptr.push_back(static_cast<uint64_t>(v));
    }
    return indptr;
  }
  const std::size_t num_trees = spec.trees.size();
  uint64_t per_round = static_cast<uint64_t>(spec.num_outputs / spec.leaf_width);
  const JsonCursor gbtree_param = model.at("gbtree_model_param");
  if (gbtree_param.has("num_parallel_tree")) {
    // XGBoost keeps it in an int32; a larger claim would overflow the round length.
    const int64_t parallel = gbtree_param.at("num_parallel_tree").as_int();
    if (parallel > std::numeric_limits<int32_t>::max())
      gbtree_param.at("num_parallel_tree").fail(std::to_string(parallel) + " out of range (at most 2^31 - 1)");
    per_round *= static_cast<uint64_t>(std::max<int64_t>(1, parallel));
  }
  for (uint64_t b = 0; b <= num_trees; b += per_round) indptr.push_back(b);
  if (indptr.back() != num_trees) indptr.push_back(num_trees);
  return indptr;
}

}  // namespace

std::optional<Json> parse_xgboost_nan_tokens(std::string_view bytes, JsonEncoding encoding, const std::string& source) {
  if (encoding != JsonEncoding::kText || !has_nonfinite_token(bytes)) return std::nullopt;
  std::optional<Json> document;
  try {
    document = parse_json_with_nonfinite_tokens(bytes, source);
  } catch (const Error&) {
    return std::nullopt;
  }
  if (!document->is_object() || !document->contains("learner")) return std::nullopt;
  return document;
}

ModelSpec load_xgboost(const LoaderInput& input) {
  ModelSpec spec;
  spec.source = input.source;
  spec.format = input.encoding == JsonEncoding::kText ? "xgboost-json" : "xgboost-ubjson";
  spec.rule = DecisionRule::kXGBoost;

  const JsonCursor learner = JsonCursor(*input.document, input.source, "").at("learner");
  const JsonCursor params = learner.at("learner_model_param");
  const Objective& objective = read_objective(learner, spec);
  const Booster booster = find_booster(learner);
  const std::size_t held = booster.linear ? booster.model.at("weights").size() : booster.model.at("trees").size();
  const std::vector<std::string> base_items = base_score_items(params.at("base_score"));
  spec.num_features = read_num_feature(params);
  read_outputs(params, objective, held, booster.linear, base_items.size(), spec);
  spec.base_margin = read_base_margin(params.at("base_score"), base_items, objective, spec.num_outputs);
  read_schema(learner, params, input.file_bytes, spec);

  if (booster.linear) {
    read_linear_booster(booster.model, spec);
    if (booster.node.has("cats")) read_categories(booster.node.at("cats"), spec.schema);
    return spec;
  }
  read_trees(booster, input.threads, input.file_bytes, spec);
  spec.iteration_indptr = read_iterations(booster.model, spec);
  if (learner.has("attributes") && learner.at("attributes").has("best_iteration"))
    spec.best_iteration = learner.at("attributes").at("best_iteration").as_int();
  if (booster.model.has("cats")) read_categories(booster.model.at("cats"), spec.schema);
  return spec;
}

}  // namespace floresta::detail
