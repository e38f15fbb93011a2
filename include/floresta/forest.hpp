// floresta/forest.hpp — the compiled tree ensemble and its prediction kernels.
//
// A Forest is one contiguous array of small POD nodes for the whole ensemble. Every tree
// is laid out in pre-order: a split's left child is the next node and its right child sits
// a forward offset away, so a walk only ever moves forward and cannot loop. A leaf keeps its
// value in the node itself (one load fewer than a side table); categorical splits keep the
// offset of their bitset, which lives in a side buffer. Each tree adds to one output group.
//
// The decision rule is a policy type (XGBoostRule, ...) fixed when the model is compiled,
// so the node step never branches on the file format. Kernels are further specialised for
// forests without categorical splits and for contiguous rows.
//
// Thread-safety: a Forest is immutable after compile(); scoring functions are const and
// allocate nothing, so any number of threads may score one Forest at once.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "floresta/detail/simd.hpp"
#include "floresta/link.hpp"
#include "floresta/matrix.hpp"
#include "floresta/quantized.hpp"

namespace floresta {
namespace detail {

// Node.info layout: feature index in the low 28 bits, then four flags.
constexpr uint32_t kLeafFlag = 1u << 31;
constexpr uint32_t kDefaultLeftFlag = 1u << 30;
constexpr uint32_t kCategoricalFlag = 1u << 29;
constexpr uint32_t kLinearLeafFlag = 1u << 29;  // on leaves: a linear model, see Forest::linear_terms
constexpr uint32_t kZeroMissingFlag = 1u << 28;  // LightGBM missing_type=Zero: |x| <= 1e-35 is missing
constexpr uint32_t kFeatureMask = kZeroMissingFlag - 1;
constexpr uint32_t kMaxFeatures = kFeatureMask;

// LightGBM's kZeroThreshold (1e-35f), as the double it compares against.
constexpr double kLightGBMZeroThreshold = 1.0000000180025095e-35;

template <class T>
struct Node {
  union {
    T value;          // threshold of a numeric split, or the value of a leaf
    uint32_t bitset;  // categorical split: offset of its set in Forest::category_words
  };
  uint32_t info;   // feature | flags
  uint32_t right;  // splits: offset to the right child; vector leaves: index into leaf_vectors

