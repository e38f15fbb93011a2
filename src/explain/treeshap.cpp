// Path-dependent TreeSHAP on the compiled forest (see treeshap.hpp).
//
// For one tree and one row the recursion follows every root-to-leaf path once, keeping the
// "unique path": the distinct features split on above the node, each with the fraction of
// the training cover that reaches the node when the feature is unknown (`zero`, the product
// of the cover ratios of its splits) and whether the row itself goes this way (`one`), and
// the weights of the Shapley permutation sums over those features (`weight`). A feature met
// twice on a path is unwound and extended again, so it counts once. At a leaf each feature's
// contribution is the leaf value times (one - zero) times the path's weight sum with that
// feature left out. This is the algorithm XGBoost's pred_contribs, LightGBM's pred_contrib
// and shap's TreeExplainer run; the arithmetic here is double throughout.
#include "explain/treeshap.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fail.hpp"

namespace floresta::detail {
namespace {

struct PathElement {
  int64_t feature;  // -1 for the root's placeholder
  double zero;      // share of the cover reaching here when the feature is unknown
  double one;       // 1 when the row follows this path at the feature's splits, else 0
  double weight;    // permutation weight of the subsets of this size
};

// Appends a split on `feature` to the path of `depth` elements before it.
inline void extend(PathElement* path, uint32_t depth, double zero, double one, int64_t feature) {
  path[depth] = {feature, zero, one, depth == 0 ? 1.0 : 0.0};
  const double n = depth + 1;
  for (uint32_t i = depth; i-- > 0;) {
    path[i + 1].weight += one * path[i].weight * (i + 1) / n;
    path[i].weight = zero * path[i].weight * (depth - i) / n;
  }
}

// Removes element `index` from a path whose last element is `depth` (undoes its extend).
inline void unwind(PathElement* path, uint32_t depth, uint32_t index) {
  const double one = path[index].one, zero = path[index].zero;
  const double n = depth + 1;
  double next = path[depth].weight;
  for (uint32_t i = depth; i-- > 0;) {
    if (one != 0) {
      const double kept = path[i].weight;
      path[i].weight = next * n / ((i + 1) * one);
      next = kept - path[i].weight * zero * (depth - i) / n;
    } else {
      path[i].weight = path[i].weight * n / (zero * (depth - i));
    }
  }
  for (uint32_t i = index; i < depth; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero = path[i + 1].zero;
    path[i].one = path[i + 1].one;
  }
}

// The total weight of the path with element `index` unwound, without changing the path.
inline double unwound_sum(const PathElement* path, uint32_t depth, uint32_t index) {
  const double one = path[index].one, zero = path[index].zero;
  const double n = depth + 1;
  double next = path[depth].weight, total = 0;
  for (uint32_t i = depth; i-- > 0;) {
    if (one != 0) {
      const double part = next * n / ((i + 1) * one);
      total += part;
      next = path[i].weight - part * zero * ((depth - i) / n);
    } else if (zero != 0) {
      total += (path[i].weight / zero) / ((depth - i) / n);
    }
  }
  return total;
}

// The recursion over one tree for one row, its inputs already read by Rule::input.
template <class Rule>
struct TreeWalk {
  using Value = typename Rule::Value;
  const Forest<Rule>& forest;
  const Value* x;
  double* out;          // the tree's group's contributions (scalar leaves), or the first group's
  std::size_t stride;   // num_features + 1: from one group's contributions to the next
  std::size_t first;    // vector leaves: the groups first .. first + groups - 1 are written
  std::size_t groups;

  void leaf(const Node<Value>& node, const PathElement* path, uint32_t depth) const {
    if (depth == 0) return;
    if (forest.leaf_width == 1) {
      const double value = static_cast<double>(node.value);
      for (uint32_t i = 1; i <= depth; ++i) {
        const PathElement& e = path[i];
        out[e.feature] += unwound_sum(path, depth, i) * (e.one - e.zero) * value;
      }
      return;
    }
    const auto* values = forest.leaf_vectors.data() + node.right + first;
    for (uint32_t i = 1; i <= depth; ++i) {
      const PathElement& e = path[i];
      const double w = unwound_sum(path, depth, i) * (e.one - e.zero);
      for (std::size_t g = 0; g < groups; ++g) out[g * stride + e.feature] += w * static_cast<double>(values[g]);
    }
  }

