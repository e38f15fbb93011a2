// Forest compilation: validated trees laid out as one flat array of nodes in pre-order
// (left child next, right child a forward offset), on several threads, then quantized.
#include <algorithm>
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

// Lays a validated tree out in pre-order: left child next, right child a forward offset.
template <class Rule>
void compile_tree(const TreeSpec& tree, Forest<Rule>& forest, uint32_t& depth_out, bool with_cover, const std::string& source) {
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
    if (with_cover) forest.cover.push_back(tree.cover.empty() ? 1.0 : tree.cover[i]);  // a lone leaf needs none
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
  forest.cover.insert(forest.cover.end(), part.cover.begin(), part.cover.end());
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

}  // namespace

template <class Rule>
Forest<Rule> compile_forest(const ModelSpec& spec, const LoadOptions& options, uint32_t bitvector_word_bits,
                            BitvectorRows bitvector_rows) {
  Forest<Rule> forest;
  forest.num_features = static_cast<uint32_t>(spec.num_features);
  forest.num_groups = static_cast<uint32_t>(spec.num_outputs);
  forest.leaf_width = static_cast<uint32_t>(spec.leaf_width);
  for (double m : spec.base_margin) forest.base_margin.push_back(static_cast<typename Rule::Accum>(m));
  // Covers are kept when every tree has them (a single leaf needs none): explanations use
  // all of them or none.
  const bool with_cover = std::all_of(spec.trees.begin(), spec.trees.end(),
                                      [](const TreeSpec& t) { return !t.cover.empty() || t.num_nodes() == 1; });
  // Chunks of trees in file order compile on their own threads into parts, joined in order
  // (a failing chunk's first error is the one a sequential compile would meet first).
  const std::size_t trees = spec.trees.size();
  const std::size_t chunk = parallel_chunk(trees, options.n_threads, kMinTreesPerThread);
  // At least one part: a forest of no trees (a LightGBM file whose trees were cut off) is one
  // empty part, not an index into an empty vector (found by fuzz_lightgbm_text).
  std::vector<Forest<Rule>> parts(std::max<std::size_t>(1, (trees + chunk - 1) / chunk));
  parallel_for(trees, options.n_threads, [&](std::size_t begin, std::size_t end) {
    Forest<Rule>& part = parts[begin / chunk];
    part.leaf_width = forest.leaf_width;
    std::size_t total = 0;
    for (std::size_t t = begin; t < end; ++t) total += spec.trees[t].num_nodes();
    part.nodes.reserve(total);
    if (with_cover) part.cover.reserve(total);
    for (std::size_t t = begin; t < end; ++t) {
      const TreeSpec& tree = spec.trees[t];
      part.tree_begin.push_back(static_cast<uint32_t>(part.nodes.size()));
      part.tree_group.push_back(static_cast<uint32_t>(tree.output_group));
      uint32_t depth = 0;
      compile_tree(tree, part, depth, with_cover, spec.source);
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
  forest.cover.shrink_to_fit();
  if (options.quantize) {
    quantize(forest, options.n_threads);
    build_bitvector(forest, bitvector_word_bits, bitvector_rows);
  }
  return forest;
}

template Forest<XGBoostRule> compile_forest(const ModelSpec&, const LoadOptions&, uint32_t, BitvectorRows);
template Forest<LightGBMRule> compile_forest(const ModelSpec&, const LoadOptions&, uint32_t, BitvectorRows);
template Forest<SkLearnHistRule> compile_forest(const ModelSpec&, const LoadOptions&, uint32_t, BitvectorRows);
template Forest<SkLearnTreeRule> compile_forest(const ModelSpec&, const LoadOptions&, uint32_t, BitvectorRows);

}  // namespace floresta::detail
