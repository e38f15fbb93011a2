// Validation: checks a ModelSpec once, for every format, before anything is compiled from
// it (indices, parents, cycles, lengths, depth, categories, outputs, preprocessing).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "compile/stages.hpp"
#include "engine/forest.hpp"
#include "fail.hpp"
#include "floresta/error.hpp"
#include "threads.hpp"

namespace floresta::detail {
namespace {

[[noreturn]] void tree_fail(const ModelSpec& spec, std::size_t tree, const std::string& rule) {
  fail(spec.source, ": tree ", tree, ": ", rule);
}

void validate_tree(const ModelSpec& spec, std::size_t t, int max_depth) {
  const TreeSpec& tree = spec.trees[t];
  const std::size_t n = tree.num_nodes();
  if (n == 0) tree_fail(spec, t, "has no nodes");
  if (n > std::size_t(1) << 31) tree_fail(spec, t, "has too many nodes");
  auto check_len = [&](std::size_t len, const char* what) {
    if (len != n) tree_fail(spec, t, std::string(what) + " has " + std::to_string(len) + " entries, expected " + std::to_string(n));
  };
  check_len(tree.right_children.size(), "right_children");
  check_len(tree.split_feature.size(), "split_feature");
  check_len(tree.threshold.size(), "threshold");
  check_len(tree.leaf_value.size(), "leaf_value");
  check_len(tree.default_left.size(), "default_left");
  check_len(tree.is_categorical.size(), "is_categorical");
  if (!tree.zero_is_missing.empty()) check_len(tree.zero_is_missing.size(), "zero_is_missing");
  if (!tree.category_bits.empty()) check_len(tree.category_bits.size(), "category_bits");
  if (!tree.cover.empty()) {
    check_len(tree.cover.size(), "cover");
    for (std::size_t i = 0; i < n; ++i)
      if (!(std::isfinite(tree.cover[i]) && tree.cover[i] >= 0))
        tree_fail(spec, t, "cover of node " + std::to_string(i) + " is " + std::to_string(tree.cover[i]) +
                               " (must be a finite number, not negative)");
  }
  if (!tree.linear_offsets.empty()) {
    if (tree.linear_offsets.size() != n + 1) tree_fail(spec, t, "linear_offsets must have num_nodes + 1 entries");
    check_len(tree.linear_const.size(), "linear_const");
    if (tree.linear_features.size() != tree.linear_coeffs.size() || tree.linear_offsets.back() != tree.linear_features.size())
      tree_fail(spec, t, "linear_features, linear_coeffs and linear_offsets disagree in length");
    for (std::size_t i = 0; i < n; ++i)
      if (tree.linear_offsets[i] > tree.linear_offsets[i + 1]) tree_fail(spec, t, "linear_offsets must not decrease");
    for (int32_t f : tree.linear_features)
      if (f < 0 || f >= spec.num_features)
        tree_fail(spec, t, "linear leaf feature " + std::to_string(f) + " out of range for " + std::to_string(spec.num_features) + " features");
    if (spec.leaf_width != 1) tree_fail(spec, t, "linear leaves cannot hold vectors");
  }
  const auto width = static_cast<std::size_t>(spec.leaf_width);
  std::size_t vector_values = 0;
  if (width > 1 && (__builtin_mul_overflow(n, width, &vector_values) || tree.leaf_vector.size() != vector_values))
    tree_fail(spec, t, "leaf_vector has " + std::to_string(tree.leaf_vector.size()) + " values, expected " +
                           std::to_string(n) + " nodes x " + std::to_string(width));
  const bool has_sets = !tree.category_offsets.empty();
  if (has_sets) {
    if (tree.category_offsets.size() != n + 1)
      tree_fail(spec, t, "category_offsets has " + std::to_string(tree.category_offsets.size()) + " entries, expected " + std::to_string(n + 1));
    for (std::size_t i = 0; i < n; ++i)
      if (tree.category_offsets[i] > tree.category_offsets[i + 1] || tree.category_offsets[i + 1] > tree.category_words.size())
        tree_fail(spec, t, "category set of node " + std::to_string(i) + " lies outside category_words");
  }
  if (tree.output_group < 0 || tree.output_group >= spec.num_outputs)
    tree_fail(spec, t, "output group " + std::to_string(tree.output_group) + " out of range for " + std::to_string(spec.num_outputs) + " outputs");

  for (std::size_t i = 0; i < n; ++i) {
    const int32_t l = tree.left_children[i], r = tree.right_children[i];
    const auto node = [i] { return "node " + std::to_string(i); };  // only when failing
    if ((l == -1) != (r == -1)) tree_fail(spec, t, node() + " has exactly one child (left " + std::to_string(l) + ", right " + std::to_string(r) + ")");
    if (l == -1) continue;
    for (int32_t c : {l, r}) {
      if (c < 0 || static_cast<std::size_t>(c) >= n)
        tree_fail(spec, t, node() + ": child index " + std::to_string(c) + " out of range [0, " + std::to_string(n) + ")");
      if (c == 0) tree_fail(spec, t, node() + ": child points back to the root (a cycle)");
      if (static_cast<std::size_t>(c) == i) tree_fail(spec, t, node() + " is its own child (a cycle)");
    }
    if (l == r) tree_fail(spec, t, node() + ": both children are node " + std::to_string(l));
    const int32_t f = tree.split_feature[i];
    if (f < 0 || f >= spec.num_features)
      tree_fail(spec, t, node() + ": feature index " + std::to_string(f) + " out of range for " + std::to_string(spec.num_features) + " features");
    if (tree.is_categorical[i]) {
      if (spec.rule == DecisionRule::kSkLearnTree) tree_fail(spec, t, node() + ": the sklearn_tree rule has no categorical splits");
      if (!has_sets) tree_fail(spec, t, node() + " is a categorical split without a category set");
      if (!tree.category_bits.empty() && tree.category_bits[i] > kMaxCategory)
        tree_fail(spec, t, node() + ": category count " + std::to_string(tree.category_bits[i]) + " out of range (at most 2^24)");
    }
  }

  // Depth-first from the root: every child reached once, no cycle, depth bounded.
  // Unreachable nodes are allowed (XGBoost keeps pruned nodes in its arrays) and ignored.
  enum : uint8_t { kUnseen, kPending, kOnPath, kDone };
  std::vector<uint8_t> state(n, kUnseen);
  struct Frame { int32_t node; int depth; bool expanded; };
  std::vector<Frame> stack{{0, 0, false}};
  while (!stack.empty()) {
    Frame& top = stack.back();
    const auto i = static_cast<std::size_t>(top.node);
    if (top.expanded) {
      state[i] = kDone;
      stack.pop_back();
      continue;
    }
    top.expanded = true;
    state[i] = kOnPath;
    const int depth = top.depth;
    if (depth > max_depth)
      tree_fail(spec, t, "deeper than the limit of " + std::to_string(max_depth) + " levels (LoadOptions::max_depth)");
    if (tree.left_children[i] == -1) continue;
    for (int32_t c : {tree.right_children[i], tree.left_children[i]}) {
      const auto ci = static_cast<std::size_t>(c);
      if (state[ci] == kOnPath) tree_fail(spec, t, "node " + std::to_string(i) + " links back to its ancestor " + std::to_string(c) + " (a cycle)");
      if (state[ci] != kUnseen)
        tree_fail(spec, t, "node " + std::to_string(c) + " has two parents");
      state[ci] = kPending;
      stack.push_back({c, depth + 1, false});
    }
  }
}

}  // namespace

void validate_preprocessing(const ModelSpec& spec) {
  const Preprocessing& pre = spec.preprocessing;
  if (pre.empty()) {
    if (spec.schema.features.size() != static_cast<std::size_t>(spec.num_features))
      fail(spec.source, ": schema lists ", spec.schema.features.size(), " features, the model has ", spec.num_features);
    return;
  }
  if (pre.columns.size() != static_cast<std::size_t>(spec.num_features))
    fail(spec.source, ": preprocessing makes ", pre.columns.size(), " columns, the estimator takes ", spec.num_features);
  for (std::size_t j = 0; j < pre.columns.size(); ++j) {
    if (pre.columns[j].input >= spec.schema.features.size())
      fail(spec.source, ": preprocessing column ", j, " reads input ", pre.columns[j].input, " of ", spec.schema.features.size());
    for (const Step& step : pre.columns[j].steps) {
      const bool lookup = step.kind == StepKind::kLookupCode || step.kind == StepKind::kLookupValue;
      if (lookup && step.table >= pre.tables.size())
        fail(spec.source, ": preprocessing column ", j, " uses lookup table ", step.table, " of ", pre.tables.size());
    }
  }
  for (std::size_t t = 0; t < pre.tables.size(); ++t) {
    const LookupTable& table = pre.tables[t];
    if (!table.keys.empty() && (table.keys.size() != table.values.size() || !std::is_sorted(table.keys.begin(), table.keys.end())))
      fail(spec.source, ": lookup table ", t, " (", table.name, ") needs sorted keys, one per value");
  }
}

void validate(const ModelSpec& spec, const LoadOptions& options) {
  if (spec.num_features < 0) fail(spec.source, ": negative number of features");
  validate_preprocessing(spec);
  if (spec.num_outputs < 1) fail(spec.source, ": a model needs at least one output");
  if (spec.num_outputs > kMaxOutputs) fail(spec.source, ": ", spec.num_outputs, " outputs is more than floresta supports (", kMaxOutputs, ")");
  if (spec.base_margin.size() != static_cast<std::size_t>(spec.num_outputs))
    fail(spec.source, ": ", spec.base_margin.size(), " base margins for ", spec.num_outputs, " outputs");
  if (spec.task == Task::kMulticlassClassification && spec.num_classes != spec.num_outputs)
    fail(spec.source, ": ", spec.num_classes, " classes but ", spec.num_outputs, " output groups");
  if (spec.task == Task::kBinaryClassification && spec.num_outputs != 1)
    fail(spec.source, ": a binary classifier has one output group, this one has ", spec.num_outputs);
  if (spec.trees.size() > std::numeric_limits<uint32_t>::max()) fail(spec.source, ": too many trees");
  if (spec.leaf_width != 1 && spec.leaf_width != spec.num_outputs)
    fail(spec.source, ": leaf width ", spec.leaf_width, " must be 1 or the number of outputs (", spec.num_outputs, ")");
  if (static_cast<int64_t>(spec.num_features) > static_cast<int64_t>(kMaxFeatures))
    fail(spec.source, ": ", spec.num_features, " features is more than floresta supports (", kMaxFeatures, ")");
  if (!(spec.average_divisor >= 0)) fail(spec.source, ": the averaging divisor must be >= 0");
  if (!spec.iteration_indptr.empty()) {
    if (spec.iteration_indptr.front() != 0 || spec.iteration_indptr.back() != spec.trees.size() ||
        !std::is_sorted(spec.iteration_indptr.begin(), spec.iteration_indptr.end()))
      fail(spec.source, ": iteration_indptr must rise from 0 to the number of trees (", spec.trees.size(), ")");
  }
  parallel_for(spec.trees.size(), options.n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) validate_tree(spec, t, options.max_depth);
  }, kMinTreesPerThread);
}

// k-means: num_outputs finite centres of num_features values.
void validate_kmeans(const ModelSpec& spec) {
  if (spec.num_outputs < 1) fail(spec.source, ": a k-means model needs at least one centre");
  if (spec.num_features < 0) fail(spec.source, ": negative number of features");
  const auto k = static_cast<std::size_t>(spec.num_outputs), d = static_cast<std::size_t>(spec.num_features);
  std::size_t values = 0;
  if (__builtin_mul_overflow(k, d, &values) || spec.centers.size() != values)
    fail(spec.source, ": ", spec.centers.size(), " centre values for ", k, " centres of ", d, " features");
  for (double c : spec.centers)
    if (!std::isfinite(c)) fail(spec.source, ": a k-means centre holds a non-finite value");
  validate_preprocessing(spec);
}

}  // namespace floresta::detail