  void visit(std::size_t at, PathElement* parent_path, uint32_t depth, double zero, double one, int64_t feature) const {
    PathElement* path = parent_path + depth + 1;
    std::copy(parent_path, parent_path + depth + 1, path);
    extend(path, depth, zero, one, feature);
    const Node<Value>& node = forest.nodes[at];
    if (node.is_leaf()) {
      leaf(node, path, depth);
      return;
    }
    const uint32_t split = node.feature();
    const std::size_t left = at + 1, right = at + node.right;
    const bool goes = goes_left<Rule>(node, forest.category_words.data(), x[split]);
    const std::size_t hot = goes ? left : right, cold = goes ? right : left;
    const double cover = forest.cover[at];
    double incoming_zero = 1, incoming_one = 1;
    uint32_t index = 0;
    while (index <= depth && path[index].feature != split) ++index;
    if (index <= depth) {  // split on this feature above: unwind it and redo it here
      incoming_zero = path[index].zero;
      incoming_one = path[index].one;
      unwind(path, depth, index);
      depth -= 1;
    }
    visit(hot, path, depth + 1, forest.cover[hot] / cover * incoming_zero, incoming_one, split);
    visit(cold, path, depth + 1, forest.cover[cold] / cover * incoming_zero, 0, split);
  }
};

// The mean of a subtree's leaves (output `g` of vector leaves) weighted by cover.
template <class Rule>
double subtree_mean(const Forest<Rule>& forest, std::size_t at, std::size_t g) {
  const auto& node = forest.nodes[at];
  if (node.is_leaf())
    return static_cast<double>(forest.leaf_width == 1 ? node.value : forest.leaf_vectors[node.right + g]);
  const std::size_t left = at + 1, right = at + node.right;
  return (subtree_mean(forest, left, g) * forest.cover[left] + subtree_mean(forest, right, g) * forest.cover[right]) /
         forest.cover[at];
}

}  // namespace

template <class Rule>
ShapTables prepare_tree_shap(const Forest<Rule>& forest, const std::string& source) {
  ShapTables tables;
  if (forest.has_linear) {
    tables.refusal = source + ": linear trees cannot be explained by TreeSHAP (LightGBM refuses pred_contrib for them too)";
    return tables;
  }
  if (forest.cover.size() != forest.nodes.size()) {
    tables.refusal = source + ": the model file carries no node covers (training weights per node: XGBoost's "
                              "sum_hessian, LightGBM's internal_count/leaf_count, floresta JSON's cover), which "
                              "TreeSHAP needs; it still predicts";
    return tables;
  }
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    const std::size_t end = t + 1 < forest.num_trees() ? forest.tree_begin[t + 1] : forest.nodes.size();
    for (std::size_t i = forest.tree_begin[t]; i < end; ++i)
      if (!forest.nodes[i].is_leaf() && !(forest.cover[i] > 0)) {
        tables.refusal = source + ": tree " + std::to_string(t) + " has a split whose cover is 0 (no training weight " +
                         "reached it), which TreeSHAP cannot weigh";
        return tables;
      }
  }
  tables.expected.assign(forest.num_groups, 0.0);
  for (std::size_t g = 0; g < forest.num_groups && g < forest.base_margin.size(); ++g)
    tables.expected[g] = static_cast<double>(forest.base_margin[g]);
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    if (forest.leaf_width == 1) {
      tables.expected[forest.tree_group[t]] += subtree_mean(forest, forest.tree_begin[t], 0);
    } else {
      for (std::size_t g = 0; g < forest.leaf_width; ++g) tables.expected[g] += subtree_mean(forest, forest.tree_begin[t], g);
    }
  }
  tables.max_depth = forest.max_depth;
  return tables;
}

template <class Rule, class In>
void tree_shap_row(const Forest<Rule>& forest, const ShapTables& tables, const In* row, std::ptrdiff_t col_stride,
                   double* out, std::size_t group) {
  using Value = typename Rule::Value;
  const std::size_t features = forest.num_features, stride = features + 1;
  // Per thread, reused: the inputs as the rule reads them and the paths of one walk (a path
  // of up to depth + 2 elements at each of depth + 2 levels).
  thread_local std::vector<Value> x;
  thread_local std::vector<PathElement> paths;
  x.resize(features);
  for (std::size_t f = 0; f < features; ++f) x[f] = Rule::input(row[static_cast<std::ptrdiff_t>(f) * col_stride]);
  const std::size_t levels = std::size_t{tables.max_depth} + 2;
  paths.resize(levels * (levels + 1) / 2 + levels);
  const bool every = group == kEveryGroup;
  const std::size_t first = every ? 0 : group, groups = every ? forest.num_groups : 1;
  std::fill(out, out + groups * stride, 0.0);
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    double* group_out = out;
    if (forest.leaf_width == 1) {
      if (!every && forest.tree_group[t] != group) continue;
      if (every) group_out += forest.tree_group[t] * stride;
    }
    const TreeWalk<Rule> walk{forest, x.data(), group_out, stride, first, groups};
    // The root's placeholder element (feature -1) sits before the first real split.
    walk.visit(forest.tree_begin[t], paths.data(), 0, 1.0, 1.0, -1);
  }
  for (std::size_t g = 0; g < groups; ++g) out[g * stride + features] = tables.expected[first + g];
}

#define FLORESTA_TREE_SHAP(Rule)                                                                              \
  template ShapTables prepare_tree_shap(const Forest<Rule>&, const std::string&);                             \
  template void tree_shap_row(const Forest<Rule>&, const ShapTables&, const float*, std::ptrdiff_t, double*,      \
                              std::size_t);                                                                   \
  template void tree_shap_row(const Forest<Rule>&, const ShapTables&, const double*, std::ptrdiff_t, double*,     \
                              std::size_t);
FLORESTA_TREE_SHAP(XGBoostRule)
FLORESTA_TREE_SHAP(LightGBMRule)
FLORESTA_TREE_SHAP(SkLearnHistRule)
FLORESTA_TREE_SHAP(SkLearnTreeRule)
#undef FLORESTA_TREE_SHAP

}  // namespace floresta::detail
