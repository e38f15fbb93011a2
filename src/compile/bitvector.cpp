// Bitvectors: the quantized forest's splits as the leaves they clear (see
// engine/bitvector.hpp), exact by construction: the tests are the quantized nodes'.
#include <algorithm>
#include <array>
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

// The positions of the features in the 128-bit quads' row tables (kQuadsCleared): the sixteen
// split on most in the first table, in their order, then the others; bv.row_features is the
// inverse. Returns position by feature.
template <class Value>
std::array<uint8_t, 32> table_positions(Bitvector<Value>& bv, const Bitvector<Value>& words) {
  std::array<std::size_t, 32> count{};
  for (const auto& split : words.splits) ++count[(split.word & 0xFFFFu) >> 1];
  std::array<uint8_t, 32> order;
  for (uint8_t f = 0; f < 32; ++f) order[f] = f;
  std::stable_sort(order.begin(), order.end(), [&](uint8_t a, uint8_t b) { return count[a] > count[b]; });
  std::sort(order.begin(), order.begin() + 16);
  std::sort(order.begin() + 16, order.end());
  std::array<uint8_t, 32> position{};
  for (uint8_t p = 0; p < 32; ++p) position[order[p]] = p;
  bv.row_features = order;
  return position;
}

// A single-row layout (Bitvector::row_begin, `layout`): blocks of trees, each word of them
// split by split, a unit of steps at a time. Returns its splits (padding included); builds it
// when `build`.
// `words` holds the splits in 32-bit words (bv itself, or its splits re-cut for a kernel of
// 16-bit words).
template <class Value>
std::size_t build_rows(Bitvector<Value>& bv, const Bitvector<Value>& words, BitvectorRows layout, uint32_t leaf_column,
                       bool build) {
  const bool pairs = layout == BitvectorRows::kPairs, sliced = layout == BitvectorRows::kQuadsCleared;
  const uint32_t lanes = pairs ? 16 : 8;  // trees a block
  const uint32_t steps = pairs ? 2 : 4;   // steps a unit
  const std::size_t unit_words = pairs    ? Bitvector<Value>::kRowPairWords
                                : sliced ? Bitvector<Value>::kRowQuad128Words
                                         : Bitvector<Value>::kRowQuadWords;
  const std::size_t trees = bv.leaf_begin.size(), parts = words.parts;
  std::array<uint8_t, 32> position{};
  for (uint8_t f = 0; f < 32; ++f) position[f] = f;
  if (sliced && build) {
    position = table_positions(bv, words);
    bv.row_second_columns = false;
    for (const auto& split : words.splits) bv.row_second_columns |= (split.word & 1u) != 0;
  }
  const auto second_table = [&](const BitvectorSplit<uint32_t>& split) { return position[(split.word & 0xFFFFu) >> 1] >= 16; };
  // A padding split reads the leaf column (always kMissingRight) against the largest bound:
  // never false, and it clears nothing.
  const BitvectorSplit<uint32_t> padding{leaf_column | (uint32_t{kMissingRight} << 16), 0};
  std::vector<BitvectorSplit<uint32_t>> slots;  // a block's part: lanes x its units' steps, tree by tree
  std::size_t size = 0;
  for (std::size_t b = 0; b < trees; b += lanes)
    for (std::size_t p = 0; p < parts; ++p) {
      const std::size_t last = std::min(trees, b + lanes);
      const auto splits_of = [&](std::size_t t) {
        return words.splits.begin() + words.split_begin[t * parts + p];
      };
      uint32_t most = 0, most_second = 0;
      for (std::size_t t = b; t < last; ++t) {
        const uint32_t n = words.split_begin[t * parts + p + 1] - words.split_begin[t * parts + p];
        most = std::max(most, n);
        if (sliced) most_second = std::max(most_second, static_cast<uint32_t>(std::count_if(splits_of(t), splits_of(t) + n, second_table)));
      }
      most = (most + steps - 1) / steps * steps;  // whole units
      size += std::size_t{lanes} * most;
      if (!build) continue;
      // Each tree's splits in slots: in order, or (sliced) those on the first table first and
      // those on the second last, so that the units before `mixed` read the first table only.
      slots.assign(std::size_t{lanes} * most, padding);
      for (std::size_t t = b; t < last; ++t) {
        const uint32_t n = words.split_begin[t * parts + p + 1] - words.split_begin[t * parts + p];
        BitvectorSplit<uint32_t>* tree = slots.data() + (t - b) * most;
        if (!sliced) {
          std::copy(splits_of(t), splits_of(t) + n, tree);
          continue;
        }
        std::copy_if(splits_of(t), splits_of(t) + n, tree, [&](const auto& split) { return !second_table(split); });
        const auto second = static_cast<uint32_t>(std::count_if(splits_of(t), splits_of(t) + n, second_table));
        std::copy_if(splits_of(t), splits_of(t) + n, tree + most - second, second_table);
      }
      bv.row_begin.push_back(static_cast<uint32_t>(bv.row_steps.size()));
      if (sliced)
        bv.row_mixed.push_back(static_cast<uint32_t>(bv.row_steps.size() + (most - (most_second + steps - 1) / steps * steps) / steps * unit_words));
      for (uint32_t s = 0; s < most; s += steps) {
        const std::size_t at = bv.row_steps.size();
        bv.row_steps.resize(at + unit_words);  // zeros
        uint32_t* unit = bv.row_steps.data() + at;
        // Narrow lane j of a region of 16 words: 16-bit lanes at word j / 2, the low half
        // first; bytes at word j / 4, the lowest first (as vector loads read them on a
        // little-endian CPU).
        const auto lane16 = [&](std::size_t region, std::size_t j, uint32_t value) {
          unit[region + j / 2] |= (value & 0xFFFFu) << (16 * (j % 2));
        };
        const auto lane8 = [&](std::size_t region, std::size_t j, uint32_t value) {
          unit[region + j / 4] |= (value & 0xFFu) << (8 * (j % 4));
        };
        for (uint32_t h = 0; h < steps; ++h)
          for (std::size_t i = 0; i < lanes; ++i) {
            const BitvectorSplit<uint32_t> split = slots[i * most + s + h];
            const uint32_t column = split.word & 0xFFFFu, bound = split.word >> 16;
            if (pairs) {
              lane16(0, h * lanes + i, column);
              lane16(lanes, h * lanes + i, bound);
              unit[2 * lanes + h * lanes + i] = split.cleared;
            } else {  // real bounds are below 255 (kBitvectorQuadThresholds); padding's is 255
              // Feature (its table position), which of its columns; a second column's bound
              // one less, as the steps compare the first column's bin less one there
              // (Bitvector::row_steps; numeric bounds are a threshold's rank + 1, never 0:
              // quantize.cpp).
              lane8(0, 4 * i + h, position[column >> 1] | (column & 1) << 5);
              if (!sliced) {
                lane8(8, 4 * i + h, (std::min(bound, 255u) - (column & 1)) ^ 0x80u);
                unit[16 + 8 * h + i] = ~split.cleared;
                continue;
              }
              // The bounds one more (the steps test bin < bound + 1, a split true), at words
              // 8 for the bins less one on second columns, at words 48 as they are. Half i /
              // 4, byte 4 (i % 4) + h of its 16: in slice r (words 16 + 8 r), byte (r + h) % 4
              // of the leaves it keeps.
              lane8(8, 4 * i + h, (std::min(bound + 1, 256u) - (column & 1)) ^ 0x80u);
              lane8(48, 4 * i + h, std::min(bound + 1, 255u) ^ 0x80u);
              for (uint32_t r = 0; r < 4; ++r)
                lane8(16 + 8 * r + 4 * (i / 4), 4 * (i % 4) + h, ~split.cleared >> (8 * ((r + h) % 4)));
            }
          }
      }
    }
  if (build) bv.row_begin.push_back(static_cast<uint32_t>(bv.row_steps.size()));
  return size;
}

