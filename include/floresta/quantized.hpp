// floresta/quantized.hpp — numeric trees that compare small integers instead of values.
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
// kMaxQuantizedColumns bin columns); they keep the value walk in forest.hpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

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

  bool empty() const { return nodes.empty(); }
  // Tree t's table in `top`.
  static uint32_t top_offset(std::size_t t) { return static_cast<uint32_t>(t * kTopWords); }
};

// The number of thresholds t in t[0, m) with !numeric_left(x, t) (x lies right of them),
// found by a branch-free binary search (thresholds ascend, so those come first).
template <class Rule>
inline uint32_t count_right_of(typename Rule::Value x, const typename Rule::Value* t, uint32_t m) {
  if (m == 0) return 0;
  const typename Rule::Value* base = t;
  uint32_t n = m;
  while (n > 1) {
    const uint32_t half = n / 2;
    base = Rule::numeric_left(x, base[half]) ? base : base + half;
    n -= half;
  }
  return static_cast<uint32_t>(base - t) + (Rule::numeric_left(x, *base) ? 0u : 1u);
}

// Writes the bins of x (already through Rule::input) for binned feature f: first[0] in its
// missing-goes-left column and first[apart] in its missing-goes-right column. `Count` finds
// the number of f's thresholds x lies right of (ScalarCount: a binary search; simd.hpp has a
// vector one). Zero-is-missing features (LightGBM) test x == 0: Rule::input has already
// read LightGBM's zero band as 0.
template <class Rule, class Count>
inline void bin_value(typename Rule::Value x, const typename Quantization<typename Rule::Value>::Feature& f,
                      const Quantization<typename Rule::Value>& q, uint16_t* first, std::size_t apart) {
  using Value = typename Rule::Value;
  const bool missing = (x != x) || (Rule::kZeroMissing && f.zero_missing && x == Value(0));
  if (missing) {
    first[0] = 0;
    first[apart] = kMissingRight;
  } else {
    first[0] = first[apart] = static_cast<uint16_t>(1 + Count::template count<Rule>(x, f, q));
  }
}

struct ScalarCount {
  template <class Rule>
  static uint32_t count(typename Rule::Value x, const typename Quantization<typename Rule::Value>::Feature& f,
                        const Quantization<typename Rule::Value>& q) {
    return count_right_of<Rule>(x, q.thresholds.data() + f.begin, f.end - f.begin);
  }
};

// Bins `count` rows into `bins`, kQuantizedLanes (L) rows interleaved per group: the bin of
// column c for row r sits at bins[(r / L) * L * width + c * L + r % L]. Lanes past `count`
// in the last group repeat the last row, so a walk of all L lanes stays well defined.
template <class Rule, class Count = ScalarCount, class In>
void bin_rows(const Quantization<typename Rule::Value>& q, const In* const* rows, std::size_t count,
              std::ptrdiff_t col_stride, uint16_t* bins) {
  using Value = typename Rule::Value;
  const std::size_t lanes = kQuantizedLanes;
  const std::size_t padded = (count + lanes - 1) / lanes * lanes;
  const std::size_t group = lanes * q.width;
  for (std::size_t i = 0; i < q.features.size(); ++i) {
    const auto& f = q.features[i];
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(f.feature) * col_stride;
    for (std::size_t r = 0; r < padded; ++r) {
      const Value x = Rule::input(rows[r < count ? r : count - 1][offset]);
      bin_value<Rule, Count>(x, f, q, bins + (r / lanes) * group + 2 * i * lanes + r % lanes, lanes);
    }
  }
  const std::size_t leaf = 2 * q.features.size() * lanes;
  for (std::size_t g = 0; g < padded / lanes; ++g)
    for (std::size_t l = 0; l < lanes; ++l) bins[g * group + leaf + l] = kMissingRight;
}

// Bins one row (no interleaving): bins[c] for column c.
template <class Rule, class Count = ScalarCount, class In>
void bin_row(const Quantization<typename Rule::Value>& q, const In* row, std::ptrdiff_t col_stride,
             uint16_t* bins) {
  using Value = typename Rule::Value;
  for (std::size_t i = 0; i < q.features.size(); ++i) {
    const auto& f = q.features[i];
    const Value x = Rule::input(row[static_cast<std::ptrdiff_t>(f.feature) * col_stride]);
    bin_value<Rule, Count>(x, f, q, bins + 2 * i, 1);
  }
  bins[2 * q.features.size()] = kMissingRight;
}

// Walks kLanes (tree, row) pairs at once; returns each lane's leaf index. Lane i starts at
// node roots[i] and reads its bins at bins[column * kColumnStride + i * kLaneStride]:
// <L, 1> for interleaved rows walking one tree, <1, 0> for one row walking kLanes trees.
// A lane at its leaf takes steps of 0; the walk stops after `depth` levels or as soon as a
// whole level moved no lane.
template <std::size_t kLanes, std::size_t kColumnStride, std::size_t kLaneStride>
inline void walk_quantized(const QuantizedNode* nodes, const uint32_t* roots, uint32_t depth, const uint16_t* bins,
                           uint32_t* leaves) {
  uint32_t at[kLanes];
  for (std::size_t i = 0; i < kLanes; ++i) at[i] = roots[i];
  for (uint32_t level = 0; level < depth; ++level) {
    uint32_t stay = ~0u;
    for (std::size_t i = 0; i < kLanes; ++i) {
      const QuantizedNode n = nodes[at[i]];
      // Bit arithmetic, as a branch here mispredicts: skip = 0 when going left, the right
      // offset - 1 when going right, and ~0 (a step of 0) on leaves.
      const uint32_t right_mask = static_cast<uint32_t>(bins[n.column * kColumnStride + i * kLaneStride] <= n.bound) - 1u;
      const uint32_t skip = n.skip & right_mask;
      at[i] += skip + 1u;
      stay &= skip;
    }
    if (stay == ~0u) break;
  }
  for (std::size_t i = 0; i < kLanes; ++i) leaves[i] = at[i];
}

}  // namespace floresta::detail
