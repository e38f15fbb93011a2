// src/engine/quantized.hpp — trees that compare small integers instead of values.
//
// Within one feature a split only asks which side of its threshold x lies, so x can be
// replaced by its bin: 1 + the number of that feature's distinct thresholds x lies to the
// right of (decided with the rule's own comparison, so float/double, `<`/`<=`, infinities
// and -0.0 all come out as the training library decides). A split on the k-th threshold
// then goes left iff bin <= k + 1: an exact rewrite, not an approximation.
//
// Missing values need no test in the walk. Each binned feature gets two bin columns that
// differ only for a missing value (NaN, and |x| <= LightGBM's zero threshold where the split
// treats zero as missing): 0 in the first column, so it goes left of every split, 0xFFFF in
// the second, so it goes right. A split reads the column of its default direction. Leaves
// read a last column that always holds 0xFFFF, with bound 0 and a step of 0, so a walk that
// reached its leaf stays there without a flag test.
//
// A node is then 8 bytes (column, bound, right offset) and one step is: load the node, load
// one uint16, compare, add. The node indices are those of Forest::nodes, whose leaf values
// the walk reads at the end. Rows are binned once per block, per column (that column's
// thresholds stay in cache), into a stack buffer: sixteen rows interleaved so that the
// lanes of a walk address their bins from one base pointer.
//
// Categorical splits compare bins too. A categorical feature is binned on its own (apart
// from numeric splits on the same input): code c (Rule::category_code) gets bin c when c < N,
// every other code, invalid ones included, bin N. Rules decide only by listed / unlisted
// below n_bits / beyond n_bits (forest.hpp), so N is the first code from which every split
// of the feature decides as for invalid codes (XGBoost: past the largest listed code;
// LightGBM: n_bits, unless its unlisted codes go the default way). A missing value gets N in
// the first column and N + 1 in the second. Each split becomes a set of N + 2 bits, bit b
// set when bin b goes right (bit N: what invalid codes do, which for a split read through
// the first column must be left; bit N + 1 always set). The sets are
// deduplicated and stored 2^set_shift words apart in category_sets. A categorical node's
// first word is column | kQuantizedCategorical | set index << kQuantizedSetShift (no bound):
// the walk tells it apart by one bit, and its step gathers one set word,
// category_sets[(index << set_shift) + (bin >> 5)], whose bit (bin & 31) says right. Numeric
// nodes' first words never have that bit (columns stay below 2048), so the top tables hold
// categorical nodes unchanged. A walk that does not read categorical nodes must not take
// forests with has_categorical (plans/quantized.hpp instantiates both).
//
// Forests with linear leaves or vector leaves are not quantized, nor forests whose bins do
// not fit (more than 65,533 thresholds on one feature, N above kMaxQuantizedCategories,
// more than kMaxQuantizedSets distinct sets, or more than kMaxQuantizedColumns bin columns); they keep the value walk (walk.hpp). The
// binning and walks are in walk.hpp, simd_avx2.hpp and simd_avx512.hpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

// Shared inline functions that kernels call (the rules, Node, these accessors) are always
// inlined: each kernel translation unit is compiled for its own instruction set, and an
// out-of-line copy emitted by one of them could be the one the linker keeps for all (a CPU
// without AVX would then run AVX code). See kernel.hpp.
#if defined(__GNUC__) || defined(__clang__)
#define FLORESTA_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FLORESTA_ALWAYS_INLINE inline
#endif

namespace floresta::detail {

struct QuantizedNode {
  uint16_t column;  // the bin column this split reads; the leaf column on leaves
  uint16_t bound;   // left iff bin <= bound
  uint32_t skip;    // the right child's offset - 1 (the left child is next); ~0 on leaves

