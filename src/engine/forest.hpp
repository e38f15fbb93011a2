// src/engine/forest.hpp — the compiled tree ensemble: nodes, decision rules, Forest.
//
// A Forest is one contiguous array of small POD nodes for the whole ensemble. Every tree
// is laid out in pre-order: a split's left child is the next node and its right child sits
// a forward offset away, so a walk only ever moves forward and cannot loop. A leaf keeps its
// value in the node itself (one load fewer than a side table); categorical splits keep the
// offset of their bitset, which lives in a side buffer. Each tree adds to one output group.
//
// The decision rule is a policy type (XGBoostRule, ...) fixed when the model is compiled,
// so the node step never branches on the file format. The scoring plans that walk these
// types are in plans/, compiled once per instruction set (kernels_*.cpp; see plan.hpp).
//
// Thread-safety: a Forest is immutable after compile().
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/bitvector.hpp"
#include "engine/quantized.hpp"
#include "floresta/link.hpp"

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

  FLORESTA_ALWAYS_INLINE bool is_leaf() const { return info & kLeafFlag; }
  FLORESTA_ALWAYS_INLINE uint32_t feature() const { return info & kFeatureMask; }
};
static_assert(sizeof(Node<float>) == 12, "float nodes must stay 12 bytes");
static_assert(sizeof(Node<double>) == 16, "double nodes must stay 16 bytes");

// A categorical split's set in Forest::category_words is [n_bits, words...]; a code c is
// "listed" when c < n_bits and its bit is set. What happens to listed, unlisted and invalid
// codes is the rule's business, but only those three classes may differ: a rule reads x as
// a code (category_code: ~0u when x is none) and decides by whether the code is listed,
// below n_bits but unlisted, or at or beyond n_bits (invalid codes among them). The
// quantized walk relies on this (quantized.hpp).
FLORESTA_ALWAYS_INLINE bool category_listed(uint32_t code, const uint32_t* set) {
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
  FLORESTA_ALWAYS_INLINE static Value input(In x) { return static_cast<Value>(x); }
  FLORESTA_ALWAYS_INLINE static bool numeric_left(Value x, Value threshold) { return x < threshold; }
  // The category code x is read as, or ~0u (listed in no set) when x is not one.
  FLORESTA_ALWAYS_INLINE static uint32_t category_code(Value x) {
    return x >= 0.0f && x < 16777216.0f ? static_cast<uint32_t>(x) : ~0u;
  }
  FLORESTA_ALWAYS_INLINE static bool category_left(Value x, const uint32_t* set, bool /*default_left*/) {
    return !category_listed(category_code(x), set);
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
  FLORESTA_ALWAYS_INLINE static Value input(In x) {
    const auto v = static_cast<Value>(x);
    return std::fabs(v) <= kLightGBMZeroThreshold ? Value(0) : v;
  }
  FLORESTA_ALWAYS_INLINE static bool numeric_left(Value x, Value threshold) { return x <= threshold; }
  // The category code x is read as, or ~0u (beyond every set) when x is not one.
  FLORESTA_ALWAYS_INLINE static uint32_t category_code(Value x) {
    return x > -1.0 && x < 2147483648.0 ? static_cast<uint32_t>(static_cast<int64_t>(x)) : ~0u;
  }
  FLORESTA_ALWAYS_INLINE static bool category_left(Value x, const uint32_t* set, bool default_left) {
    const uint32_t code = category_code(x);
    if (code >= set[0]) return default_left;
    return category_listed(code, set);
  }
};

// scikit-learn's HistGradientBoosting: LightGBM's comparisons and categorical sets on the
// input as given (no zero band; missing is NaN only).
struct SkLearnHistRule : LightGBMRule {
  static constexpr bool kZeroMissing = false;
  template <class In>
  FLORESTA_ALWAYS_INLINE static Value input(In x) { return static_cast<Value>(x); }
};

// scikit-learn's Cython trees (DecisionTree, RandomForest, ExtraTrees, GradientBoosting,
// IsolationForest): inputs are cast to float32, then compared in double: left iff x <= t.
struct SkLearnTreeRule {
  using Value = double;
  using Accum = double;
  static constexpr bool kZeroMissing = false;
  static constexpr bool kStrictLeft = false;
  template <class In>
  FLORESTA_ALWAYS_INLINE static Value input(In x) { return static_cast<Value>(static_cast<float>(x)); }
  FLORESTA_ALWAYS_INLINE static bool numeric_left(Value x, Value threshold) { return x <= threshold; }
  FLORESTA_ALWAYS_INLINE static uint32_t category_code(Value) { return ~0u; }
  FLORESTA_ALWAYS_INLINE static bool category_left(Value, const uint32_t*, bool default_left) { return default_left; }
};

// Whether a split sends x (an input already read by Rule::input) left: the one decision the
// walks (walk.hpp) and the explanations (explain/treeshap.cpp) take.
template <class Rule, bool kCategorical = true>
FLORESTA_ALWAYS_INLINE bool goes_left(const Node<typename Rule::Value>& node, const uint32_t* words,
                                      typename Rule::Value x) {
  using Value = typename Rule::Value;
  const uint32_t info = node.info;
  const bool default_left = (info & kDefaultLeftFlag) != 0;
  if (std::isnan(x)) return default_left;
  if (kCategorical && (info & kCategoricalFlag)) return Rule::category_left(x, words + node.bitset, default_left);
  if (Rule::kZeroMissing && (info & kZeroMissingFlag) && std::fabs(x) <= Value(kLightGBMZeroThreshold)) return default_left;
  return Rule::numeric_left(x, node.value);
}

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
  Bitvector<Value> bitvector;          // the quantized trees as leaf masks (empty: a tree too big)
  // Explanations only (explain/treeshap.hpp), beside the nodes rather than in them: each
  // node's training weight (TreeSpec::cover) in `nodes` order; empty when a tree has none.
  std::vector<double> cover;

  FLORESTA_ALWAYS_INLINE std::size_t num_trees() const { return tree_begin.size(); }
};

// Rows a value walk takes per block, and accumulator values kept on the stack per block
// (every plan's block holds at most kBlockValues / num_groups rows).
constexpr std::size_t kBlockRows = 64;
constexpr std::size_t kBlockValues = 4096;

}  // namespace detail
}  // namespace floresta
