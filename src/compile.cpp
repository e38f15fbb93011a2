// Validation of a ModelSpec (shared by every format) and its compilation into a flat Forest.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/forest.hpp"
#include "engine/kernel.hpp"
#include "engine/kmeans.hpp"
#include "engine/model_data.hpp"
#include "engine/quantized.hpp"
#include "floresta/error.hpp"
#include "floresta/model.hpp"
#include "threads.hpp"

namespace floresta {

bool append_category_set(std::vector<uint32_t>& words, const int64_t* codes, std::size_t n) {
  if (n == 0) return true;
  uint64_t any = 0;  // the OR of all codes: bounds them, and the compiler vectorizes it
  for (std::size_t k = 0; k < n; ++k) any |= static_cast<uint64_t>(codes[k]);
  if (any >= static_cast<uint64_t>(kMaxCategory)) return false;  // negative codes set the top bits
  const std::size_t first = words.size();
  std::size_t count = static_cast<std::size_t>(any) / 32 + 1;  // enough words, maybe too many
  words.resize(first + count, 0u);
  uint32_t* set = words.data() + first;
  constexpr std::size_t kFlagBytes = 8192;
  if (count * 32 > kFlagBytes) {
    for (std::size_t k = 0; k < n; ++k) set[codes[k] / 32] |= 1u << (codes[k] % 32);
  } else {
    // A byte per code, then eight bytes to eight bits by one multiply: independent stores
    // instead of a chain of read-modify-writes on the same few words (the categorical
    // XGBoost model of the benchmarks lists 26 million codes).
    alignas(8) uint8_t flags[kFlagBytes];
    std::memset(flags, 0, count * 32);
    for (std::size_t k = 0; k < n; ++k) flags[codes[k]] = 1;
    for (std::size_t w = 0; w < count; ++w) {
      uint32_t word = 0;
      for (std::size_t b = 0; b < 4; ++b) {
        uint64_t eight;
        std::memcpy(&eight, flags + 32 * w + 8 * b, 8);
        word |= static_cast<uint32_t>((eight * 0x0102040810204080ull) >> 56) << (8 * b);
      }
      set[w] = word;
    }
  }
  while (count > 0 && set[count - 1] == 0) --count;  // exactly the words the largest code needs
  words.resize(first + count);
  return true;
}

namespace detail {
namespace {

// Bitset words all categorical splits together may take (256 MiB; spec.hpp).
constexpr std::size_t kMaxCategoryWords = static_cast<std::size_t>(floresta::kMaxCategoryWords);

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

// Lays a validated tree out in pre-order: left child next, right child a forward offset.
template <class Rule>
void compile_tree(const TreeSpec& tree, Forest<Rule>& forest, uint32_t& depth_out, const std::string& source) {
  using Value = typename Rule::Value;
  using Accum = typename Rule::Accum;
  const std::size_t width = forest.leaf_width;
  const std::size_t base = forest.nodes.size();
  struct Item { int32_t node; std::size_t parent; uint32_t depth; };  // parent = position to patch
  std::vector<Item> stack{{0, SIZE_MAX, 0}};
  const Value weight = static_cast<Value>(tree.weight);
  while (!stack.empty()) {
    const Item item = stack.back();
    stack.pop_back();
    const auto i = static_cast<std::size_t>(item.node);
    const std::size_t pos = forest.nodes.size();
    if (pos - base > std::numeric_limits<uint32_t>::max()) fail(source, ": a tree is too large to compile");
    if (item.parent != SIZE_MAX) forest.nodes[item.parent].right = static_cast<uint32_t>(pos - item.parent);
    depth_out = std::max(depth_out, item.depth);
    Node<Value> node{};
    if (tree.left_children[i] == -1) {
      Value leaf = static_cast<Value>(tree.leaf_value[i]);
      if (tree.weight != 1.0) leaf = leaf * weight;
      node.value = leaf;
      node.info = kLeafFlag;
      node.right = 0;
      if (!tree.linear_offsets.empty()) {
        const uint32_t first = tree.linear_offsets[i], last = tree.linear_offsets[i + 1];
        node.info |= kLinearLeafFlag;
        node.right = static_cast<uint32_t>(forest.linear_terms.size());
        forest.has_linear = true;
        forest.linear_terms.push_back(static_cast<double>(last - first));
        forest.linear_terms.push_back(tree.linear_const[i]);
        forest.linear_terms.push_back(tree.leaf_value[i]);
        for (uint32_t k = first; k < last; ++k) {
          forest.linear_terms.push_back(static_cast<double>(tree.linear_features[k]));
          forest.linear_terms.push_back(tree.linear_coeffs[k]);
        }
        if (forest.linear_terms.size() > std::numeric_limits<uint32_t>::max()) fail(source, ": too many linear terms");
      }
      if (width > 1) {
        if (forest.leaf_vectors.size() > std::numeric_limits<uint32_t>::max() - width)
          fail(source, ": too many leaf values to compile");
        node.right = static_cast<uint32_t>(forest.leaf_vectors.size());
        for (std::size_t k = 0; k < width; ++k) {
          Accum v = static_cast<Accum>(tree.leaf_vector[i * width + k]);
          if (tree.weight != 1.0) v = v * static_cast<Accum>(tree.weight);
          forest.leaf_vectors.push_back(v);
        }
      }
      forest.nodes.push_back(node);
      continue;
    }
    node.info = static_cast<uint32_t>(tree.split_feature[i]);
    if (tree.default_left[i]) node.info |= kDefaultLeftFlag;
    if (!tree.zero_is_missing.empty() && tree.zero_is_missing[i]) node.info |= kZeroMissingFlag;
    if (tree.is_categorical[i]) {
      node.info |= kCategoricalFlag;
      forest.has_categorical = true;
      // The forest keeps [n_bits, words...], exactly the words n_bits needs.
      const std::size_t given = tree.category_offsets[i + 1] - tree.category_offsets[i];
      const auto bits = static_cast<uint32_t>(tree.category_bits.empty() ? std::min<uint64_t>(32 * uint64_t{given}, kMaxCategory)
                                                                         : tree.category_bits[i]);
      const std::size_t words = (std::size_t{bits} + 31) / 32;
      if (forest.category_words.size() + words + 1 > kMaxCategoryWords)
        fail(source, ": categorical splits need more than ", kMaxCategoryWords, " bitset words");
      node.bitset = static_cast<uint32_t>(forest.category_words.size());
      forest.category_words.push_back(bits);
      const auto set = tree.category_words.begin() + tree.category_offsets[i];
      forest.category_words.insert(forest.category_words.end(), set, set + static_cast<std::ptrdiff_t>(std::min(given, words)));
      forest.category_words.resize(node.bitset + 1 + words, 0u);
    } else {
      node.value = static_cast<Value>(tree.threshold[i]);
    }
    forest.nodes.push_back(node);
    stack.push_back({tree.right_children[i], pos, item.depth + 1});
    stack.push_back({tree.left_children[i], SIZE_MAX, item.depth + 1});
  }
}

// One binned feature's split thresholds: the distinct values in ascending order, and the
// rank of each, found through an open-addressing table on the value's bits (-0.0 is read
// as 0.0, which compares equal to it). Trained models repeat few distinct thresholds many
// times (LightGBM: at most max_bin per feature), so this is faster than sorting them all.
template <class Value>
class ThresholdSet {
 public:
  explicit ThresholdSet(const std::vector<Value>& values) {
    resize(64);
    for (const Value value : values) {
      Slot& slot = find(value);
      if (slot.bits != kEmpty) continue;
      slot.bits = bits(value);
      distinct.push_back(value + Value(0));
      if (2 * distinct.size() > slots_.size()) resize(2 * slots_.size());
    }
    std::sort(distinct.begin(), distinct.end());
    for (std::size_t k = 0; k < distinct.size(); ++k) find(distinct[k]).rank = static_cast<uint32_t>(k);
  }
  // The rank of a value that was among those given.
  uint32_t rank(Value value) const { return slots_[slot_of(bits(value))].rank; }