  bool is_leaf() const { return info & kLeafFlag; }
  uint32_t feature() const { return info & kFeatureMask; }
};
static_assert(sizeof(Node<float>) == 12, "float nodes must stay 12 bytes");
static_assert(sizeof(Node<double>) == 16, "double nodes must stay 16 bytes");

// A categorical split's set in Forest::category_words is [n_bits, words...]; a code c is
// "listed" when c < n_bits and its bit is set. What happens to listed, unlisted and invalid
// codes is the rule's business.
inline bool category_listed(uint32_t code, const uint32_t* set) {
  return code < set[0] && ((set[1 + (code >> 5)] >> (code & 31u)) & 1u) != 0;
}

// XGBoost: inputs are cast to float32; numeric left iff x < t; categories listed in the
// node's set go right, everything else (unlisted, negative, >= 2^24) left; leaf values are
// summed in float32.
struct XGBoostRule {
  using Value = float;
  using Accum = float;
  static constexpr bool kZeroMissing = false;
  static constexpr bool kStrictLeft = true;  // numeric_left is x < t (else x <= t)
  template <class In>
  static Value input(In x) { return static_cast<Value>(x); }
  static bool numeric_left(Value x, Value threshold) { return x < threshold; }
  static bool category_left(Value x, const uint32_t* set, bool /*default_left*/) {
    if (!(x >= 0.0f && x < 16777216.0f)) return true;
    return !category_listed(static_cast<uint32_t>(x), set);
  }
};

// LightGBM: double precision, left iff x <= t.
// LightGBM's predictor keeps only inputs with |x| > kZeroThreshold (or NaN) and reads the
// rest as 0, so a value in that band is 0 before any tree sees it.
// Missing types are resolved when compiling: None sends NaN where 0 goes, NaN uses the
// default direction, Zero also treats |x| <= kZeroThreshold as missing (kZeroMissingFlag).
// Categorical: the code is x truncated toward zero; listed codes go left, other codes
// below the set's size right; negative or larger codes take the default direction
// (LightGBM's loader compiles that direction to right, as LightGBM sends them).
struct LightGBMRule {
  using Value = double;
  using Accum = double;
  static constexpr bool kZeroMissing = true;
  static constexpr bool kStrictLeft = false;
  template <class In>
  static Value input(In x) {
    const auto v = static_cast<Value>(x);
    return std::fabs(v) <= kLightGBMZeroThreshold ? Value(0) : v;
  }
  static bool numeric_left(Value x, Value threshold) { return x <= threshold; }
  static bool category_left(Value x, const uint32_t* set, bool default_left) {
    if (!(x > -1.0 && x < 2147483648.0)) return default_left;
    const auto code = static_cast<uint32_t>(static_cast<int64_t>(x));
    if (code >= set[0]) return default_left;
    return category_listed(code, set);
  }
};

// scikit-learn's HistGradientBoosting: LightGBM's comparisons and categorical sets on the
// input as given (no zero band; missing is NaN only).
struct SkLearnHistRule : LightGBMRule {
  static constexpr bool kZeroMissing = false;
  template <class In>
  static Value input(In x) { return static_cast<Value>(x); }
};

// scikit-learn's Cython trees (DecisionTree, RandomForest, ExtraTrees, GradientBoosting,
// IsolationForest): inputs are cast to float32, then compared in double: left iff x <= t.
struct SkLearnTreeRule {
  using Value = double;
  using Accum = double;
  static constexpr bool kZeroMissing = false;
  static constexpr bool kStrictLeft = false;
  template <class In>
  static Value input(In x) { return static_cast<Value>(static_cast<float>(x)); }
  static bool numeric_left(Value x, Value threshold) { return x <= threshold; }
  static bool category_left(Value, const uint32_t*, bool default_left) { return default_left; }
};

template <class Rule>
struct Forest {
  using Value = typename Rule::Value;
  using Accum = typename Rule::Accum;

  std::vector<Node<Value>> nodes;
  std::vector<uint32_t> tree_begin;    // index of each tree's root in `nodes`
  std::vector<uint32_t> tree_group;    // output group of each tree
  std::vector<uint32_t> category_words;  // per categorical split: [n_bits, words...]
  std::vector<Accum> leaf_vectors;     // leaves of leaf_width > 1, leaf_width values each
  // Linear leaves: [count, constant, fallback, feature_0, coeff_0, ...] at the leaf's `right`.
  std::vector<double> linear_terms;
  std::vector<Accum> base_margin;      // one per output group
  uint32_t leaf_width = 1;             // 1, or num_groups when every leaf holds a vector
  uint32_t num_features = 0;
  uint32_t num_groups = 1;
  uint32_t max_depth = 0;
  std::vector<uint32_t> tree_depth;    // levels below each tree's root
  bool has_categorical = false;
  bool has_linear = false;
  Quantization<Value> quantized;       // the same trees comparing bins (empty: not quantizable)

