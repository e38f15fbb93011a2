// src/explain/treeshap.hpp — exact explanations: path-dependent TreeSHAP (Lundberg, Erion
// and Lee, "Consistent individualized feature attribution for tree ensembles"), the values
// XGBoost's pred_contribs, LightGBM's pred_contrib and shap's TreeExplainer compute, as a
// stage beside the scoring plans that says how much each input moved a row's margin.
//
// It reads the compiled forest (each split's decision by goes_left(), so a row takes exactly
// the path the scoring plans take) and the covers compile_forest() keeps beside the nodes
// (Forest::cover). For one row it writes, per output group g and estimator input f,
// out[g * (F + 1) + f], and the group's expected value at out[g * (F + 1) + F]: the values
// sum to the group's raw margin (before averaging and the link), XGBoost's and LightGBM's
// layout. The model layer (src/explain.cpp) adds threads, preprocessing (contributions summed
// back to the raw fields) and averaging.
//
// How (treeshap.cpp): per leaf, not per node. A leaf's term in the path-dependent value
// function is a product over the distinct features on its path, each factor either "the row
// goes this way at every split on the feature" (one: 0 or 1) or "the share of the training
// cover that does" (zero), so its Shapley value for feature i is
//     value * (one_i - zero_i) * integral over [0, 1] of prod_{j != i} (zero_j + (one_j - zero_j) t) dt
// (the Shapley weight |S|!(d-|S|-1)!/d! is the Beta integral of t^|S| (1-t)^(d-1-|S|)). The
// integrand is a polynomial of degree d - 1, integrated exactly by Gauss-Legendre with
// ceil(d / 2) points. The paths (features, zero shares, the splits that decide one) are laid
// out once, on the first explanation (PathTables), not at load: predict-only hosts pay nothing.
//
// Thread-safety: everything here is const after the tables are built (std::call_once);
// scratch space is per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/forest.hpp"

namespace floresta::detail {

// Every leaf's path as its distinct features: laid out by build_path_tables().
struct PathTables {
  // A tree's leaves are ordered by their number of features (runs of one unrolled step).
  struct Leaf {
    uint32_t node;             // the leaf in Forest::nodes
    uint32_t first_element;    // its features: elements[first_element, + elements)
    uint32_t first_condition;  // its splits: conditions[first_condition, + conditions)
    uint16_t elements;
    uint16_t conditions;
  };
  struct Element {
    uint32_t feature;
    double zero;  // product of the cover shares of the path's splits on the feature
  };
  // A split on the path: its node (relative to the tree's root), the side the path takes
  // there, and the element (the feature's place among the leaf's) it decides.
  struct Condition {
    uint32_t node;
    uint16_t element;
    uint16_t left;  // 1 when the path goes left
  };
  std::vector<uint32_t> tree_leaves;  // per tree, its first leaf in `leaves`; one more at the end
  std::vector<Leaf> leaves;
  std::vector<Element> elements;
  std::vector<Condition> conditions;
  uint32_t max_elements = 0;          // most distinct features on one path
  std::size_t max_tree_nodes = 0;
  // Gauss-Legendre points on [0, 1]: for q = 1 .. 8 points, nodes/weights [q (q - 1) / 2, + q)
  // (the unrolled paths of up to 16 features); longer paths all take the wide rule's points,
  // ceil(max_elements / 2) of them (a rule exact for a higher degree is exact for a lower).
  std::vector<double> quadrature_nodes, quadrature_weights;
  std::vector<double> wide_nodes, wide_weights;
};

// What explanations need beyond the forest, made when a model is compiled.
struct ShapTables {
  std::string refusal;            // non-empty: why this model cannot be explained
  std::vector<double> expected;   // per output group: base margin + every tree's mean leaf (by cover)
  // Built on the first explanation; shared by the model's copies.
  struct Lazy {
    std::once_flag once;
    PathTables paths;
  };
  std::shared_ptr<Lazy> lazy = std::make_shared<Lazy>();
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
