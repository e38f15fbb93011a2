// Random forests for tests: trees of a given shape over a grid of thresholds, and rows that
// land on the thresholds, between them, and on NaN.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "floresta/spec.hpp"

namespace floresta::test {

inline constexpr double kGrid[] = {-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0};

// Appends a random subtree of at most `depth` levels to `tree`; returns its root's id.
// zero_missing: a quarter of the splits treat zero as missing (LightGBM; each such feature
// then takes bin columns of its own, so the widths below are those of XGBoost's rule).
inline void push_leaf(floresta::TreeSpec& tree, double leaf) {
  tree.left_children.push_back(-1);
  tree.right_children.push_back(-1);
  tree.split_feature.push_back(0);
  tree.threshold.push_back(0.0);
  tree.leaf_value.push_back(leaf);
  tree.default_left.push_back(0);
  tree.is_categorical.push_back(0);
  tree.zero_is_missing.push_back(0);
}

inline int32_t split(floresta::TreeSpec& tree, std::mt19937& random, int32_t id, int depth, int features, bool zero_missing,
                     bool lopsided);
inline int32_t grow_lopsided(floresta::TreeSpec& tree, std::mt19937& random, int depth, int features, bool zero_missing);

inline int32_t grow(floresta::TreeSpec& tree, std::mt19937& random, int depth, int features, bool zero_missing) {
  const auto id = static_cast<int32_t>(tree.left_children.size());
  push_leaf(tree, std::uniform_real_distribution<double>(-1, 1)(random));
  if (depth == 0 || random() % 6 == 0) return id;
  return split(tree, random, id, depth, features, zero_missing, false);
}

// Makes node `id` a split with two grown children. lopsided: one child is a leaf half the
// time (LightGBM's leaf-wise trees: a few long paths).
inline int32_t split(floresta::TreeSpec& tree, std::mt19937& random, int32_t id, int depth, int features, bool zero_missing,
              bool lopsided) {
  const auto i = static_cast<std::size_t>(id);
  tree.split_feature[i] = static_cast<int32_t>(random() % static_cast<unsigned>(features));
  tree.threshold[i] = kGrid[random() % 8];
  tree.default_left[i] = static_cast<uint8_t>(random() % 2);
  tree.zero_is_missing[i] = static_cast<uint8_t>(zero_missing && random() % 4 == 0);
  const bool leaf_left = lopsided && random() % 4 == 0, leaf_right = lopsided && !leaf_left && random() % 3 == 0;
  const int32_t left = lopsided ? grow_lopsided(tree, random, leaf_left ? 0 : depth - 1, features, zero_missing)
                                : grow(tree, random, depth - 1, features, zero_missing);
  tree.left_children[i] = left;
  const int32_t right = lopsided ? grow_lopsided(tree, random, leaf_right ? 0 : depth - 1, features, zero_missing)
                                 : grow(tree, random, depth - 1, features, zero_missing);
  tree.right_children[i] = right;
  return id;
}

inline int32_t grow_lopsided(floresta::TreeSpec& tree, std::mt19937& random, int depth, int features, bool zero_missing) {
  const auto id = static_cast<int32_t>(tree.left_children.size());
  push_leaf(tree, std::uniform_real_distribution<double>(-1, 1)(random));
  if (depth == 0 || random() % 10 == 0) return id;
  return split(tree, random, id, depth, features, zero_missing, true);
}

inline std::vector<double> random_rows(std::size_t rows, int features, unsigned seed) {
  std::mt19937 random(seed);
  std::vector<double> out(rows * static_cast<std::size_t>(features));
  for (double& x : out) {
    const unsigned pick = random() % 10;
    if (pick == 0) x = NAN;
    else if (pick < 5) x = kGrid[random() % 8];  // exactly on a threshold
    else x = std::uniform_real_distribution<double>(-3, 4)(random);
  }
  return out;
}

enum class Shape { kBushy, kShallow, kLeafWise };

// Bushy: depths 0-8; shallow: 0-6; leaf-wise: lopsided, up to 18 levels. `groups` output
// groups, trees taking them in turn.
inline floresta::ModelSpec random_forest(floresta::DecisionRule rule, int features, int trees, unsigned seed,
                                  Shape shape = Shape::kBushy, int groups = 1) {
  std::mt19937 random(seed);
  floresta::ModelSpec spec;
  spec.source = "generated";
  spec.rule = rule;
  spec.num_features = features;
  spec.num_outputs = groups;
  spec.base_margin.assign(static_cast<std::size_t>(groups), 0.5);
  spec.schema.features.resize(static_cast<std::size_t>(features));
  for (int f = 0; f < features; ++f) spec.schema.features[static_cast<std::size_t>(f)].name = "f" + std::to_string(f);
  const bool zero_missing = rule == floresta::DecisionRule::kLightGBM;
  for (int t = 0; t < trees; ++t) {
    floresta::TreeSpec tree;
    if (shape == Shape::kLeafWise) grow_lopsided(tree, random, 18, features, zero_missing);
    else grow(tree, random, static_cast<int>(random() % (shape == Shape::kShallow ? 7 : 9)), features, zero_missing);
    tree.output_group = t % groups;
    spec.trees.push_back(std::move(tree));
  }
  return spec;
}

// Categorical forests: feature 0 is categorical, each split listing a random subset of
// codes below `levels` and knowing `levels` codes, or just past its largest listed code, or
// fewer (a quarter of the trees leave category_bits empty: 32 codes per word of a set); the
// other features are numeric on the grid, and a few numeric splits read feature 0 too (a
// feature binned twice). Trees of depth 0-8, `groups` output groups.
// Makes node i a categorical split on feature 0: a random subset of codes below `levels`
// listed, the split knowing `levels` codes, or just past its largest listed code, or fewer.
inline void categorical_split(floresta::TreeSpec& tree, std::size_t i, std::mt19937& random, uint32_t levels) {
  tree.is_categorical[i] = 1;
  tree.split_feature[i] = 0;
  const uint32_t top = 1 + static_cast<uint32_t>(random() % levels);
  const unsigned density = random() % 9;  // none listed to all listed
  std::vector<int64_t> codes;
  for (uint32_t c = 0; c < top; ++c)
    if (random() % 8 < density) codes.push_back(c);
  floresta::append_category_set(tree.category_words, codes.data(), codes.size());
  const uint32_t known[] = {levels, top, top / 2};
  tree.category_bits[i] = known[random() % 3];
}

inline void grow_categorical(floresta::TreeSpec& tree, std::mt19937& random, int depth, int features, uint32_t levels) {
  const auto i = tree.left_children.size();
  push_leaf(tree, std::uniform_real_distribution<double>(-1, 1)(random));
  tree.category_offsets.push_back(static_cast<uint32_t>(tree.category_words.size()));  // node i's set starts here
  tree.category_bits.push_back(0);
  if (depth == 0 || random() % 8 == 0) return;
  tree.default_left[i] = static_cast<uint8_t>(random() % 2);
  if (random() % 2 == 0) {
    categorical_split(tree, i, random, levels);
  } else {
    tree.split_feature[i] = static_cast<int32_t>(random() % 10 == 0 ? 0 : 1 + random() % static_cast<unsigned>(features - 1));
    tree.threshold[i] = tree.split_feature[i] == 0 ? 0.5 * static_cast<double>(random() % (2 * levels)) : kGrid[random() % 8];
  }
  const auto left = static_cast<int32_t>(tree.left_children.size());
  grow_categorical(tree, random, depth - 1, features, levels);
  tree.left_children[i] = left;
  const auto right = static_cast<int32_t>(tree.left_children.size());
  grow_categorical(tree, random, depth - 1, features, levels);
  tree.right_children[i] = right;
}

inline floresta::ModelSpec random_categorical_forest(floresta::DecisionRule rule, int features, int trees, unsigned seed,
                                                     uint32_t levels, int groups = 1) {
  floresta::ModelSpec spec = random_forest(rule, features, 0, seed, Shape::kBushy, groups);
  std::mt19937 random(seed);
  for (int t = 0; t < trees; ++t) {
    floresta::TreeSpec tree;
    grow_categorical(tree, random, static_cast<int>(random() % 9), features, levels);
    tree.category_offsets.push_back(static_cast<uint32_t>(tree.category_words.size()));
    if (random() % 4 == 0) tree.category_bits.clear();
    tree.output_group = t % groups;
    spec.trees.push_back(std::move(tree));
  }
  return spec;
}

// Rows for random_categorical_forest: feature 0 takes codes below and past `levels`, NaN,
// negative codes, fractions, -0.0, 2^24 and past it, 2^31, infinities; the others as
// random_rows.
inline std::vector<double> random_categorical_rows(std::size_t rows, int features, uint32_t levels, unsigned seed) {
  std::vector<double> out = random_rows(rows, features, seed);
  std::mt19937 random(seed + 1);
  const double odd[] = {NAN, -1.0, -0.5, -0.0, 0.0, 0.5, 2.75, -3.0, 16777215.0, 16777216.0, 16777217.0, 2147483648.0,
                        4294967296.0, 1e30, -1e30, INFINITY, -INFINITY, static_cast<double>(levels), levels + 0.5,
                        static_cast<double>(levels + 40)};
  for (std::size_t r = 0; r < rows; ++r) {
    double& x = out[r * static_cast<std::size_t>(features)];
    if (random() % 4 == 0) x = odd[random() % (sizeof(odd) / sizeof(odd[0]))];
    else x = static_cast<double>(random() % levels) + (random() % 8 == 0 ? 0.25 : 0.0);
  }
  return out;
}

// Forests whose every tree has exactly `leaves` leaves (a random shape: a leaf split at random
// until there are that many; chain: always the newest leaf, so that paths are long), numeric
// splits on the grid, or with `levels` > 0 feature 0 categorical as in
// random_categorical_forest (half the splits; categorical rules only). `groups` output
// groups, trees taking them in turn.
inline floresta::ModelSpec random_forest_of_leaves(floresta::DecisionRule rule, int features, int trees, unsigned seed,
                                                   int leaves, int groups = 1, uint32_t levels = 0, bool chain = false) {
  floresta::ModelSpec spec = random_forest(rule, features, 0, seed, Shape::kBushy, groups);
  std::mt19937 random(seed);
  const bool zero_missing = rule == floresta::DecisionRule::kLightGBM;
  for (int t = 0; t < trees; ++t) {
    // The shape: children of each node (-1: a leaf).
    std::vector<std::pair<int, int>> shape(1, {-1, -1});
    std::vector<int> open(1, 0);
    while (static_cast<int>(open.size()) < leaves) {
      const std::size_t pick = chain ? open.size() - 1 : random() % open.size();
      const int node = open[pick];
      const int left = static_cast<int>(shape.size()), right = left + 1;
      shape.push_back({-1, -1});
      shape.push_back({-1, -1});
      shape[static_cast<std::size_t>(node)] = {left, right};
      open[pick] = left;
      open.push_back(right);
    }
    // Emitted in pre-order, a split's attributes drawn as it is emitted.
    floresta::TreeSpec tree;
    std::function<int32_t(int)> emit = [&](int node) -> int32_t {
      const auto i = tree.left_children.size();
      push_leaf(tree, std::uniform_real_distribution<double>(-1, 1)(random));
      if (levels > 0) {
        tree.category_offsets.push_back(static_cast<uint32_t>(tree.category_words.size()));
        tree.category_bits.push_back(0);
      }
      const auto [left, right] = shape[static_cast<std::size_t>(node)];
      if (left < 0) return static_cast<int32_t>(i);
      tree.default_left[i] = static_cast<uint8_t>(random() % 2);
      if (levels > 0 && random() % 2 == 0) {
        categorical_split(tree, i, random, levels);
      } else {
        tree.split_feature[i] = static_cast<int32_t>(levels > 0 ? 1 + random() % static_cast<unsigned>(features - 1)
                                                                : random() % static_cast<unsigned>(features));
        tree.threshold[i] = kGrid[random() % 8];
        tree.zero_is_missing[i] = static_cast<uint8_t>(zero_missing && random() % 4 == 0);
      }
      const int32_t l = emit(left);
      tree.left_children[i] = l;
      const int32_t r = emit(right);
      tree.right_children[i] = r;
      return static_cast<int32_t>(i);
    };
    emit(0);
    if (levels > 0) tree.category_offsets.push_back(static_cast<uint32_t>(tree.category_words.size()));
    tree.output_group = t % groups;
    spec.trees.push_back(std::move(tree));
  }
  return spec;
}

}  // namespace floresta::test