  // The node's first word, as quantized_right and the top tables read it.
  FLORESTA_ALWAYS_INLINE uint32_t word() const { return column | (uint32_t{bound} << 16); }
};
static_assert(sizeof(QuantizedNode) == 8, "quantized nodes must stay 8 bytes");

constexpr uint16_t kMissingRight = 0xFFFF;  // a missing value's bin in a split's "right" column
constexpr std::size_t kMaxQuantizedColumns = 2048;  // bin columns per row (bins of 1,023 features)
// A node's first word (column | bound << 16) on categorical splits: column | this flag | set
// index << kQuantizedSetShift.
constexpr uint32_t kQuantizedCategorical = 1u << 11;
constexpr uint32_t kQuantizedColumnMask = kQuantizedCategorical - 1;
constexpr int kQuantizedSetShift = 12;
constexpr uint32_t kMaxQuantizedSets = 1u << (32 - kQuantizedSetShift);
constexpr uint32_t kMaxQuantizedCategories = 0xFFFF - 1;  // N: bins up to N + 1 fit in 16 bits
static_assert(kMaxQuantizedColumns <= kQuantizedColumnMask + 1, "columns must not reach the categorical flag");
constexpr std::size_t kQuantizedLanes = 16;  // rows interleaved in the bin buffer (docs/benchmarks.md, bench-predict)
constexpr int kTopLevels = 5;             // levels of a tree walked from Quantization::top
constexpr std::size_t kTopWords = 64;     // words per tree in Quantization::top
constexpr int kRowTopLevels = 6;          // levels of a tree walked from Quantization::row_top
constexpr std::size_t kRowTopWords = 128; // words per tree in Quantization::row_top
constexpr uint32_t kTopLeafFlag = 1u << 31;  // on a table's node words: the node is a leaf
constexpr int kTopFrontLevels = 3;        // levels of Quantization::top_front
constexpr std::size_t kTopFrontSlots = (std::size_t{1} << kTopFrontLevels) - 1;  // their slots
constexpr std::size_t kQuantizedBlockRows = 128;  // rows per block: 8 AVX-512 registers of lanes
constexpr std::size_t kBinBudget = 16384;  // uint16 bins of one block, kept on the stack (32 KiB)

// 1 when `bin` goes right at a node whose first word is `word` (column | bound << 16, or on
// categorical nodes column | kQuantizedCategorical | set index << kQuantizedSetShift), else
// 0. kCategorical: nodes may be categorical, their sets in `sets` (2^set_shift words each).
template <bool kCategorical>
FLORESTA_ALWAYS_INLINE uint32_t quantized_right(uint32_t word, uint32_t bin, const uint32_t* sets, uint32_t set_shift) {
  if constexpr (kCategorical) {
    if (word & kQuantizedCategorical)
      return (sets[((word >> kQuantizedSetShift) << set_shift) + (bin >> 5)] >> (bin & 31u)) & 1u;
  }
  return static_cast<uint32_t>(bin > (word >> 16));
}

template <class Value>
struct Quantization {
  struct Feature {
    uint32_t feature;       // input column
    uint32_t zero_missing;  // LightGBM missing_type=Zero: |x| <= 1e-35 counts as missing
    uint32_t begin, end;    // its thresholds in `thresholds` (none when categorical)
    uint32_t keys;          // its block keys in `keys`
    uint32_t categorical;   // 1: binned as category codes, bins 0 .. categories + 1
    uint32_t categories;    // N: codes from N on share bin N with invalid ones
  };
  // Thresholds in blocks of kKeyBlock (64 bytes): per feature, the last threshold of each
  // whole block, so a vector search finds the block first, then the count inside it.
  static constexpr uint32_t kKeyBlock = 64 / sizeof(Value);
  std::vector<Feature> features;     // binned features; feature i owns bin columns 2i and 2i+1
  std::vector<Value> thresholds;     // ascending and distinct within each feature
  std::vector<Value> keys;           // see kKeyBlock
  std::vector<QuantizedNode> nodes;  // parallel to Forest::nodes
  // Per tree, kTopWords words: the column | bound << 16 of the 31 nodes of its first five
  // levels in breadth-first slots (slot s has children 2s+1 and 2s+2; a leaf fills both
  // with itself and always goes right, so shallower trees have a table too), one unused
  // word, then the node index of the 32 slots of the sixth level, | kTopLeafFlag on leaves.
  std::vector<uint32_t> top;
  // The same tables one level deeper, kRowTopWords words a tree (63 split words, one unused,
  // the node index of the 64 slots of the seventh level): AVX-512 single rows (simd_avx512.hpp,
  // walk_trees_avx512), where a level read from a table is one gather and a level read from
  // the nodes two.
  std::vector<uint32_t> row_top;
  // The first kTopFrontLevels levels of `top` again, sixteen trees at a time and slot by slot:
  // the words of trees 16 b .. 16 b + 15 at slot s are top_front[(b kTopFrontSlots + s) 16 ..
  // + 15] (past the last tree, the block's first tree's). A single row walking sixteen trees
  // in lanes reads each of those levels with plain loads and blends instead of a gather.
  std::vector<uint32_t> top_front;
  // `features`' begin, threshold count and zero_missing as arrays for vector loads: a single
  // row's binning with the features in lanes (bin_row_lanes in simd_avx512.hpp and
  // bin_row_lanes_avx2 in simd_avx2.hpp; double thresholds). Padded with zeros to a multiple of kQuantizedLanes; all 0 on categorical
  // features (binned apart). search_step: the largest power of two not above the largest
  // count (0 when no feature has thresholds).
  std::vector<uint32_t> search_begin, search_count, search_zero_missing;
  uint32_t search_step = 0;
  std::vector<uint32_t> category_sets;  // categorical splits' sets, 2^set_shift words each
  uint32_t set_shift = 0;
  bool has_categorical = false;      // some node is categorical (kQuantizedCategorical)
  uint32_t width = 0;                // bin columns per row: 2 * features.size() + 1

  FLORESTA_ALWAYS_INLINE bool empty() const { return nodes.empty(); }
  // Tree t's table in `top`.
  FLORESTA_ALWAYS_INLINE static uint32_t top_offset(std::size_t t) { return static_cast<uint32_t>(t * kTopWords); }
  // Tree t's table in `row_top`.
  FLORESTA_ALWAYS_INLINE static uint32_t row_top_offset(std::size_t t) { return static_cast<uint32_t>(t * kRowTopWords); }
  // Trees [t, t + count)'s tables into tops; returns the deepest of their depths.
  FLORESTA_ALWAYS_INLINE uint32_t tables_of(const uint32_t* tree_depth, std::size_t t, std::size_t count,
                                            const uint32_t** tops) const {
    uint32_t depth = 0;
    for (std::size_t i = 0; i < count; ++i) {
      tops[i] = top.data() + top_offset(t + i);
      depth = tree_depth[t + i] > depth ? tree_depth[t + i] : depth;
    }
    return depth;
  }
};

}  // namespace floresta::detail