  std::vector<Value> distinct;

 private:
  struct Slot {
    uint64_t bits;
    uint32_t rank;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // a NaN's bits: no threshold has them

  static uint64_t bits(Value value) {
    value += Value(0);  // -0.0 -> 0.0
    if constexpr (sizeof(Value) == 8) {
      uint64_t out;
      std::memcpy(&out, &value, 8);
      return out;
    } else {
      uint32_t out;
      std::memcpy(&out, &value, 4);
      return out;
    }
  }
  // The slot holding `key`, or the empty one where it would go (linear probing).
  std::size_t slot_of(uint64_t key) const {
    std::size_t i = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    while (slots_[i].bits != kEmpty && slots_[i].bits != key) i = (i + 1) & (slots_.size() - 1);
    return i;
  }
  Slot& find(Value value) { return slots_[slot_of(bits(value))]; }
  void resize(std::size_t size) {
    slots_.assign(size, Slot{kEmpty, 0});
    shift_ = 64;
    for (std::size_t s = size; s > 1; s /= 2) --shift_;
    for (const Value value : distinct) find(value).bits = bits(value);
  }

  std::vector<Slot> slots_;
  int shift_ = 64;
};

// Builds the quantized copy of a compiled forest (see quantized.hpp), or leaves it empty
// when the forest has splits or leaves the quantized walk does not cover, or bins that do
// not fit in 16 bits. Threshold sets, nodes and top tables are built on n_threads.
template <class Rule>
void quantize(Forest<Rule>& forest, int n_threads) {
  using Value = typename Rule::Value;
  if (forest.has_categorical || forest.has_linear || forest.leaf_width != 1) return;
  // Binned features: one per (input feature, zero-is-missing) pair that some split reads,
  // numbered in order of first use; looked up in a table (a hash map for huge inputs).
  constexpr uint64_t kTableKeys = uint64_t{1} << 20;
  // Keys of the features the splits read (not of every declared feature): the table is
  // sized by the forest's content.
  uint32_t features_used = 0;
  for (const auto& n : forest.nodes)
    if (!n.is_leaf()) features_used = std::max(features_used, n.feature() + 1);
  const uint64_t keys = 2 * uint64_t{features_used};
  constexpr uint32_t kNone = ~0u;
  std::vector<uint32_t> table(keys <= kTableKeys ? keys : 0, kNone);
  std::unordered_map<uint64_t, uint32_t> map;
  std::vector<uint64_t> binned;  // key of each binned feature
  std::vector<std::vector<Value>> thresholds;
  std::vector<uint32_t> node_feature(forest.nodes.size());  // each split's binned feature
  for (std::size_t i = 0; i < forest.nodes.size(); ++i) {
    const auto& n = forest.nodes[i];
    if (n.is_leaf()) continue;
    if (std::isnan(n.value)) return;
    const uint64_t key = (uint64_t{n.feature()} << 1) | ((n.info & kZeroMissingFlag) ? 1u : 0u);
    uint32_t& index = table.empty() ? map.try_emplace(key, kNone).first->second : table[key];
    if (index == kNone) {
      index = static_cast<uint32_t>(thresholds.size());
      binned.push_back(key);
      thresholds.emplace_back();
    }
    thresholds[index].push_back(n.value);
    node_feature[i] = index;
  }
  if (2 * thresholds.size() + 1 > kMaxQuantizedColumns) return;
  std::vector<std::unique_ptr<ThresholdSet<Value>>> sets(thresholds.size());
  parallel_for(thresholds.size(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) sets[i] = std::make_unique<ThresholdSet<Value>>(thresholds[i]);
  }, 1);
  Quantization<Value> q;
  q.features.resize(thresholds.size());
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    const std::vector<Value>& t = sets[i]->distinct;
    if (t.size() + 1 >= kMissingRight) return;
    auto& f = q.features[i];
    f.feature = static_cast<uint32_t>(binned[i] >> 1);
    f.zero_missing = static_cast<uint32_t>(binned[i] & 1u);
    f.begin = static_cast<uint32_t>(q.thresholds.size());
    q.thresholds.insert(q.thresholds.end(), t.begin(), t.end());
    f.end = static_cast<uint32_t>(q.thresholds.size());
    f.keys = static_cast<uint32_t>(q.keys.size());
    for (std::size_t k = Quantization<Value>::kKeyBlock; k <= t.size(); k += Quantization<Value>::kKeyBlock)
      q.keys.push_back(t[k - 1]);
  }
  q.width = static_cast<uint32_t>(2 * thresholds.size() + 1);
  const auto leaf_column = static_cast<uint16_t>(2 * thresholds.size());
  q.nodes.resize(forest.nodes.size());
  parallel_for(forest.nodes.size(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t j = begin; j < end; ++j) {
      const auto& n = forest.nodes[j];
      if (n.is_leaf()) {
        q.nodes[j] = {leaf_column, 0, ~0u};
        continue;
      }
      const uint32_t i = node_feature[j];
      const std::size_t k = sets[i]->rank(n.value);
      const auto column = static_cast<uint16_t>(2 * i + ((n.info & kDefaultLeftFlag) ? 0 : 1));
      q.nodes[j] = {column, static_cast<uint16_t>(k + 1), n.right - 1};
    }
  }, kMinRowsPerThread * 16);
  // Breadth-first tables of the first kTopLevels levels of every tree.
  q.top.assign(forest.num_trees() * kTopWords, 0u);
  parallel_for(forest.num_trees(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t first = Quantization<Value>::top_offset(t);
      constexpr std::size_t kSplits = (std::size_t{1} << kTopLevels) - 1;
      uint32_t slot_node[2 * kSplits + 1];
      slot_node[0] = forest.tree_begin[t];
      for (std::size_t s = 0; s < kSplits; ++s) {
        const uint32_t at = slot_node[s];
        const QuantizedNode& n = q.nodes[at];
        q.top[first + s] = uint32_t{n.column} | (uint32_t{n.bound} << 16);
        const bool leaf = n.skip == ~0u;
        slot_node[2 * s + 1] = leaf ? at : at + 1;
        slot_node[2 * s + 2] = leaf ? at : at + n.skip + 1;
      }
      for (std::size_t s = 0; s <= kSplits; ++s) {
        const uint32_t at = slot_node[kSplits + s];
        q.top[first + kSplits + 1 + s] = at | (q.nodes[at].skip == ~0u ? kTopLeafFlag : 0u);
      }
    }
  }, kMinTreesPerThread);
  forest.quantized = std::move(q);
}

