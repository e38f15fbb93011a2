// Path-dependent TreeSHAP on the compiled forest, a leaf's path at a time (treeshap.hpp has
// the formula). Checked against XGBoost, LightGBM, shap and a brute-force Shapley oracle
// (tests/python/test_explain.py) and hand-worked values (tests/cpp/test_explain.cpp).
#include "explain/treeshap.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace floresta::detail {
namespace {

// Paths with up to this many distinct features take an unrolled add_leaf.
constexpr std::size_t kUnrolledElements = 16;

// The n Gauss-Legendre points and weights on [0, 1], appended: Newton's method on the
// Legendre polynomial P_n from the classic first guesses.
void gauss_legendre(std::size_t n, std::vector<double>& nodes, std::vector<double>& weights) {
  constexpr double kPi = 3.14159265358979323846;
  // P_n(x) and its derivative by the three-term recurrence.
  const auto legendre = [n](double x, double& derivative) {
    double previous = 1, value = x;
    for (std::size_t m = 2; m <= n; ++m) {
      const double next = ((2.0 * static_cast<double>(m) - 1) * x * value - (static_cast<double>(m) - 1) * previous) /
                          static_cast<double>(m);
      previous = value;
      value = next;
    }
    derivative = n == 1 ? 1.0 : static_cast<double>(n) * (x * value - previous) / (x * x - 1);
    return value;
  };
  for (std::size_t k = 1; k <= n; ++k) {
    double x = std::cos(kPi * (static_cast<double>(k) - 0.25) / (static_cast<double>(n) + 0.5)), derivative = 1;
    for (int iteration = 0; iteration < 100; ++iteration) {
      const double step = legendre(x, derivative) / derivative;
      x -= step;
      if (std::fabs(step) <= 1e-17) break;
    }
    legendre(x, derivative);
    nodes.push_back((x + 1) / 2);
    weights.push_back(1.0 / ((1 - x * x) * derivative * derivative));  // half the weight on [-1, 1]
  }
}

// Lays out every leaf's path: its distinct features in the order the path meets them, each
// with the product of its splits' cover shares and the splits themselves.
template <class Rule>
struct PathBuilder {
  struct Step {
    uint32_t feature, node, left;
    double share;
  };
  const Forest<Rule>& forest;
  PathTables& tables;
  std::size_t root = 0;
  std::vector<Step> path;

  void visit(std::size_t at) {
    const auto& node = forest.nodes[at];
    if (node.is_leaf()) {
      add_leaf(at);
      return;
    }
    const std::size_t left = at + 1, right = at + node.right;
    const auto local = static_cast<uint32_t>(at - root);
    path.push_back({node.feature(), local, 1, forest.cover[left] / forest.cover[at]});
    visit(left);
    path.back() = {node.feature(), local, 0, forest.cover[right] / forest.cover[at]};
    visit(right);
    path.pop_back();
  }

  void add_leaf(std::size_t at) {
    const auto first_condition = static_cast<uint32_t>(tables.conditions.size());
    const auto first_element = static_cast<uint32_t>(tables.elements.size());
    uint32_t count = 0;
    for (std::size_t i = 0; i < path.size(); ++i) {
      bool seen = false;
      for (std::size_t k = 0; k < i && !seen; ++k) seen = path[k].feature == path[i].feature;
      if (seen) continue;
      PathTables::Element element{path[i].feature, 1.0};
      for (std::size_t k = i; k < path.size(); ++k)
        if (path[k].feature == path[i].feature) {
          element.zero *= path[k].share;
          tables.conditions.push_back({path[k].node, static_cast<uint16_t>(count), static_cast<uint16_t>(path[k].left)});
        }
      tables.elements.push_back(element);
      ++count;
    }
    tables.max_elements = std::max(tables.max_elements, count);
    tables.leaves.push_back({static_cast<uint32_t>(at), first_element, first_condition, static_cast<uint16_t>(count),
                             static_cast<uint16_t>(tables.conditions.size() - first_condition)});
  }
};

template <class Rule>
void build_path_tables(const Forest<Rule>& forest, PathTables& tables) {
  PathBuilder<Rule> builder{forest, tables, 0, {}};
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    tables.tree_leaves.push_back(static_cast<uint32_t>(tables.leaves.size()));
    const std::size_t end = t + 1 < forest.num_trees() ? forest.tree_begin[t + 1] : forest.nodes.size();
    builder.root = forest.tree_begin[t];
    tables.max_tree_nodes = std::max(tables.max_tree_nodes, end - builder.root);
    builder.visit(builder.root);
    std::stable_sort(tables.leaves.begin() + tables.tree_leaves.back(), tables.leaves.end(),
                     [](const PathTables::Leaf& a, const PathTables::Leaf& b) { return a.elements < b.elements; });
  }
  tables.tree_leaves.push_back(static_cast<uint32_t>(tables.leaves.size()));
  for (std::size_t q = 1; q <= (kUnrolledElements + 1) / 2; ++q)
    gauss_legendre(q, tables.quadrature_nodes, tables.quadrature_weights);
  gauss_legendre(std::max<std::size_t>(1, (tables.max_elements + 1) / 2), tables.wide_nodes, tables.wide_weights);
}


