// Loader for LightGBM's dump_model() JSON. Facts used here are in docs/lightgbm.md and
// checked by tests/python/test_lightgbm_parity.py.
#include <charconv>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "floresta/error.hpp"
#include "lightgbm_common.hpp"
#include "loaders.hpp"

namespace floresta::detail {
namespace {

using namespace lightgbm;

// The document's declared counts.
struct Counts {
  std::size_t num_trees;  // tree_info's length
  int64_t num_class;
  int64_t per_iteration;
  int64_t max_feature;
};

Counts read_counts(const JsonCursor& root) {
  const Counts counts{root.at("tree_info").size(), root.at("num_class").as_int(), root.at("num_tree_per_iteration").as_int(),
                      root.at("max_feature_idx").as_int()};
  if (counts.num_class < 1 || counts.num_class > kMaxOutputs)
    root.at("num_class").fail("num_class " + std::to_string(counts.num_class) + " out of range [1, " + std::to_string(kMaxOutputs) + "]");
  if (counts.per_iteration < 1 || counts.per_iteration > max_outputs(counts.num_trees))
    root.at("num_tree_per_iteration").fail(std::to_string(counts.per_iteration) + " out of range: " + outputs_rule(counts.num_trees) +
                                           " trees in tree_info)");
  if (counts.max_feature < -1 || counts.max_feature >= int64_t(1) << 28)
    root.at("max_feature_idx").fail(std::to_string(counts.max_feature) + " out of range [-1, 2^28)");
  return counts;
}

ObjectiveInfo read_objective(const JsonCursor& root, const Counts& counts, ModelSpec& spec) {
  spec.objective = root.has("objective") && root.at("objective").value().is_string() ? root.at("objective").as_string() : "custom";
  const ObjectiveInfo objective = parse_objective(spec.objective, static_cast<int>(counts.num_class), spec.source);
  if (objective.task == Task::kMulticlassClassification && counts.per_iteration != counts.num_class)
    root.at("num_tree_per_iteration").fail("a multi-class model needs one tree per class and iteration");
  return objective;
}

// The features: names and, from feature_infos, which are categorical. The feature count is a
// claim: checked against the names listed, else held to max_unnamed_features.
void read_schema(const JsonCursor& root, const Counts& counts, std::size_t file_bytes, ModelSpec& spec) {
  std::vector<std::string> names;
  if (root.has("feature_names")) names = root.at("feature_names").string_array();
  if (!names.empty() && names.size() != static_cast<std::size_t>(spec.num_features))
    root.at("feature_names").fail("has " + std::to_string(names.size()) + " names for " + std::to_string(spec.num_features) +
                                  " features (max_feature_idx " + std::to_string(counts.max_feature) + ")");
  if (names.empty() && spec.num_features > max_unnamed_features(file_bytes))
    root.at("max_feature_idx").fail(std::to_string(counts.max_feature) + " but the file has no feature_names: " +
                                    unnamed_features_rule(file_bytes));
  spec.schema.features.resize(static_cast<std::size_t>(spec.num_features));
  for (std::size_t f = 0; f < spec.schema.features.size(); ++f) {
    Feature& feature = spec.schema.features[f];
    feature.name = names.empty() ? "Column_" + std::to_string(f) : names[f];
    // feature_infos: {name: {min_value, max_value, values}}; categorical features list their codes.
    if (root.has("feature_infos") && root.at("feature_infos").has(feature.name.c_str())) {
      const JsonCursor info = root.at("feature_infos").at(feature.name.c_str());
      if (info.has("values") && info.at("values").size() > 0) feature.type = FeatureType::kCategorical;
    }
  }
}

// A tree's nodes in visit order (leaves and splits share one numbering), found by an
// iterative walk of tree_structure. Each node's JSON path is rebuilt from its parents when a
// cursor needs it: kept for every node, paths would take memory growing with the file times
// the tree's depth.
class TreeNodes {
 public:
  TreeNodes(const JsonCursor& structure, const std::string& source) : structure_(structure), source_(source) {
    nodes_.push_back(&structure.value());
    parent_.emplace_back(-1, false);
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const JsonCursor node = at(i);
      if (nodes_.size() > (std::size_t(1) << 30)) node.fail("tree too large");
      if (node.has("leaf_value") || !node.has("split_feature")) {
        children_.emplace_back(-1, -1);
        continue;
      }
      const auto l = static_cast<int32_t>(nodes_.size());
      nodes_.push_back(&node.at("left_child").value());
      parent_.emplace_back(static_cast<int32_t>(i), false);
      nodes_.push_back(&node.at("right_child").value());
      parent_.emplace_back(static_cast<int32_t>(i), true);
      children_.emplace_back(l, l + 1);
    }
  }