// Appends `part` (trees compiled on their own) to `forest`, moving its offsets into the
// shared buffers (category sets, leaf vectors, linear terms) past what precedes them.
template <class Rule>
void append_part(Forest<Rule>& forest, Forest<Rule>& part, const std::string& source) {
  const std::size_t node_base = forest.nodes.size(), word_base = forest.category_words.size();
  const std::size_t vector_base = forest.leaf_vectors.size(), linear_base = forest.linear_terms.size();
  constexpr std::size_t kMax32 = std::numeric_limits<uint32_t>::max();
  if (node_base + part.nodes.size() > kMax32) fail(source, ": the forest has too many nodes");
  if (word_base + part.category_words.size() > kMaxCategoryWords)
    fail(source, ": categorical splits need more than ", kMaxCategoryWords, " bitset words");
  if (vector_base + part.leaf_vectors.size() > kMax32) fail(source, ": too many leaf values to compile");
  if (linear_base + part.linear_terms.size() > kMax32) fail(source, ": too many linear terms");
  for (auto& node : part.nodes) {
    if (!node.is_leaf()) {
      if (node.info & kCategoricalFlag) node.bitset += static_cast<uint32_t>(word_base);
    } else if (node.info & kLinearLeafFlag) {
      node.right += static_cast<uint32_t>(linear_base);
    } else if (forest.leaf_width > 1) {
      node.right += static_cast<uint32_t>(vector_base);
    }
  }
  forest.nodes.insert(forest.nodes.end(), part.nodes.begin(), part.nodes.end());
  for (uint32_t begin : part.tree_begin) forest.tree_begin.push_back(begin + static_cast<uint32_t>(node_base));
  forest.tree_group.insert(forest.tree_group.end(), part.tree_group.begin(), part.tree_group.end());
  forest.tree_depth.insert(forest.tree_depth.end(), part.tree_depth.begin(), part.tree_depth.end());
  forest.category_words.insert(forest.category_words.end(), part.category_words.begin(), part.category_words.end());
  forest.leaf_vectors.insert(forest.leaf_vectors.end(), part.leaf_vectors.begin(), part.leaf_vectors.end());
  forest.linear_terms.insert(forest.linear_terms.end(), part.linear_terms.begin(), part.linear_terms.end());
  forest.max_depth = std::max(forest.max_depth, part.max_depth);
  forest.has_categorical = forest.has_categorical || part.has_categorical;
  forest.has_linear = forest.has_linear || part.has_linear;
}