// One leaf's contributions for d distinct features, D = d known when compiled (the loops
// unrolled, the products on the stack) or 0 (any d, the products in `scratch`):
// out[g * stride + feature] += weight * values(g) for the leaf's `groups` values.
// one(j) is 1 when the row goes the path's way at every split on feature j, else 0.
template <std::size_t D, class Ones, class Values>
inline void add_leaf(const PathTables& tables, const PathTables::Element* element, std::size_t d, Ones one,
                     Values values, std::size_t groups, std::size_t stride, double* scratch, double* out) {
  if constexpr (D != 0) d = D;
  // The integrand prod_{j != i} (zero_j + (one_j - zero_j) t) at the Gauss-Legendre points,
  // from prefix products (j < i) and suffix products (j > i), so no factor is divided out.
  constexpr std::size_t kQ = (D + 1) / 2;
  const std::size_t q = D ? kQ : tables.wide_nodes.size();
  const double* t = D ? tables.quadrature_nodes.data() + kQ * (kQ - 1) / 2 : tables.wide_nodes.data();
  const double* w = D ? tables.quadrature_weights.data() + kQ * (kQ - 1) / 2 : tables.wide_weights.data();
  constexpr std::size_t kStack = D ? (D + 1) * kQ : 1;
  double prefix_store[kStack], factor_store[kStack], suffix_store[kQ ? kQ : 1];
  double* prefix = D ? prefix_store : scratch;                    // (d + 1) x q
  double* factor = D ? factor_store : scratch + (d + 1) * q;      // d x q: zero_j + (one_j - zero_j) t_k
  double* suffix = D ? suffix_store : scratch + 2 * (d + 1) * q;  // q
  const auto n = [&](std::size_t runtime) { return D ? kQ : runtime; };
  double slope[D ? D : 1];
  for (std::size_t k = 0; k < n(q); ++k) prefix[k] = 1.0;
  for (std::size_t j = 0; j < (D ? D : d); ++j) {
    const double z = element[j].zero, s = one(j) - z;
    if constexpr (D != 0) slope[j] = s;
    for (std::size_t k = 0; k < n(q); ++k) {
      factor[j * n(q) + k] = z + s * t[k];
      prefix[(j + 1) * n(q) + k] = prefix[j * n(q) + k] * factor[j * n(q) + k];
    }
  }
  for (std::size_t k = 0; k < n(q); ++k) suffix[k] = w[k];
  for (std::size_t j = (D ? D : d); j-- > 0;) {
    double integral = 0;
    for (std::size_t k = 0; k < n(q); ++k) integral += prefix[j * n(q) + k] * suffix[k];
    for (std::size_t k = 0; k < n(q); ++k) suffix[k] *= factor[j * n(q) + k];
    const double weight = integral * (D ? slope[j] : one(j) - element[j].zero);
    if (groups == 1) out[element[j].feature] += weight * values(0);
    else
      for (std::size_t g = 0; g < groups; ++g) out[g * stride + element[j].feature] += weight * values(g);
  }
}

// Scratch space of one thread: the row's inputs as the rule reads them, the tree's decisions,
// and one leaf's ones and products.
template <class Value>
struct Scratch {
  std::vector<Value> x;
  std::vector<uint8_t> left;
  std::vector<double> one, products;
};

// A run of leaves with D distinct features each (0: any number), in one tree: each leaf's
// ones from the row's decisions (`left`, by node), then add_leaf.
template <std::size_t D, class Rule, class S>
void add_leaves(const Forest<Rule>& forest, const PathTables& tables, const PathTables::Leaf* leaf,
                const PathTables::Leaf* end, std::size_t first, std::size_t groups, std::size_t stride,
                S& scratch, double* out) {
  const uint8_t* left = scratch.left.data();
  for (; leaf != end; ++leaf) {
    const std::size_t d = leaf->elements;
    const PathTables::Element* element = tables.elements.data() + leaf->first_element;
    const PathTables::Condition* condition = tables.conditions.data() + leaf->first_condition;
    const auto& node = forest.nodes[leaf->node];
    const auto* vector = forest.leaf_width == 1 ? nullptr : forest.leaf_vectors.data() + node.right + first;
    const double scalar = static_cast<double>(node.value);
    const auto values = [vector, scalar](std::size_t g) { return vector ? static_cast<double>(vector[g]) : scalar; };
    const std::size_t width = forest.leaf_width == 1 ? 1 : groups;
    if (d <= 64) {
      // Bit j of `misses`: the row leaves the path at a split on the leaf's j-th feature.
      uint64_t misses = 0;
      for (std::size_t c = 0; c < leaf->conditions; ++c)
        misses |= static_cast<uint64_t>(left[condition[c].node] ^ condition[c].left) << condition[c].element;
      const uint64_t follows = ~misses;
      add_leaf<D>(tables, element, d, [follows](std::size_t j) { return static_cast<double>((follows >> j) & 1u); },
                  values, width, stride, scratch.products.data(), out);
    } else {  // deeper than any real path: the ones in scratch
      double* ones = scratch.one.data();
      std::fill(ones, ones + d, 1.0);
      for (std::size_t c = 0; c < leaf->conditions; ++c)
        if (left[condition[c].node] != condition[c].left) ones[condition[c].element] = 0.0;
      add_leaf<0>(tables, element, d, [ones](std::size_t j) { return ones[j]; }, values, width, stride,
                  scratch.products.data(), out);
    }
  }
}

