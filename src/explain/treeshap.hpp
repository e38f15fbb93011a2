// src/explain/treeshap.hpp — exact explanations: path-dependent TreeSHAP (Lundberg, Erion
// and Lee, "Consistent individualized feature attribution for tree ensembles", Algorithm 2),
// the stage beside the scoring plans that says how much each input moved a row's margin.
//
// It reads the compiled forest (nodes in pre-order, each split's decision by goes_left(), so
// a row takes exactly the path the scoring plans take) and the covers compile_forest() keeps
// beside the nodes (Forest::cover). For one row it writes, per output group g and estimator
// input f, out[g * (F + 1) + f], and the group's expected value at out[g * (F + 1) + F]: the
// values sum to the group's raw margin (before averaging and the link), as XGBoost's
// pred_contribs and LightGBM's pred_contrib lay them out. The model layer (src/explain.cpp)
// adds threads, preprocessing (contributions summed back to the raw fields) and averaging.
//
// Thread-safety: everything here is const on the forest; scratch space is per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/forest.hpp"

namespace floresta::detail {

// What explanations need beyond the forest, made once when a model is compiled.
struct ShapTables {
  std::string refusal;            // non-empty: why this model cannot be explained
  std::vector<double> expected;   // per output group: base margin + every tree's mean leaf (by cover)
  uint32_t max_depth = 0;         // deepest tree: sizes the scratch path
};

// The tables for `forest`, or a refusal naming what is missing (covers, a zero-cover split,
// linear leaves).
template <class Rule>
ShapTables prepare_tree_shap(const Forest<Rule>& forest, const std::string& source);

constexpr std::size_t kEveryGroup = static_cast<std::size_t>(-1);

// One row's contributions into out (num_groups * (num_features + 1) values, overwritten), or
// only output group `group`'s (num_features + 1 values; the other groups' trees are skipped).
// `row` holds the estimator's inputs, col_stride apart.
template <class Rule, class In>
void tree_shap_row(const Forest<Rule>& forest, const ShapTables& tables, const In* row, std::ptrdiff_t col_stride,
                   double* out, std::size_t group = kEveryGroup);

}  // namespace floresta::detail