template <class Rule>
Forest<Rule> compile_forest(const ModelSpec& spec, const LoadOptions& options) {
  Forest<Rule> forest;
  forest.num_features = static_cast<uint32_t>(spec.num_features);
  forest.num_groups = static_cast<uint32_t>(spec.num_outputs);
  forest.leaf_width = static_cast<uint32_t>(spec.leaf_width);
  for (double m : spec.base_margin) forest.base_margin.push_back(static_cast<typename Rule::Accum>(m));
  // Chunks of trees in file order compile on their own threads into parts, joined in order
  // (a failing chunk's first error is the one a sequential compile would meet first).
  const std::size_t trees = spec.trees.size();
  const std::size_t chunk = parallel_chunk(trees, options.n_threads, kMinTreesPerThread);
  std::vector<Forest<Rule>> parts((trees + chunk - 1) / chunk);
  parallel_for(trees, options.n_threads, [&](std::size_t begin, std::size_t end) {
    Forest<Rule>& part = parts[begin / chunk];
    part.leaf_width = forest.leaf_width;
    std::size_t total = 0;
    for (std::size_t t = begin; t < end; ++t) total += spec.trees[t].num_nodes();
    part.nodes.reserve(total);
    for (std::size_t t = begin; t < end; ++t) {
      const TreeSpec& tree = spec.trees[t];
      part.tree_begin.push_back(static_cast<uint32_t>(part.nodes.size()));
      part.tree_group.push_back(static_cast<uint32_t>(tree.output_group));
      uint32_t depth = 0;
      compile_tree(tree, part, depth, spec.source);
      part.tree_depth.push_back(depth);
      part.max_depth = std::max(part.max_depth, depth);
    }
  }, kMinTreesPerThread);
  if (parts.size() == 1) {
    parts[0].num_features = forest.num_features;
    parts[0].num_groups = forest.num_groups;
    parts[0].base_margin = std::move(forest.base_margin);
    forest = std::move(parts[0]);
  } else {
    std::size_t total = 0;
    for (const auto& part : parts) total += part.nodes.size();
    forest.nodes.reserve(total);
    for (auto& part : parts) append_part(forest, part, spec.source);
  }
  forest.nodes.shrink_to_fit();
  if (options.quantize) quantize(forest, options.n_threads);
  return forest;
}

}  // namespace

