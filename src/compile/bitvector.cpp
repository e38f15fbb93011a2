// Bitvectors: the quantized forest's splits as the leaves they clear (see
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

// A word with the leaves [b, e) cleared: ~(bits below e ^ bits below b).
template <class Word>
Word clearing(uint32_t b, uint32_t e) {
  constexpr uint32_t kBits = 8 * sizeof(Word);
  const auto below = [](uint32_t n) { return n >= kBits ? ~Word{0} : static_cast<Word>((Word{1} << n) - 1); };
  return static_cast<Word>(below(e) ^ below(b));
}

// Per tree, its splits in bv.splits for each of its words in turn: [first, second) for the
// low word (or the only one), [second, third) for a wide tree's high word.
template <class Value>
uint32_t word_begin(const Bitvector<Value>& bv, std::size_t tree, int word) {
  if (word == 0) return bv.split_begin[tree];
  return bv.wide && word == 1 ? bv.split_high[tree] : bv.split_begin[tree + 1];
}

// The single-row layout (Bitvector::row_begin): blocks of sixteen trees, each word of them split
// by split. Returns its splits (padding included).
template <class Value>
std::size_t build_rows(Bitvector<Value>& bv, uint32_t leaf_column, bool build) {
  constexpr uint32_t kLanes = 16;
  const std::size_t trees = bv.split_begin.size() - 1;
  const int words = bv.wide ? 2 : 1;
  // A padding split reads the leaf column (always kMissingRight) against the largest bound:
  // never false, and it clears nothing.
  const uint32_t padding = leaf_column | (uint32_t{kMissingRight} << 16);
  std::size_t size = 0;
  for (std::size_t b = 0; b < trees; b += kLanes)
    for (int w = 0; w < words; ++w) {
      if (build) bv.row_begin.push_back(static_cast<uint32_t>(bv.row_words.size()));
      uint32_t most = 0;
      for (std::size_t t = b; t < std::min(trees, b + kLanes); ++t)
        most = std::max(most, word_begin(bv, t, w + 1) - word_begin(bv, t, w));
      size += std::size_t{kLanes} * most;
      if (!build) continue;
      for (uint32_t s = 0; s < most; ++s)
        for (std::size_t t = b; t < b + kLanes; ++t) {
          const bool real = t < trees && s < word_begin(bv, t, w + 1) - word_begin(bv, t, w);
          bv.row_words.push_back(real ? bv.splits[word_begin(bv, t, w) + s].word : padding);
          bv.row_cleared.push_back(real ? bv.splits[word_begin(bv, t, w) + s].cleared : 0u);
        }
    }
  if (build) bv.row_begin.push_back(static_cast<uint32_t>(bv.row_words.size()));
  return size;
}

// The splits of every tree as the leaves they clear (a word of Word's width per tree) into
// `splits`, and bv's split_begin, leaf_begin, leaf_values and cost (the words counted as
// 32-bit words: narrow forests only; halve() counts a wide forest's).
template <class Word, class Rule>
void build(const Forest<Rule>& forest, Bitvector<typename Rule::Value>& bv, std::vector<BitvectorSplit<Word>>& splits) {
  const auto& q = forest.quantized;
  const std::size_t trees = forest.num_trees();
  std::vector<uint32_t> rank;   // per node of a tree: the leaves before it
  std::vector<uint32_t> depth;  // per node of a tree: its depth
  double steps = 0;             // the quantized walk's work for a row, see below
  for (std::size_t t = 0; t < trees; ++t) {
    const uint32_t begin = forest.tree_begin[t];
    const uint32_t end = t + 1 < trees ? forest.tree_begin[t + 1] : static_cast<uint32_t>(forest.nodes.size());
    rank.assign(end - begin + 1, 0);
    bv.leaf_begin.push_back(static_cast<uint32_t>(bv.leaf_values.size()));
    bv.split_begin.push_back(static_cast<uint32_t>(splits.size()));
    for (uint32_t j = begin; j < end; ++j) {
      const bool leaf = forest.nodes[j].is_leaf();
      rank[j - begin + 1] = rank[j - begin] + (leaf ? 1u : 0u);
      if (leaf) bv.leaf_values.push_back(forest.nodes[j].value);
    }
    depth.assign(end - begin, 0);
    double leaf_depths = 0;
    for (uint32_t j = begin; j < end; ++j) {
      const QuantizedNode& n = q.nodes[j];
      if (n.skip == ~0u) {
        leaf_depths += depth[j - begin];
        continue;
      }
      const uint32_t right = j + n.skip + 1;  // the left subtree is [j + 1, right)
      depth[j + 1 - begin] = depth[right - begin] = depth[j - begin] + 1;
      splits.push_back({n.word(), clearing<Word>(rank[j + 1 - begin], rank[right - begin])});
    }
    const double mean_depth = leaf_depths / rank.back();
    steps += mean_depth + 0.5 * std::max(0.0, mean_depth - (kTopLevels + 1));
  }
  bv.split_begin.push_back(static_cast<uint32_t>(splits.size()));
  // weighed by plan.hpp's bitvector_preferred
  bv.cost = {static_cast<double>(trees), static_cast<double>(splits.size()) / 16.0, steps};
}

