// Bitvectors: the quantized forest's splits as the leaves they clear (see
// engine/bitvector.hpp), exact by construction: the tests are the quantized nodes'.
#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
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

// The features in the order of the byte entries' row tables (kBytes, Bitvector::row_features):
// the sixteen split on most in the first table, in their order, then the others.
template <class Value>
std::array<uint8_t, 32> table_order(const Bitvector<Value>& words) {
  std::array<std::size_t, 32> count{};
  for (const auto& split : words.splits) ++count[(split.word & 0xFFFFu) >> 1];
  std::array<uint8_t, 32> order;
  for (uint8_t f = 0; f < 32; ++f) order[f] = f;
  std::stable_sort(order.begin(), order.end(), [&](uint8_t a, uint8_t b) { return count[a] > count[b]; });
  std::sort(order.begin(), order.begin() + 16);
  std::sort(order.begin() + 16, order.end());
  return order;
}

// The pairs (kPairs, AVX-512; Bitvector::row_steps): blocks of sixteen trees, each word of
// them split by split, two steps a unit. Returns its bytes; builds it when `build`.
// `words` holds the splits in 32-bit words.
template <class Value>
std::size_t build_pairs(Bitvector<Value>& bv, const Bitvector<Value>& words, uint32_t leaf_column, bool build) {
  constexpr uint32_t kLanes = 16, kSteps = 2;  // trees a block, steps a unit
  const std::size_t unit_words = Bitvector<Value>::kRowPairWords;
  const std::size_t trees = bv.leaf_begin.size(), parts = words.parts;
  const auto splits_of = [&](std::size_t t, std::size_t p) {
    return words.split_begin[t * parts + p + 1] - words.split_begin[t * parts + p];
  };
  // A padding split reads the leaf column (always kMissingRight) against the largest bound:
  // never false, and it clears nothing.
  const BitvectorSplit<uint32_t> padding{leaf_column | (uint32_t{kMissingRight} << 16), 0};
  std::size_t units = 0;
  for (std::size_t b = 0; b < trees; b += kLanes)
    for (std::size_t p = 0; p < parts; ++p) {
      if (build) bv.row_begin.push_back(static_cast<uint32_t>(bv.row_steps.size()));
      uint32_t most = 0;
      for (std::size_t t = b; t < std::min(trees, b + kLanes); ++t) most = std::max(most, splits_of(t, p));
      most = (most + kSteps - 1) / kSteps * kSteps;  // whole units
      units += most / kSteps;
      if (!build) continue;
      for (uint32_t s = 0; s < most; s += kSteps) {
        const std::size_t at = bv.row_steps.size();
        bv.row_steps.resize(at + unit_words);  // zeros
        uint32_t* unit = bv.row_steps.data() + at;
        // 16-bit lane j of a region: word j / 2, the low half first (as vector loads read them
        // on a little-endian CPU).
        const auto lane16 = [&](std::size_t region, std::size_t j, uint32_t value) {
          unit[region + j / 2] |= (value & 0xFFFFu) << (16 * (j % 2));
        };
        for (uint32_t h = 0; h < kSteps; ++h)
          for (std::size_t i = 0; i < kLanes; ++i) {
            const std::size_t t = b + i;
            const bool real = t < trees && s + h < splits_of(t, p);
            const BitvectorSplit<uint32_t> split = real ? words.splits[words.split_begin[t * parts + p] + s + h] : padding;
            lane16(0, h * kLanes + i, split.word & 0xFFFFu);
            lane16(kLanes, h * kLanes + i, split.word >> 16);
            unit[2 * kLanes + h * kLanes + i] = split.cleared;
          }
      }
    }
  if (build) bv.row_begin.push_back(static_cast<uint32_t>(bv.row_steps.size()));
  return units * unit_words * 4;
}