// The splits of every tree as the leaves they clear in the tree's 64-bit word, one list per
// tree (`begin`), and bv's leaf_begin, leaf_values and cost.trees / cost.steps.
template <class Rule>
void build(const Forest<Rule>& forest, Bitvector<typename Rule::Value>& bv, std::vector<BitvectorSplit<uint64_t>>& splits,
           std::vector<uint32_t>& begin) {
  const auto& q = forest.quantized;
  const std::size_t trees = forest.num_trees();
  std::vector<uint32_t> rank;   // per node of a tree: the leaves before it
  std::vector<uint32_t> depth;  // per node of a tree: its depth
  double steps = 0;             // the quantized walk's work for a row, see below
  for (std::size_t t = 0; t < trees; ++t) {
    const uint32_t first = forest.tree_begin[t];
    const uint32_t end = t + 1 < trees ? forest.tree_begin[t + 1] : static_cast<uint32_t>(forest.nodes.size());
    rank.assign(end - first + 1, 0);
    bv.leaf_begin.push_back(static_cast<uint32_t>(bv.leaf_values.size()));
    begin.push_back(static_cast<uint32_t>(splits.size()));
    for (uint32_t j = first; j < end; ++j) {
      const bool leaf = forest.nodes[j].is_leaf();
      rank[j - first + 1] = rank[j - first] + (leaf ? 1u : 0u);
      if (leaf) bv.leaf_values.push_back(forest.nodes[j].value);
    }
    depth.assign(end - first, 0);
    double leaf_depths = 0;
    for (uint32_t j = first; j < end; ++j) {
      const QuantizedNode& n = q.nodes[j];
      if (n.skip == ~0u) {
        leaf_depths += depth[j - first];
        continue;
      }
      const uint32_t right = j + n.skip + 1;  // the left subtree is [j + 1, right)
      depth[j + 1 - first] = depth[right - first] = depth[j - first] + 1;
      splits.push_back({n.word(), clearing<uint64_t>(rank[j + 1 - first], rank[right - first])});
    }
    const double mean_depth = leaf_depths / rank.back();
    steps += mean_depth + 0.5 * std::max(0.0, mean_depth - (kTopLevels + 1));
  }
  begin.push_back(static_cast<uint32_t>(splits.size()));
  bv.cost.trees = static_cast<double>(trees);
  bv.cost.steps = steps;
}