// A wide forest's splits for batches: each tree's 64-bit words as a low and a high 32-bit word
// (engine/bitvector.hpp), into bv.splits, split_begin and split_high.
template <class Value>
void halve(Bitvector<Value>& bv, const std::vector<BitvectorSplit<uint64_t>>& wide) {
  const std::size_t trees = bv.split_begin.size() - 1;
  std::vector<uint32_t> begin;
  for (std::size_t t = 0; t < trees; ++t) {
    begin.push_back(static_cast<uint32_t>(bv.splits.size()));
    for (int high = 0; high < 2; ++high) {
      if (high) bv.split_high.push_back(static_cast<uint32_t>(bv.splits.size()));
      for (uint32_t s = bv.split_begin[t]; s < bv.split_begin[t + 1]; ++s) {
        const auto cleared = static_cast<uint32_t>(wide[s].cleared >> (high ? 32 : 0));
        if (cleared) bv.splits.push_back({wide[s].word, cleared});
      }
    }
  }
  begin.push_back(static_cast<uint32_t>(bv.splits.size()));
  bv.split_begin = std::move(begin);
  bv.cost.words = static_cast<double>(bv.splits.size()) / 16.0;
}

}  // namespace

// Builds forest.bitvector from forest.quantized when every tree has at most
// kBitvectorMaxLeaves leaves; else leaves it empty (the forest keeps the walks).
template <class Rule>
void build_bitvector(Forest<Rule>& forest) {
  const auto& q = forest.quantized;
  // Leaf indices are gathered with signed 32-bit offsets: fewer than 2^31 nodes.
  if (q.empty() || forest.num_trees() == 0 || q.nodes.size() >= (std::size_t{1} << 31)) return;
  std::size_t max_leaves = 0;
  for (std::size_t t = 0; t < forest.num_trees(); ++t) {
    const std::size_t end = t + 1 < forest.num_trees() ? forest.tree_begin[t + 1] : forest.nodes.size();
    max_leaves = std::max(max_leaves, (end - forest.tree_begin[t] + 1) / 2);  // binary trees: splits + 1 leaves
    if (max_leaves > kBitvectorMaxLeaves) return;
  }
  Bitvector<typename Rule::Value> bv;
  bv.wide = max_leaves > 32;
  std::vector<BitvectorSplit<uint64_t>> wide;  // a wide forest's splits, for the row layout and halve()
  if (bv.wide) build<uint64_t>(forest, bv, wide);
  else build<uint32_t>(forest, bv, bv.splits);
  if (bv.wide) halve(bv, wide);
  // The single-row layout, for numeric forests whose bins fit its registers, where it is
  // expected faster than the quantized row walk: a single row streams the whole layout from
  // L2 (about 22 ns a KiB here), where the walk costs about a nanosecond a step
  // (docs/benchmarks.md, "The bitvector plan"): shapes (b) and (d) gain, (c) (100 deep trees)
  // loses.
  const std::size_t row_splits = build_rows(bv, q.width - 1, false);
  const double row_bytes = static_cast<double>(row_splits) * 8;
  bv.row_preferred = !q.has_categorical && q.width <= kBitvectorRowColumns && row_bytes < 48.0 * bv.cost.steps &&
                     row_splits < (std::size_t{1} << 31);  // row_begin's 32-bit offsets
  if (bv.row_preferred) build_rows(bv, q.width - 1, true);
  forest.bitvector = std::move(bv);
}

template void build_bitvector(Forest<XGBoostRule>&);
template void build_bitvector(Forest<LightGBMRule>&);
template void build_bitvector(Forest<SkLearnHistRule>&);
template void build_bitvector(Forest<SkLearnTreeRule>&);

}  // namespace floresta::detail
