// src/engine/quantized.hpp — numeric trees that compare small integers instead of values.
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
// Forests with categorical splits, linear leaves or vector leaves are not quantized, nor
// forests whose bins do not fit (more than 65,533 thresholds on one feature, or more than
// kMaxQuantizedColumns bin columns); they keep the value walk (walk.hpp). The binning and
// walks are in walk.hpp, simd_avx2.hpp and simd_avx512.hpp.
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
};
static_assert(sizeof(QuantizedNode) == 8, "quantized nodes must stay 8 bytes");

constexpr uint16_t kMissingRight = 0xFFFF;  // a missing value's bin in a split's "right" column
constexpr std::size_t kMaxQuantizedColumns = 2048;  // bin columns per row (bins of 1,023 features)
constexpr std::size_t kQuantizedLanes = 16;  // rows interleaved in the bin buffer (16 measured best)
constexpr int kTopLevels = 5;             // levels of a tree walked from Quantization::top
constexpr std::size_t kTopWords = 64;     // words per tree in Quantization::top
constexpr uint32_t kTopLeafFlag = 1u << 31;  // on a table's node words: the node is a leaf
constexpr std::size_t kQuantizedBlockRows = 128;  // rows per block: 8 AVX-512 registers of lanes

template <class Value>
struct Quantization {
  struct Feature {
    uint32_t feature;       // input column
    uint32_t zero_missing;  // LightGBM missing_type=Zero: |x| <= 1e-35 counts as missing
    uint32_t begin, end;    // its thresholds in `thresholds`
    uint32_t keys;          // its block keys in `keys`
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
  uint32_t width = 0;                // bin columns per row: 2 * features.size() + 1

  FLORESTA_ALWAYS_INLINE bool empty() const { return nodes.empty(); }
  // Tree t's table in `top`.
  FLORESTA_ALWAYS_INLINE static uint32_t top_offset(std::size_t t) { return static_cast<uint32_t>(t * kTopWords); }
};

}  // namespace floresta::detail