  std::size_t size() const { return nodes_.size(); }
  JsonCursor at(std::size_t i) const { return JsonCursor(*nodes_[i], source_, path_of(i)); }
  // (left, right) node ids; (-1, -1) for a leaf.
  const std::pair<int32_t, int32_t>& children(std::size_t i) const { return children_[i]; }

 private:
  std::string path_of(std::size_t i) const {
    std::vector<const char*> steps;  // from the node up to the root
    for (auto j = static_cast<int32_t>(i); parent_[static_cast<std::size_t>(j)].first >= 0; j = parent_[static_cast<std::size_t>(j)].first)
      steps.push_back(parent_[static_cast<std::size_t>(j)].second ? "/right_child" : "/left_child");
    std::string path = structure_.path();
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) path += *it;
    return path;
  }

  JsonCursor structure_;
  const std::string& source_;
  std::vector<const Json*> nodes_;
  std::vector<std::pair<int32_t, bool>> parent_;  // (parent, is the right child)
  std::vector<std::pair<int32_t, int32_t>> children_;
};

// Leaf `i`: its value and, for a linear leaf, its constant and terms.
void read_leaf(const JsonCursor& node, std::size_t i, std::size_t num_nodes, TreeSpec& tree) {
  tree.leaf_value[i] = node.at("leaf_value").as_double();
  if (!node.has("leaf_const")) return;
  if (tree.linear_offsets.empty()) {
    tree.linear_offsets.assign(num_nodes + 1, 0);
    tree.linear_const.assign(num_nodes, 0.0);
  }
  tree.linear_const[i] = node.at("leaf_const").as_double();
  const auto features = node.at("leaf_features").int_array();
  const auto coeffs = node.at("leaf_coeff").double_array();
  if (features.size() != coeffs.size()) node.fail("leaf_features and leaf_coeff differ in length");
  for (std::size_t k = 0; k < features.size(); ++k) {
    if (features[k] < 0 || features[k] > std::numeric_limits<int32_t>::max()) node.at("leaf_features").fail("feature out of range");
    tree.linear_features.push_back(static_cast<int32_t>(features[k]));
    tree.linear_coeffs.push_back(coeffs[k]);
  }
}

// decision_type, default_left and missing_type as the text format's decision_type bits.
int decision_type(const JsonCursor& node) {
  const std::string decision = node.at("decision_type").as_string();
  const std::string missing = node.has("missing_type") ? node.at("missing_type").as_string() : "None";
  int dt = 0;
  if (decision == "==") dt |= 1;
  else if (decision != "<=") node.at("decision_type").fail("unknown decision type '" + decision + "' (expected <= or ==)");
  if (node.has("default_left")) {
    const Json& flag = node.at("default_left").value();
    if (!flag.is_boolean()) node.at("default_left").fail("expected true or false");
    if (flag.get<bool>()) dt |= 2;
  }
  if (missing == "Zero") dt |= 4;
  else if (missing == "NaN") dt |= 8;
  else if (missing != "None") node.at("missing_type").fail("unknown missing type '" + missing + "'");
  return dt;
}