// The byte entries (kBytes, engine/bitvector.hpp): per block of eight trees and word
// of them, lane 4 i + k (tree i, byte k of its word) lists the splits whose cleared leaves
// touch that byte, those on first-table features first and the others last, so that units
// before row_mixed read the first table only. Returns its bytes; builds it when `build`.
template <class Value>
std::size_t build_bytes(Bitvector<Value>& bv, const Bitvector<Value>& words, bool build) {
  constexpr uint32_t kLanes = 32;  // 8 trees x 4 bytes
  const std::size_t unit_words = Bitvector<Value>::kRowByteWords;
  const std::size_t trees = bv.leaf_begin.size(), parts = words.parts;
  const std::array<uint8_t, 32> order = table_order(words);
  std::array<uint8_t, 32> position{};  // by feature
  for (uint8_t p = 0; p < 32; ++p) position[order[p]] = p;
  if (build) {
    bv.row_features = order;
    bv.row_second_columns = std::any_of(words.splits.begin(), words.splits.end(), [](const auto& split) { return split.word & 1u; });
  }
  const auto first_table = [&](const BitvectorSplit<uint32_t>& split) { return position[(split.word & 0xFFFFu) >> 1] < 16; };
  std::array<std::vector<BitvectorSplit<uint32_t>>, kLanes> lanes;  // a lane's splits, first table first
  std::size_t units = 0;
  for (std::size_t b = 0; b < trees; b += 8)
    for (std::size_t p = 0; p < parts; ++p) {
      std::size_t most = 0, most_second = 0;
      for (uint32_t lane = 0; lane < kLanes; ++lane) {
        auto& list = lanes[lane];
        list.clear();
        const std::size_t t = b + lane / 4, k = lane % 4;
        if (t >= trees) continue;
        const auto first = words.splits.begin() + words.split_begin[t * parts + p];
        const auto last = words.splits.begin() + words.split_begin[t * parts + p + 1];
        std::copy_if(first, last, std::back_inserter(list), [&](const auto& split) { return (split.cleared >> (8 * k)) & 0xFFu; });
        const auto second = std::stable_partition(list.begin(), list.end(), first_table);
        most = std::max(most, list.size());
        most_second = std::max(most_second, static_cast<std::size_t>(list.end() - second));
      }
      units += most;
      if (!build) continue;
      bv.row_begin.push_back(static_cast<uint32_t>(bv.row_steps.size()));
      bv.row_mixed.push_back(static_cast<uint32_t>(bv.row_steps.size() + (most - most_second) * unit_words));
      for (std::size_t u = 0; u < most; ++u) {
        const std::size_t at = bv.row_steps.size();
        bv.row_steps.resize(at + unit_words);  // zeros
        uint8_t* unit = reinterpret_cast<uint8_t*>(bv.row_steps.data() + at);
        for (uint32_t lane = 0; lane < kLanes; ++lane) {
          // A lane's splits end at the unit `most`: those on the second table the last ones.
          // The slots before its first are padding: any byte, all leaves kept.
          const auto& list = lanes[lane];
          const std::size_t first_at = most - list.size();  // list index of unit u is u - first_at
          if (u < first_at) {
            unit[64 + lane] = 0xFF;
            continue;
          }
          const BitvectorSplit<uint32_t> split = list[u - first_at];
          const uint32_t column = split.word & 0xFFFFu, bound = split.word >> 16;
          unit[lane] = static_cast<uint8_t>(position[column >> 1] | (column & 1) << 5);
          // The steps test bin < bound + 1 (a split true), bins of second columns less one
          // against bounds less one at bytes 32 (rows with a missing value), as they are at
          // bytes 96 (bounds below 255: kBitvectorByteThresholds).
          unit[32 + lane] = static_cast<uint8_t>((bound + 1 - (column & 1)) ^ 0x80u);
          unit[64 + lane] = static_cast<uint8_t>(~split.cleared >> (8 * (lane % 4)));
          unit[96 + lane] = static_cast<uint8_t>((bound + 1) ^ 0x80u);
        }
      }
    }
  if (build) bv.row_begin.push_back(static_cast<uint32_t>(bv.row_steps.size()));
  return units * unit_words * 4;
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
  // for the byte entries' byte bins, whose features have at most kBitvectorByteThresholds
  // thresholds), where it is expected faster than the quantized row walk: a single row
  // streams the whole layout from L2 (about 22 ns a KiB here for the pairs), where the walk
  // costs about a nanosecond a step (docs/benchmarks.md, "The bitvector plan"): with the
  // pairs shapes (b) and (d) gain, (c) (100 deep trees) loses; the byte entries take all three.
  const auto bytes_fit = [&] {
    for (const auto& f : q.features)
      if (f.end - f.begin > kBitvectorByteThresholds) return false;
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
    const auto layout = [&](bool build) {
      return rows == BitvectorRows::kBytes ? build_bytes(bv, words, build) : build_pairs(bv, words, q.width - 1, build);
    };
    // Byte entries stream more cheaply a byte than the pairs (one compare of 32 lanes and two
    // ANDs a unit of 128 bytes): forced on (c) (63 bytes a walk step) they took one row in
    // 351 ns against the walk's 526 on AVX2, 520 against 670 on sse4
    // (bench-predict/sse4-byte-entries).
    const std::size_t row_bytes = layout(false);
    const double bytes_a_step = rows == BitvectorRows::kBytes ? 80.0 : 48.0;
    bv.row_preferred = static_cast<double>(row_bytes) < bytes_a_step * bv.cost.steps &&
                       row_bytes / 4 < (std::size_t{1} << 32);  // row_begin's 32-bit offsets (words)
    if (bv.row_preferred) {
      bv.rows = rows;
      layout(true);
    }
  }
  forest.bitvector = std::move(bv);
}

template void build_bitvector(Forest<XGBoostRule>&, uint32_t, BitvectorRows);
template void build_bitvector(Forest<LightGBMRule>&, uint32_t, BitvectorRows);
template void build_bitvector(Forest<SkLearnHistRule>&, uint32_t, BitvectorRows);
template void build_bitvector(Forest<SkLearnTreeRule>&, uint32_t, BitvectorRows);

}  // namespace floresta::detail
