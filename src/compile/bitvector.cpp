// Bitvectors: the quantized forest as per-column lists of leaf masks (see
// engine/bitvector.hpp), exact by construction: the tests are the quantized nodes'.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "compile/stages.hpp"
#include "engine/bitvector.hpp"
#include "engine/forest.hpp"
#include "engine/quantized.hpp"

namespace floresta::detail {
namespace {

// The leaves [b, e) of a word cleared: ~(bits below e ^ bits below b).
template <class Word>
Word clear_leaves(uint32_t b, uint32_t e) {
  constexpr uint32_t kBits = 8 * sizeof(Word);
  const auto below = [](uint32_t n) { return n >= kBits ? ~Word{0} : (Word{1} << n) - 1; };
  return static_cast<Word>(~(below(e) ^ below(b)));
}

// A split of a block, listed under the bin column it reads.
struct Split {
  uint32_t tree;  // within its block
  uint32_t word;  // the quantized node's first word (bound << 16, or the categorical set)
  uint64_t mask;
};

template <class Word, class Rule>
void build(const Forest<Rule>& forest, Bitvector<typename Rule::Value>& bv, std::vector<BitvectorEntry<Word>>& entries) {
  const auto& q = forest.quantized;
  const std::size_t trees = forest.num_trees();
  const std::size_t per_block = bv.block_trees();
  const uint32_t leaf_column = q.width - 1;
  // Per bin column: whether it is categorical, and then its largest bin.
  std::vector<uint32_t> last(leaf_column, 0), categorical(leaf_column, 0);
  for (std::size_t i = 0; i < q.features.size(); ++i) {
    const auto& f = q.features[i];
    for (const std::size_t c : {2 * i, 2 * i + 1}) {
      categorical[c] = f.categorical;
      last[c] = f.categories + 1;
    }
  }
  std::vector<std::vector<Split>> by_column(leaf_column);
  std::vector<uint32_t> rank;  // per node of a tree: leaves before it
  for (std::size_t b0 = 0; b0 < trees; b0 += per_block) {
    typename Bitvector<typename Rule::Value>::Block block{};
    block.tree_begin = static_cast<uint32_t>(b0);
    block.tree_end = static_cast<uint32_t>(std::min(trees, b0 + per_block));
    block.column_begin = static_cast<uint32_t>(bv.columns.size());
    for (auto& list : by_column) list.clear();
    for (uint32_t t = block.tree_begin; t < block.tree_end; ++t) {
      const uint32_t begin = forest.tree_begin[t];
      const uint32_t end = t + 1 < trees ? forest.tree_begin[t + 1] : static_cast<uint32_t>(forest.nodes.size());
      rank.assign(end - begin + 1, 0);
      bv.leaf_begin.push_back(static_cast<uint32_t>(bv.leaf_values.size()));
      for (uint32_t j = begin; j < end; ++j) {
        const bool leaf = forest.nodes[j].is_leaf();
        rank[j - begin + 1] = rank[j - begin] + (leaf ? 1u : 0u);
        if (leaf) bv.leaf_values.push_back(forest.nodes[j].value);
      }
      for (uint32_t j = begin; j < end; ++j) {
        const QuantizedNode& n = q.nodes[j];
        if (n.skip == ~0u) continue;
        const uint32_t word = n.word();
        const uint32_t right = j + n.skip + 1;  // the left subtree is [j + 1, right)
        by_column[word & kQuantizedColumnMask].push_back(
            {t - block.tree_begin, word, clear_leaves<Word>(rank[j + 1 - begin], rank[right - begin])});
      }
    }
    for (uint32_t c = 0; c < leaf_column; ++c) {
      auto& splits = by_column[c];
      if (splits.empty()) continue;
      typename Bitvector<typename Rule::Value>::Column column{c, categorical[c], 0, 0};
      if (categorical[c]) {
        // Per bin: per tree, the leaves its splits that send the bin right clear.
        column.begin = static_cast<uint32_t>(bv.lists.size());
        column.end = last[c];
        for (uint32_t bin = 0; bin <= last[c]; ++bin) {
          bv.lists.push_back(static_cast<uint32_t>(entries.size()));
          for (std::size_t k = 0; k < splits.size();) {
            const uint32_t tree = splits[k].tree;
            Word cleared = 0;
            for (; k < splits.size() && splits[k].tree == tree; ++k)
              if (quantized_right<true>(splits[k].word, bin, q.category_sets.data(), q.set_shift))
                cleared |= static_cast<Word>(~splits[k].mask);
            if (cleared) entries.push_back({tree, cleared});
          }
        }
        bv.lists.push_back(static_cast<uint32_t>(entries.size()));
        bv.columns.push_back(column);
        continue;
      }
      // Numeric: grouped by bound, ascending; one entry per tree and bound.
      std::sort(splits.begin(), splits.end(), [](const Split& a, const Split& b) {
        return a.word != b.word ? (a.word >> 16) < (b.word >> 16) : a.tree < b.tree;
      });
      column.begin = static_cast<uint32_t>(bv.bounds.size());
      for (std::size_t k = 0; k < splits.size(); ++k) {
        const uint32_t bound = splits[k].word >> 16;
        if (k == 0 || bound != (splits[k - 1].word >> 16))
          bv.bounds.push_back({bound, static_cast<uint32_t>(entries.size())});
        const auto cleared = static_cast<Word>(~splits[k].mask);
        if (k > 0 && splits[k - 1].word == splits[k].word && splits[k - 1].tree == splits[k].tree)
          entries.back().cleared |= cleared;
        else
          entries.push_back({splits[k].tree, cleared});
      }
      column.end = static_cast<uint32_t>(bv.bounds.size());
      bv.bounds.push_back({0xFFFFFFFFu, static_cast<uint32_t>(entries.size())});  // ends the last bound
      bv.columns.push_back(column);
    }
    block.column_end = static_cast<uint32_t>(bv.columns.size());
    bv.blocks.push_back(block);
  }
}

}  // namespace

// Builds forest.bitvector from forest.quantized when every tree has at most
// kBitvectorMaxLeaves leaves and the forest fits 16-bit tree indices and 32-bit entry
// indices; else leaves it empty (the forest keeps the walks).
template <class Rule>
void build_bitvector(Forest<Rule>& forest) {
  const auto& q = forest.quantized;
  if (q.empty() || forest.num_trees() == 0) return;
  std::size_t max_leaves = 0;
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    const std::size_t end = t + 1 < forest.num_trees() ? forest.tree_begin[t + 1] : forest.nodes.size();
    const std::size_t nodes = end - forest.tree_begin[t];
    max_leaves = std::max(max_leaves, (nodes + 1) / 2);  // binary trees: splits + 1 leaves
    if (max_leaves > kBitvectorMaxLeaves) return;
  }
  Bitvector<typename Rule::Value> bv;
  bv.wide = max_leaves > 32;
  if (bv.wide) build<uint64_t>(forest, bv, bv.entries64);
  else build<uint32_t>(forest, bv, bv.entries32);
  if (bv.entries32.size() >= 0xFFFFFFFFu || bv.entries64.size() >= 0xFFFFFFFFu) return;
  forest.bitvector = std::move(bv);
}

template void build_bitvector(Forest<XGBoostRule>&);
template void build_bitvector(Forest<LightGBMRule>&);
template void build_bitvector(Forest<SkLearnHistRule>&);
template void build_bitvector(Forest<SkLearnTreeRule>&);

}  // namespace floresta::detail
