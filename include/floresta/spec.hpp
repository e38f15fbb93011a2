// floresta/spec.hpp — ModelSpec, the neutral form every format loader produces.
//
// A loader (XGBoost JSON/UBJSON, LightGBM text and JSON, floresta's own JSON) knows one file
// format and turns it into a ModelSpec: the model's description (ModelDescription: what it
// predicts, its outputs' meaning, its inputs), then plain per-tree arrays in the source's own
// node numbering, the decision rule, output groups and base margins. compile() (model.hpp)
// checks it once for every format and lays it out for scoring; the compiled Model keeps the
// description as it is. Hosts rarely need this header; it is public so that tools can build
// models programmatically and tests can craft broken ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "floresta/link.hpp"
#include "floresta/preprocess.hpp"
#include "floresta/schema.hpp"

namespace floresta {

// How a split compares an input to its threshold; fixed per model, chosen at compile time.
enum class DecisionRule {
  kXGBoost,      // input cast to float32; left iff x < t; NaN -> default; listed categories go right
  kLightGBM,     // double, |x| <= 1e-35 read as 0; left iff x <= t; missing types; listed
                 // categories go left
  kSkLearnHist,  // scikit-learn's HistGradientBoosting: kLightGBM without the zero band
  kSkLearnTree,  // input cast to float32, compared in double: left iff x <= t
};

enum class Task { kRegression, kBinaryClassification, kMulticlassClassification, kOutlierDetection, kClustering };

// One tree as arrays indexed by the source's node id; node 0 is the root.
struct TreeSpec {
  std::vector<int32_t> left_children;   // -1 on leaves
  std::vector<int32_t> right_children;  // -1 on leaves
  std::vector<int32_t> split_feature;
  std::vector<double> threshold;        // numeric splits
  std::vector<double> leaf_value;       // leaves
  std::vector<uint8_t> default_left;    // where a missing value goes
  std::vector<uint8_t> is_categorical;
  std::vector<uint8_t> zero_is_missing;  // LightGBM missing_type=Zero; empty = none
  // Vector leaves (ModelSpec::leaf_width > 1): leaf i's values are
  // leaf_vector[i * leaf_width .. (i + 1) * leaf_width); empty otherwise.
  std::vector<double> leaf_vector;
  // Categorical splits: node i's set is the bitset category_words[category_offsets[i] ..
  // category_offsets[i+1]); code c is listed when bit c % 32 of word c / 32 is set.
  // Empty offsets = no categorical node in this tree. append_category_set() builds one.
  std::vector<uint32_t> category_offsets;
  std::vector<uint32_t> category_words;
  // Per node, how many codes the split knows (at most 2^24; codes at or past it are
  // unlisted or invalid, as the rule says). Empty = 32 per word of the node's set.
  std::vector<uint32_t> category_bits;
  // LightGBM linear trees: leaf i outputs linear_const[i] + sum of linear_coeffs[k] *
  // x[linear_features[k]] over k in linear_offsets[i] .. linear_offsets[i+1], or
  // leaf_value[i] when one of those inputs is NaN. Empty offsets = a constant-leaf tree.
  std::vector<uint32_t> linear_offsets;
  std::vector<int32_t> linear_features;
  std::vector<double> linear_coeffs;
  std::vector<double> linear_const;
  // Per node, the training weight that reached it: XGBoost's sum_hessian, LightGBM's
  // internal_count / leaf_count, scikit-learn's weighted_n_node_samples (TreeSHAP's cover).
  // Only explanations read it. Empty = unknown (the model predicts but cannot explain); a
  // single-leaf tree needs none.
  std::vector<double> cover;
  int32_t output_group = 0;  // ignored for vector leaves, which add to every group
  double weight = 1.0;  // dart weight_drop; folded into the leaves when compiled

  std::size_t num_nodes() const { return left_children.size(); }
};

// Categorical codes a split may list: [0, 2^24), as XGBoost (not exact in float32 beyond).
constexpr int64_t kMaxCategory = int64_t(1) << 24;

// Appends to `words` the bitset listing codes[0 .. n): as many words as the largest code
// needs. Returns false, appending nothing, when a code lies outside [0, kMaxCategory).
bool append_category_set(std::vector<uint32_t>& words, const int64_t* codes, std::size_t n);

// What a model is, as a loader reads it and a compiled Model keeps it: the part of a
// ModelSpec that compile() hands on unchanged (the Model's metadata, its outputs' meaning
// and its inputs).
struct ModelDescription {
  std::string source;  // file name (or "<memory>") for error messages
  std::string format;  // "xgboost-json", "xgboost-ubjson", "lightgbm-text", ...
  Task task = Task::kRegression;
  std::string objective;
  Link link = Link::kIdentity;
  bool class_from_margin = false;  // multi:softmax / hinge: class = argmax of margins
  int num_classes = 0;             // 0 for regression
  int num_outputs = 1;             // output groups (classes for multi-class, targets)
  double average_divisor = 0;      // > 0: transformed outputs are the sum divided by it
  double link_scale = 1;           // sigmoid slope; isolation-forest normaliser
  double decision_offset = 0;      // outlier detection: decision = score - offset
  int64_t best_iteration = -1;     // -1 when the file has none

  Schema schema;                // the raw inputs callers provide
  Preprocessing preprocessing;  // raw inputs -> estimator inputs; empty when they are the same
  // floresta JSON's `metadata` object as compact JSON text, carried for the model's author
  // (thresholds, model cards); floresta never reads it. Empty when the file has none.
  std::string metadata;
};

// A loader's output: the description, and the estimator as plain arrays that compile()
// validates and lays out.
struct ModelSpec : ModelDescription {
  DecisionRule rule = DecisionRule::kXGBoost;
  int num_features = 0;             // the estimator's inputs (after preprocessing)
  std::vector<double> base_margin;  // one per output group, already in margin space
  int leaf_width = 1;               // 1, or num_outputs when every leaf holds a vector

  std::vector<TreeSpec> trees;
  // k-means (task kClustering): num_outputs centres of num_features values, row-major.
  std::vector<double> centers;
  // Trees of boosting round r are iteration_indptr[r] .. iteration_indptr[r+1].
  std::vector<uint64_t> iteration_indptr;
  bool use_best_iteration = false;  // the file asks to be scored up to best_iteration
};

}  // namespace floresta