// Lookups for encoding records: names, category codes, and the code of an unseen category
// (-1 where a preprocessing lookup reads the feature and tells unknown from missing, else NaN).
void index_schema(ModelData& data) {
  const auto& features = data.schema.features;
  data.string_codes.assign(features.size(), {});
  data.number_codes.assign(features.size(), {});
  data.unknown_code.assign(features.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t f = 0; f < features.size(); ++f) {
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
  if ((options.use_best_iteration || spec.use_best_iteration) && spec.best_iteration >= 0)
    keep_rounds(spec, static_cast<std::size_t>(spec.best_iteration) + 1);
  if (options.num_iterations < 0) detail::fail(spec.source, ": num_iterations must be >= 0");
  if (options.num_iterations > 0) keep_rounds(spec, static_cast<std::size_t>(options.num_iterations));
  auto data = std::make_shared<detail::ModelData>();
  if (spec.task == Task::kClustering) {
    if (spec.num_outputs < 1) detail::fail(spec.source, ": a k-means model needs at least one centre");
    if (spec.num_features < 0) detail::fail(spec.source, ": negative number of features");
    const auto k = static_cast<std::size_t>(spec.num_outputs), d = static_cast<std::size_t>(spec.num_features);
    std::size_t values = 0;
    if (__builtin_mul_overflow(k, d, &values) || spec.centers.size() != values)
      detail::fail(spec.source, ": ", spec.centers.size(), " centre values for ", k, " centres of ", d, " features");
    for (double c : spec.centers)
      if (!std::isfinite(c)) detail::fail(spec.source, ": a k-means centre holds a non-finite value");
    detail::validate_preprocessing(spec);
    detail::KMeans::RowMatrix<double> centers(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(d));
    std::copy(spec.centers.begin(), spec.centers.end(), centers.data());
    data->estimator = detail::KMeans(std::move(centers));
  } else {
    detail::validate(spec, options);
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
  detail::index_schema(*data);
  return Model(std::move(data));
}

}  // namespace floresta