// A categorical split's threshold, "1||4||7" (or one integer), as a bitset charged to the
// file's budget.
std::vector<uint32_t> category_set(const JsonCursor& field, CategoryBudget& budget) {
  const std::string text = field.value().is_string() ? field.as_string() : std::to_string(field.as_int());
  std::vector<int64_t> codes;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t stop = text.find("||", start);
    if (stop == std::string::npos) stop = text.size();
    int64_t code = 0;
    const std::string token = text.substr(start, stop - start);
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), code);
    if (ec != std::errc() || end != token.data() + token.size()) field.fail("category '" + token + "' is not an integer");
    if (code >= kMaxCategory) field.fail("category " + token + " out of range [0, 2^24)");
    if (code >= 0) codes.push_back(code);  // LightGBM never lists negatives; they go right anyway
    start = stop + 2;
  }
  std::vector<uint32_t> set;
  append_category_set(set, codes.data(), codes.size());  // codes checked above
  if (!budget.charge(set.size() + 1)) field.fail(budget.rule());
  return set;
}

// Split `i`: its children, decision and threshold or category set.
void read_split(const JsonCursor& node, std::size_t i, const std::pair<int32_t, int32_t>& children, TreeSpec& tree,
                CategoryBudget& budget) {
  tree.left_children[i] = children.first;
  tree.right_children[i] = children.second;
  const int dt = decision_type(node);
  std::vector<uint32_t> set;
  double threshold = 0;
  uint32_t bits = 0;
  if (dt & 1) {
    set = category_set(node.at("threshold"), budget);
    bits = static_cast<uint32_t>(32 * set.size());
  } else {
    threshold = node.at("threshold").as_double();
  }
  const int64_t feature = node.at("split_feature").as_int();
  if (feature < 0 || feature > std::numeric_limits<int32_t>::max()) node.at("split_feature").fail("feature index out of range");
  set_split(tree, i, feature, threshold, dt, set, bits);
}

TreeSpec read_tree(const JsonCursor& structure, const std::string& source, CategoryBudget& budget) {
  const TreeNodes nodes(structure, source);
  TreeSpec tree;
  size_tree(tree, nodes.size());
  // Training rows reaching each node (explanations' cover), when every node lists them.
  bool counted = nodes.size() > 1;
  tree.cover.assign(nodes.size(), 0.0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const JsonCursor node = nodes.at(i);
    const char* count_key = nodes.children(i).first < 0 ? "leaf_count" : "internal_count";
    if (counted && node.has(count_key)) tree.cover[i] = node.at(count_key).as_double();
    else counted = false;
    if (nodes.children(i).first < 0) {
      read_leaf(node, i, nodes.size(), tree);
      tree.category_offsets[i + 1] = static_cast<uint32_t>(tree.category_words.size());
    } else {
      read_split(node, i, nodes.children(i), tree, budget);  // sets category_offsets[i + 1]
    }
    if (!tree.linear_offsets.empty()) tree.linear_offsets[i + 1] = static_cast<uint32_t>(tree.linear_features.size());
  }
  if (!counted) tree.cover.clear();
  return tree;
}

}  // namespace

ModelSpec load_lightgbm_json(const LoaderInput& input) {
  ModelSpec spec;
  spec.source = input.source;
  spec.format = "lightgbm-json";
  const JsonCursor root(*input.document, input.source, "");
  const Counts counts = read_counts(root);
  spec.num_features = static_cast<int>(counts.max_feature + 1);
  const ObjectiveInfo objective = read_objective(root, counts, spec);
  read_schema(root, counts, input.file_bytes, spec);

  const JsonCursor tree_info = root.at("tree_info");
  CategoryBudget budget(input.file_bytes);
  for (std::size_t t = 0; t < counts.num_trees; ++t)
    spec.trees.push_back(read_tree(tree_info.at(t).at("tree_structure"), input.source, budget));
  if (root.has("pandas_categorical")) attach_pandas_categorical(root.at("pandas_categorical").value(), spec.schema, input.source);
  const bool average_output = root.has("average_output") && root.at("average_output").value().is_boolean() &&
                              root.at("average_output").value().get<bool>();
  finish_spec(spec, objective, static_cast<int>(counts.per_iteration), average_output);
  return spec;
}

}  // namespace floresta::detail