// The trees' 64-bit words as bv.parts words of bv.word_bits each (engine/bitvector.hpp), into
// bv.splits and split_begin; and cost.words (weighed by plan.hpp's bitvector_preferred).
template <class Value>
void split_words(Bitvector<Value>& bv, const std::vector<BitvectorSplit<uint64_t>>& splits, const std::vector<uint32_t>& begin) {
  const std::size_t trees = begin.size() - 1;
  const uint64_t mask = (uint64_t{1} << bv.word_bits) - 1;
  for (std::size_t t = 0; t < trees; ++t)
    for (uint32_t p = 0; p < bv.parts; ++p) {
      bv.split_begin.push_back(static_cast<uint32_t>(bv.splits.size()));
      for (uint32_t s = begin[t]; s < begin[t + 1]; ++s) {
        const auto cleared = static_cast<uint32_t>((splits[s].cleared >> (p * bv.word_bits)) & mask);
        if (cleared) bv.splits.push_back({splits[s].word, cleared});
      }
    }
  bv.split_begin.push_back(static_cast<uint32_t>(bv.splits.size()));
  bv.cost.words = static_cast<double>(bv.splits.size()) / 16.0 * bv.word_bits / 32.0;
}

}  // namespace

// Builds forest.bitvector from forest.quantized when every tree has at most
// kBitvectorMaxLeaves leaves, in words of `word_bits` (16 or 32: the kernel's); else leaves
// it empty (the forest keeps the walks).
template <class Rule>
void build_bitvector(Forest<Rule>& forest, uint32_t word_bits, BitvectorRows rows) {
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
  bv.word_bits = word_bits;
  bv.parts = static_cast<uint32_t>((max_leaves + word_bits - 1) / word_bits);
  std::vector<BitvectorSplit<uint64_t>> splits;
  std::vector<uint32_t> begin;
  build(forest, bv, splits, begin);
  split_words(bv, splits, begin);
  // The kernel's single-row layout, for numeric forests whose bins fit its registers (and,
  // for the quads' byte bins, whose features have at most kBitvectorQuadThresholds
  // thresholds), where it is expected faster than the quantized row walk: a single row
  // streams the whole layout from L2 (about 22 ns a KiB here), where the walk costs about a
  // nanosecond a step (docs/benchmarks.md, "The bitvector plan"): shapes (b) and (d) gain,
  // (c) (100 deep trees) loses.
  const auto bytes_fit = [&] {
    for (const auto& f : q.features)
      if (f.end - f.begin > kBitvectorQuadThresholds) return false;
    return true;
  };
  if (rows != BitvectorRows::kNone && !q.has_categorical && q.width <= kBitvectorRowColumns &&
      (rows == BitvectorRows::kPairs || bytes_fit())) {
    // The row layouts' words are 32 bits: a kernel of 16-bit words (the portable batch steps)
    // has its splits cut again for them.
    Bitvector<typename Rule::Value> wide;
    if (word_bits != 32) {
      wide.word_bits = 32;
      wide.parts = static_cast<uint32_t>((max_leaves + 31) / 32);
      split_words(wide, splits, begin);
    }
    const auto& words = word_bits == 32 ? bv : wide;
    bv.row_parts = words.parts;
    const std::size_t row_splits = build_rows(bv, words, rows, q.width - 1, false);
    const double split_bytes = rows == BitvectorRows::kPairs ? 8 : rows == BitvectorRows::kQuadsCleared ? 7 : 6;
    bv.row_preferred = static_cast<double>(row_splits) * split_bytes < 48.0 * bv.cost.steps &&
                       row_splits * 2 < (std::size_t{1} << 32);  // row_begin's 32-bit offsets (at most 2 words a split)
    if (bv.row_preferred) {
      bv.rows = rows;
      build_rows(bv, words, rows, q.width - 1, true);
    }
  }
  forest.bitvector = std::move(bv);
}

template void build_bitvector(Forest<XGBoostRule>&, uint32_t, BitvectorRows);
template void build_bitvector(Forest<LightGBMRule>&, uint32_t, BitvectorRows);
template void build_bitvector(Forest<SkLearnHistRule>&, uint32_t, BitvectorRows);
template void build_bitvector(Forest<SkLearnTreeRule>&, uint32_t, BitvectorRows);

}  // namespace floresta::detail