  std::size_t num_trees() const { return tree_begin.size(); }
};

// Walks one tree for one row; returns its leaf. Terminates because every step moves
// strictly forward inside the tree (checked by compile()).
template <class Rule, bool kCategorical, bool kContiguous, class In>
inline const Node<typename Rule::Value>* walk(const Node<typename Rule::Value>* node, const uint32_t* words,
                                              const In* row, std::ptrdiff_t col_stride) {
  using Value = typename Rule::Value;
  while (!node->is_leaf()) {
    const uint32_t info = node->info;
    const std::ptrdiff_t f = static_cast<std::ptrdiff_t>(info & kFeatureMask);
    const Value x = Rule::input(kContiguous ? row[f] : row[f * col_stride]);
    const bool default_left = (info & kDefaultLeftFlag) != 0;
    bool left;
    if (std::isnan(x)) {
      left = default_left;
    } else if (kCategorical && (info & kCategoricalFlag)) {
      left = Rule::category_left(x, words + node->bitset, default_left);
    } else if (Rule::kZeroMissing && (info & kZeroMissingFlag) && std::fabs(x) <= Value(kLightGBMZeroThreshold)) {
      left = default_left;
    } else {
      left = Rule::numeric_left(x, node->value);
    }
    node += left ? 1u : node->right;
  }
  return node;
}

// Walks one tree for kLanes rows at once: every row advances one level per step, so the
// loads of independent rows overlap instead of waiting on each other. A row that reached
// its leaf stays there (the step is masked to 0), so `depth` steps finish every row. No
// branch depends on the data except the categorical test, taken only on categorical nodes.
// `roots[i]` and `rows[i]` give each lane its tree and its row: one tree for several rows
// (batches), or several trees for one row (single rows).
template <class Rule, std::size_t kLanes, bool kCategorical, bool kContiguous, class In>
inline void walk_lanes(const Node<typename Rule::Value>* const* roots, uint32_t depth, const In* const* rows,
                       std::ptrdiff_t col_stride, const uint32_t* words, typename Rule::Value* leaves) {
  using Value = typename Rule::Value;
  const Node<Value>* node[kLanes];
  for (std::size_t i = 0; i < kLanes; ++i) node[i] = roots[i];
  for (uint32_t level = 0; level < depth; ++level) {
    for (std::size_t i = 0; i < kLanes; ++i) {
      const Node<Value>* n = node[i];
      const uint32_t info = n->info;
      const std::ptrdiff_t f = static_cast<std::ptrdiff_t>(info & kFeatureMask);
      const Value x = Rule::input(kContiguous ? rows[i][f] : rows[i][f * col_stride]);
      // Bit arithmetic only: NaN fails every comparison, so it can go left only by default.
      const uint32_t default_left = (info >> 30) & 1u;
      uint32_t missing = static_cast<uint32_t>(x != x);
      if (Rule::kZeroMissing)
        missing |= ((info >> 28) & 1u) & static_cast<uint32_t>(std::fabs(x) <= Value(kLightGBMZeroThreshold));
      uint32_t compare;
      if (kCategorical && (info & kCategoricalFlag) && !(info & kLeafFlag))
        compare = static_cast<uint32_t>(Rule::category_left(x, words + n->bitset, default_left != 0));
      else
        compare = static_cast<uint32_t>(Rule::numeric_left(x, n->value));
      const uint32_t left = (compare & (missing ^ 1u)) | (missing & default_left);
      uint32_t step = left + (left ^ 1u) * n->right;  // 1 when left, right offset otherwise
      step &= (info >> 31) - 1u;  // leaves stay put
      node[i] = n + step;
    }
    // Deep, lopsided trees (LightGBM's leaf-wise growth) end most walks early.
    if (level >= 2) {
      uint32_t all_leaves = 1u;
      for (std::size_t i = 0; i < kLanes; ++i) all_leaves &= node[i]->info >> 31;
      if (all_leaves) break;
    }
  }
  for (std::size_t i = 0; i < kLanes; ++i) leaves[i] = node[i]->value;
}

// A linear leaf's output (LightGBM linear_tree): the constant leaf value when any input is NaN.
template <class Rule, class In>
inline typename Rule::Accum linear_leaf(const double* terms, const In* row, std::ptrdiff_t col_stride) {
  using Value = typename Rule::Value;
  const auto count = static_cast<std::size_t>(terms[0]);
  double out = terms[1];
  for (std::size_t k = 0; k < count; ++k) {
    const Value x = Rule::input(row[static_cast<std::ptrdiff_t>(terms[3 + 2 * k]) * col_stride]);
    if (std::isnan(x)) return static_cast<typename Rule::Accum>(terms[2]);
    out += terms[4 + 2 * k] * static_cast<double>(x);
  }
  return static_cast<typename Rule::Accum>(out);
}

// What a predict call writes per row.
enum class OutputKind {
  kRaw,    // num_groups margins
  kValue,  // num_groups transformed values (regression)
  kProba,  // class probabilities: [1 - p, p] for one binary group, else num_groups
  kClass,  // one value: the predicted class index (outlier detection: -1 outlier, 1 inlier)
  kDecision,  // outlier detection: one value, the score minus the model's offset
  kDistances,  // clustering: the distance to every centre
};

struct OutputPlan {
  OutputKind kind = OutputKind::kRaw;
  Link link = Link::kIdentity;
  bool class_from_margin = false;  // class = argmax (or sign) of margins, not of probabilities
  bool outlier = false;            // an outlier detector: classes are -1 / 1
  double average_divisor = 0;
  double link_scale = 1;
  double decision_offset = 0;
};

inline std::size_t output_width(OutputKind kind, std::size_t groups) {
  if (kind == OutputKind::kClass || kind == OutputKind::kDecision) return 1;
  if (kind == OutputKind::kProba && groups == 1) return 2;
  return groups;
}

constexpr std::size_t kBlockRows = 64;
constexpr std::size_t kBlockValues = 4096;  // accumulator values kept on the stack per block

template <class Accum>
inline void transform(const OutputPlan& plan, Accum* v, std::size_t groups) {
  if (plan.average_divisor > 0)
    for (std::size_t g = 0; g < groups; ++g) v[g] /= static_cast<Accum>(plan.average_divisor);
  apply_link(plan.link, v, groups, static_cast<Accum>(plan.link_scale));
}

template <class Accum>
inline void write_outputs(const OutputPlan& plan, Accum* v, std::size_t groups, double* o) {
  switch (plan.kind) {
    case OutputKind::kRaw:
      break;
    case OutputKind::kValue:
      transform(plan, v, groups);
      break;
    case OutputKind::kProba:
      transform(plan, v, groups);
      if (groups == 1) {
        o[0] = static_cast<double>(Accum(1) - v[0]);
        o[1] = static_cast<double>(v[0]);
        return;
      }
      break;
    case OutputKind::kDecision:
      transform(plan, v, groups);
      o[0] = static_cast<double>(v[0]) - plan.decision_offset;
      return;
    case OutputKind::kDistances:  // refused for forests by Model::plan_for
      break;
    case OutputKind::kClass: {
      if (plan.outlier) {
        transform(plan, v, groups);
        o[0] = static_cast<double>(v[0]) - plan.decision_offset < 0 ? -1.0 : 1.0;
        return;
      }
      if (!plan.class_from_margin) transform(plan, v, groups);
      if (groups == 1) {
        o[0] = v[0] > (plan.class_from_margin ? Accum(0) : Accum(0.5)) ? 1.0 : 0.0;
      } else {
        std::size_t best = 0;
        for (std::size_t g = 1; g < groups; ++g)
          if (v[g] > v[best]) best = g;
        o[0] = static_cast<double>(best);
      }
      return;
    }
  }
  for (std::size_t g = 0; g < groups; ++g) o[g] = static_cast<double>(v[g]);
}

// Scores rows [begin, end) of X into out (row-major, output_width() values per row). Rows
// are taken in blocks with the tree loop outside, so each tree's nodes stay in cache across
// the block; each row still adds its trees in file order, as the training library does.
template <class Rule, bool kCategorical, bool kContiguous, class In>
void score_range(const Forest<Rule>& forest, const MatrixView<In>& X, std::size_t begin,
                 std::size_t end, const OutputPlan& plan, double* out) {
  using Accum = typename Rule::Accum;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = output_width(plan.kind, groups);
  const std::size_t block_rows = std::max<std::size_t>(1, std::min(kBlockRows, kBlockValues / groups));
  Accum acc[kBlockValues];
  const auto* nodes = forest.nodes.data();
  const uint32_t* words = forest.category_words.data();
  const std::size_t trees = forest.num_trees();

  for (std::size_t b = begin; b < end; b += block_rows) {
    const std::size_t n = std::min(block_rows, end - b);
    for (std::size_t r = 0; r < n; ++r)
      std::copy(forest.base_margin.begin(), forest.base_margin.end(), acc + r * groups);
    std::size_t t = 0;
#ifdef FLORESTA_X86_SIMD
    // XGBoost forests on contiguous float32 rows: eight rows per AVX2 register.
    if constexpr (std::is_same_v<Rule, XGBoostRule> && std::is_same_v<In, float> && kContiguous && kCategorical) {
      if (forest.leaf_width == 1 && cpu_has_avx2() && X.row_stride < (std::ptrdiff_t(1) << 24)) {
        float leaves[16];
        for (; t < trees; ++t) {
          const auto* root = nodes + forest.tree_begin[t];
          const uint32_t depth = forest.tree_depth[t];
          const std::size_t g = forest.tree_group[t];
          std::size_t r = 0;
          for (; r + 16 <= n; r += 16) {  // two registers in flight (4 and 8 spill: slower)
            walk8_xgboost_avx2<kCategorical, 2>(root, depth, X.row(b + r), static_cast<int32_t>(X.row_stride), words, leaves);
            for (std::size_t i = 0; i < 16; ++i) acc[(r + i) * groups + g] += leaves[i];
          }
          for (; r + 8 <= n; r += 8) {
            walk8_xgboost_avx2<kCategorical, 1>(root, depth, X.row(b + r), static_cast<int32_t>(X.row_stride), words, leaves);
            for (std::size_t i = 0; i < 8; ++i) acc[(r + i) * groups + g] += leaves[i];
          }
          for (; r < n; ++r)
            acc[r * groups + g] += walk<Rule, kCategorical, kContiguous>(root, words, X.row(b + r), X.col_stride)->value;
        }
      }
    }
#endif
    if (!forest.has_linear && forest.leaf_width == 1 && n >= 8) {
      // The fast path: several rows walking each tree at once (8 lanes measured best for
      // float and double nodes alike; 4 and 16 were slower).
      constexpr std::size_t kLanes = 8;
      const In* row_ptr[kBlockRows];
      for (std::size_t r = 0; r < n; ++r) row_ptr[r] = X.row(b + r);
      typename Rule::Value leaves[kLanes];
      for (; t < trees; ++t) {
        const auto* root = nodes + forest.tree_begin[t];
        const uint32_t depth = forest.tree_depth[t];
        const std::size_t g = forest.tree_group[t];
        const Node<typename Rule::Value>* roots[kLanes];
        for (std::size_t i = 0; i < kLanes; ++i) roots[i] = root;
        std::size_t r = 0;
        for (; r + kLanes <= n; r += kLanes) {
          walk_lanes<Rule, kLanes, kCategorical, kContiguous>(roots, depth, row_ptr + r, X.col_stride, words, leaves);
          for (std::size_t i = 0; i < kLanes; ++i) acc[(r + i) * groups + g] += leaves[i];
        }
        for (; r < n; ++r)
          acc[r * groups + g] += walk<Rule, kCategorical, kContiguous>(root, words, row_ptr[r], X.col_stride)->value;
      }
    }
    if (!forest.has_linear && forest.leaf_width == 1 && n < 8) {
      // Few rows: each row walks eight trees at once instead, in tree order.
      constexpr std::size_t kLanes = 8;
      typename Rule::Value leaves[kLanes];
      for (std::size_t r = 0; r < n; ++r) {
        const In* row = X.row(b + r);
        const In* rows[kLanes];
        for (std::size_t i = 0; i < kLanes; ++i) rows[i] = row;
        Accum* a = acc + r * groups;
        std::size_t u = t;
        for (; u + kLanes <= trees; u += kLanes) {
          const Node<typename Rule::Value>* roots[kLanes];
          uint32_t depth = 0;
          for (std::size_t i = 0; i < kLanes; ++i) {
            roots[i] = nodes + forest.tree_begin[u + i];
            depth = std::max(depth, forest.tree_depth[u + i]);
          }
          walk_lanes<Rule, kLanes, kCategorical, kContiguous>(roots, depth, rows, X.col_stride, words, leaves);
          for (std::size_t i = 0; i < kLanes; ++i) a[forest.tree_group[u + i]] += leaves[i];
        }
        for (; u < trees; ++u)
          a[forest.tree_group[u]] += walk<Rule, kCategorical, kContiguous>(nodes + forest.tree_begin[u], words, row, X.col_stride)->value;
      }
      t = trees;
    }
    for (; t < trees; ++t) {
      const auto* root = nodes + forest.tree_begin[t];
      if (forest.has_linear) {
        const std::size_t g = forest.tree_group[t];
        for (std::size_t r = 0; r < n; ++r) {
          const In* row = X.row(b + r);
          const auto* leaf = walk<Rule, kCategorical, kContiguous>(root, words, row, X.col_stride);
          acc[r * groups + g] += (leaf->info & kLinearLeafFlag)
                                     ? linear_leaf<Rule>(forest.linear_terms.data() + leaf->right, row, X.col_stride)
                                     : static_cast<Accum>(leaf->value);
        }
      } else if (forest.leaf_width == 1) {
        const std::size_t g = forest.tree_group[t];
        for (std::size_t r = 0; r < n; ++r)
          acc[r * groups + g] += walk<Rule, kCategorical, kContiguous>(root, words, X.row(b + r), X.col_stride)->value;
      } else {
        for (std::size_t r = 0; r < n; ++r) {
          const auto* leaf = walk<Rule, kCategorical, kContiguous>(root, words, X.row(b + r), X.col_stride);
          const Accum* vector = forest.leaf_vectors.data() + leaf->right;
          for (std::size_t g = 0; g < groups; ++g) acc[r * groups + g] += vector[g];
        }
      }
    }
    for (std::size_t r = 0; r < n; ++r)
      write_outputs(plan, acc + r * groups, groups, out + (b - begin + r) * width);
  }
}

constexpr std::size_t kBinBudget = 16384;  // uint16 bins kept on the stack per block (32 KiB)
constexpr std::size_t kRowTrees = 8;  // trees walked per walk_rows_avx512 call (one work list)

template <class Rule>
bool use_quantized(const Forest<Rule>& forest) {
  return !forest.quantized.empty() && forest.quantized.width * kQuantizedLanes <= kBinBudget &&
         forest.num_groups * kQuantizedLanes <= kBlockValues;
}

#ifdef FLORESTA_X86_SIMD
// One row through `lanes` (a multiple of 16, at most 128) trees; see walk_trees_avx512.
template <int kRegisters>
inline void walk_trees_lanes(const QuantizedNode* nodes, const uint32_t* top, const uint32_t* tables, uint32_t depth,
                             const uint16_t* bins, std::size_t lanes, uint32_t* leaves) {
  switch (lanes / kQuantizedLanes) {
    case 8: return walk_trees_avx512<8, kRegisters>(nodes, top, tables, depth, bins, leaves);
    case 7: return walk_trees_avx512<7, kRegisters>(nodes, top, tables, depth, bins, leaves);
    case 6: return walk_trees_avx512<6, kRegisters>(nodes, top, tables, depth, bins, leaves);
    case 5: return walk_trees_avx512<5, kRegisters>(nodes, top, tables, depth, bins, leaves);
    case 4: return walk_trees_avx512<4, kRegisters>(nodes, top, tables, depth, bins, leaves);
    case 3: return walk_trees_avx512<3, kRegisters>(nodes, top, tables, depth, bins, leaves);
    case 2: return walk_trees_avx512<2, kRegisters>(nodes, top, tables, depth, bins, leaves);
    default: return walk_trees_avx512<1, kRegisters>(nodes, top, tables, depth, bins, leaves);
  }
}

// Interleaved rows (`lanes`, a multiple of 16, at most kQuantizedBlockRows) through `trees`
// trees from their tables; see walk_rows_avx512.
inline void walk_rows_lanes(const QuantizedNode* nodes, const uint32_t* const* tops, std::size_t trees, uint32_t depth,
                            const uint16_t* bins, std::size_t group_stride, std::size_t lanes, uint32_t* leaves,
                            uint32_t* list) {
  switch (lanes / kQuantizedLanes) {
    case 8: return walk_rows_avx512<8>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
    case 7: return walk_rows_avx512<7>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
    case 6: return walk_rows_avx512<6>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
    case 5: return walk_rows_avx512<5>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
    case 4: return walk_rows_avx512<4>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
    case 3: return walk_rows_avx512<3>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
    case 2: return walk_rows_avx512<2>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
    default: return walk_rows_avx512<1>(nodes, tops, trees, depth, bins, group_stride, leaves, list);
  }
}
#endif

// Scores rows [begin, end) through the quantized trees (see quantized.hpp): rows are binned
// once per block, then sixteen rows walk each tree at once; fewer rows walk sixteen trees at
// once instead. With AVX-512 the lanes live in vector registers, several at a time. Leaf
// values come from Forest::nodes and are added in file order.
template <class Rule, class In>
void score_range_quantized(const Forest<Rule>& forest, const MatrixView<In>& X, std::size_t begin,
                           std::size_t end, const OutputPlan& plan, double* out) {
  using Accum = typename Rule::Accum;
  constexpr std::size_t L = kQuantizedLanes;
  const auto& q = forest.quantized;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = output_width(plan.kind, groups);
  const std::size_t block_rows = std::min({kQuantizedBlockRows, kBlockValues / groups, kBinBudget / q.width}) / L * L;
  Accum acc[kBlockValues];
  uint16_t bins[kBinBudget + 2];  // + padding for 32-bit gathers of the last bin
  uint32_t roots[kQuantizedBlockRows];
  uint32_t leaves[kRowTrees * kQuantizedBlockRows];
  const auto* nodes = forest.nodes.data();
  const QuantizedNode* qnodes = q.nodes.data();
  const std::size_t trees = forest.num_trees();
  bool vector = false;
#ifdef FLORESTA_X86_SIMD
  vector = cpu_has_avx512() && q.nodes.size() < (std::size_t{1} << 28);
#endif

  for (std::size_t b = begin; b < end; b += block_rows) {
    const std::size_t n = std::min(block_rows, end - b);
    for (std::size_t r = 0; r < n; ++r)
      std::copy(forest.base_margin.begin(), forest.base_margin.end(), acc + r * groups);
    if (n >= L) {
      const In* rows[kQuantizedBlockRows];
      for (std::size_t r = 0; r < n; ++r) rows[r] = X.row(b + r);
#ifdef FLORESTA_X86_SIMD
      if (vector) bin_rows_avx512<Rule>(q, rows, n, X.col_stride, bins);
      else
#endif
        bin_rows<Rule>(q, rows, n, X.col_stride, bins);
      const std::size_t lanes = (n + L - 1) / L * L;
      bins[lanes * q.width] = bins[lanes * q.width + 1] = 0;
      // Adds tree t's leaves (for the block's rows, at `found`) in file order.
      auto add_tree = [&](std::size_t t, const uint32_t* found) {
#ifdef FLORESTA_X86_SIMD
        if (vector && groups == 1 && std::is_same_v<Accum, typename Rule::Value>) {
          add_leaves_avx512(nodes, sizeof(*nodes), found, n, acc);
          return;
        }
#endif
        Accum* a = acc + forest.tree_group[t];
        for (std::size_t r = 0; r < n; ++r) a[r * groups] += nodes[found[r]].value;
      };
#ifdef FLORESTA_X86_SIMD
      if (vector) {
        uint32_t list[3 * (kRowTrees * kQuantizedBlockRows + kQuantizedLanes)];
        for (std::size_t t = 0; t < trees; t += kRowTrees) {
          const std::size_t count = std::min(kRowTrees, trees - t);
          const uint32_t* tops[kRowTrees];
          uint32_t depth = 0;
          for (std::size_t i = 0; i < count; ++i) {
            tops[i] = q.top.data() + q.top_offset(t + i);
            depth = std::max(depth, forest.tree_depth[t + i]);
          }
          walk_rows_lanes(qnodes, tops, count, depth, bins, L * q.width, lanes, leaves, list);
          for (std::size_t i = 0; i < count; ++i) add_tree(t + i, leaves + i * kQuantizedBlockRows);
        }
      } else
#endif
        for (std::size_t t = 0; t < trees; ++t) {  // portable: 16 rows at a time
          std::fill(roots, roots + L, forest.tree_begin[t]);
          for (std::size_t r = 0; r < lanes; r += L)
            walk_quantized<L, L, 1>(qnodes, roots, forest.tree_depth[t], bins + (r / L) * L * q.width, leaves + r);
          add_tree(t, leaves);
        }
    } else {
      for (std::size_t r = 0; r < n; ++r) {
#ifdef FLORESTA_X86_SIMD
        if (vector) bin_row_avx512<Rule>(q, X.row(b + r), X.col_stride, bins);
        else
#endif
          bin_row<Rule>(q, X.row(b + r), X.col_stride, bins);
        bins[q.width] = 0;
        Accum* a = acc + r * groups;
        // Up to 128 trees at once, one lane each (the last register padded with copies of the
        // chunk's first tree, whose leaves are ignored). Big forests go 64 trees at a time:
        // a call lasts as long as its deepest walk (measured: 100 trees 640 -> 605 ns in one
        // call; 1,000 leaf-wise trees 6.7 -> 7.2 us in calls of 128).
        const std::size_t chunk = trees <= kQuantizedBlockRows ? kQuantizedBlockRows : 4 * L;
        for (std::size_t t = 0; t < trees; t += chunk) {
          const std::size_t count = std::min(chunk, trees - t);
          const std::size_t lanes = (count + L - 1) / L * L;
          uint32_t depth = 0;
          for (std::size_t i = 0; i < count; ++i) {
            roots[i] = vector ? q.top_offset(t + i) : forest.tree_begin[t + i];
            depth = std::max(depth, forest.tree_depth[t + i]);
          }
          std::fill(roots + count, roots + lanes, roots[0]);
#ifdef FLORESTA_X86_SIMD
          // walk_trees_avx512 with the row's bins in two or four registers (up to 128 bin
          // columns), else gathered.
          if (vector) {
            if (q.width <= 64) walk_trees_lanes<2>(qnodes, q.top.data(), roots, depth, bins, lanes, leaves);
            else if (q.width <= 128) walk_trees_lanes<4>(qnodes, q.top.data(), roots, depth, bins, lanes, leaves);
            else walk_trees_lanes<0>(qnodes, q.top.data(), roots, depth, bins, lanes, leaves);
          } else
#endif
            for (std::size_t r = 0; r < lanes; r += L) walk_quantized<L, 1, 0>(qnodes, roots + r, depth, bins, leaves + r);
          if (groups == 1) {  // keep the running sum in a register, not in memory
            Accum sum = a[0];
            for (std::size_t i = 0; i < count; ++i) sum += nodes[leaves[i]].value;
            a[0] = sum;
          } else {
            for (std::size_t i = 0; i < count; ++i) a[forest.tree_group[t + i]] += nodes[leaves[i]].value;
          }
        }
      }
    }
    for (std::size_t r = 0; r < n; ++r)
      write_outputs(plan, acc + r * groups, groups, out + (b - begin + r) * width);
  }
}

// Chooses the specialised kernel once per call.
template <class Rule, class In>
void score_rows(const Forest<Rule>& forest, const MatrixView<In>& X, std::size_t begin,
                std::size_t end, const OutputPlan& plan, double* out) {
  if (use_quantized(forest)) {
    score_range_quantized(forest, X, begin, end, plan, out);
    return;
  }
  const bool contiguous = X.contiguous_rows();
  if (forest.has_categorical) {
    if (contiguous) score_range<Rule, true, true>(forest, X, begin, end, plan, out);
    else score_range<Rule, true, false>(forest, X, begin, end, plan, out);
  } else {
    if (contiguous) score_range<Rule, false, true>(forest, X, begin, end, plan, out);
    else score_range<Rule, false, false>(forest, X, begin, end, plan, out);
  }
}

}  // namespace detail
}  // namespace floresta