template <class Rule, class S, std::size_t... D>
void add_leaf_runs(std::index_sequence<D...>, const Forest<Rule>& forest, const PathTables& tables,
                   const PathTables::Leaf* leaf, const PathTables::Leaf* end, std::size_t first, std::size_t groups,
                   std::size_t stride, S& scratch, double* out) {
  using Run = void (*)(const Forest<Rule>&, const PathTables&, const PathTables::Leaf*, const PathTables::Leaf*,
                       std::size_t, std::size_t, std::size_t, S&, double*);
  static constexpr Run kRuns[] = {&add_leaves<D, Rule, S>...};
  while (leaf != end) {
    const PathTables::Leaf* run = leaf;
    while (run != end && run->elements == leaf->elements) ++run;
    if (leaf->elements > 0)  // a tree that is one leaf adds only its expected value
      kRuns[leaf->elements <= kUnrolledElements ? leaf->elements : 0](forest, tables, leaf, run, first, groups, stride,
                                                                     scratch, out);
    leaf = run;
  }
}

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
  if (forest.max_depth > 65535) {  // PathTables::Condition numbers a path's features in 16 bits
    tables.refusal = source + ": trees deeper than 65535 levels cannot be explained";
    return tables;
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
  return tables;
}

template <class Rule, class In>
void tree_shap_row(const Forest<Rule>& forest, const ShapTables& shap, const In* row, std::ptrdiff_t col_stride,
                   double* out, std::size_t group) {
  using Value = typename Rule::Value;
  ShapTables::Lazy& lazy = *shap.lazy;
  std::call_once(lazy.once, [&] { build_path_tables(forest, lazy.paths); });
  const PathTables& tables = lazy.paths;
  const std::size_t features = forest.num_features, stride = features + 1;
  thread_local Scratch<Value> per_thread;
  Scratch<Value>& scratch = per_thread;  // one TLS lookup per row (shared objects pay one per access)
  scratch.x.assign(std::max<std::size_t>(features, 1), Value(0));  // leaves read x[0]: see below
  for (std::size_t f = 0; f < features; ++f) scratch.x[f] = Rule::input(row[static_cast<std::ptrdiff_t>(f) * col_stride]);
  scratch.left.resize(tables.max_tree_nodes);
  const std::size_t d = tables.max_elements, q = std::max<std::size_t>(tables.wide_nodes.size(), 8);
  scratch.one.resize(d + 1);
  scratch.products.resize((2 * d + 3) * q);  // add_leaf<0>'s prefix products, factors and suffix
  const bool every = group == kEveryGroup;
  const std::size_t first = every ? 0 : group, groups = every ? forest.num_groups : 1;
  std::fill(out, out + groups * stride, 0.0);
  const uint32_t* words = forest.category_words.data();
  const Value* x = scratch.x.data();
  uint8_t* left = scratch.left.data();
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    if (forest.leaf_width == 1 && !every && forest.tree_group[t] != group) continue;
    // Every split's decision for this row, then each leaf's path from them.
    const std::size_t root = forest.tree_begin[t];
    const std::size_t end = t + 1 < forest.num_trees() ? forest.tree_begin[t + 1] : forest.nodes.size();
    // Leaves too, without a branch (their feature bits are 0 and no flag is set: a numeric
    // test against the leaf's value, never read): pre-order mixes leaves and splits.
    for (std::size_t i = root; i < end; ++i) {
      const auto& node = forest.nodes[i];
      left[i - root] = goes_left<Rule>(node, words, x[node.feature()]) ? 1 : 0;
    }
    double* into = out + (forest.leaf_width == 1 && every ? forest.tree_group[t] * stride : 0);
    add_leaf_runs(std::make_index_sequence<kUnrolledElements + 1>{}, forest, tables,
                  tables.leaves.data() + tables.tree_leaves[t], tables.leaves.data() + tables.tree_leaves[t + 1], first,
                  groups, stride, scratch, into);
  }
  for (std::size_t g = 0; g < groups; ++g) out[g * stride + features] = shap.expected[first + g];
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
