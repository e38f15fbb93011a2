// Big forests compile on several threads, in parts joined afterwards: every part's offsets
// into the shared buffers (category sets, leaf vectors, linear terms) must move with it.
// Each tree below differs from the others in those buffers, and the expected outputs are
// computed here from the trees' definition, for 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "floresta/floresta.hpp"

namespace {

constexpr int kTrees = 300;  // parts of at least 64 trees: up to four

// A root split on `feature` with two leaves (nodes 1 and 2).
floresta::TreeSpec stump(int feature, double threshold, double left, double right) {
  floresta::TreeSpec tree;
  tree.left_children = {1, -1, -1};
  tree.right_children = {2, -1, -1};
  tree.split_feature = {feature, 0, 0};
  tree.threshold = {threshold, 0, 0};
  tree.leaf_value = {0, left, right};
  tree.default_left = {1, 0, 0};
  tree.is_categorical = {0, 0, 0};
  return tree;
}

floresta::ModelSpec spec_of(int outputs) {
  floresta::ModelSpec spec;
  spec.source = "generated";
  spec.rule = floresta::DecisionRule::kLightGBM;
  spec.num_features = 2;
  spec.num_outputs = outputs;
  spec.base_margin.assign(static_cast<std::size_t>(outputs), 0.0);
  spec.schema.features.resize(2);
  spec.schema.features[0].name = "a";
  spec.schema.features[1].name = "b";
  return spec;
}

std::vector<double> rows() {
  std::vector<double> out;
  for (int code = 0; code < 40; ++code) out.insert(out.end(), {static_cast<double>(code), 0.25 * code - 3});
  out.insert(out.end(), {NAN, NAN});
  return out;
}

template <class Expected>
void expect_outputs(const floresta::ModelSpec& spec, Expected expected) {
  const auto X = rows();
  const std::size_t n = X.size() / 2;
  for (const int threads : {1, 2, 3}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    const floresta::Model model = floresta::compile(spec, options);
    const auto out = model.predict_raw(X.data(), n, 2);
    const std::size_t width = out.size() / n;
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t g = 0; g < width; ++g)
        ASSERT_NEAR(out[r * width + g], expected(X[2 * r], X[2 * r + 1], g), 1e-9)
            << threads << " threads, row " << r << ", output " << g;
  }
}

TEST(CompileParts, CategorySetsMoveWithTheirTrees) {
  floresta::ModelSpec spec = spec_of(1);
  for (int t = 0; t < kTrees; ++t) {
    floresta::TreeSpec tree = stump(0, 0, t, -t);
    tree.is_categorical[0] = 1;
    tree.default_left[0] = 0;  // NaN and codes past the set go right, as unlisted ones do
    const int64_t codes[] = {t % 37, (7 * t) % 37};  // listed codes go left (LightGBM)
    tree.category_offsets = {0, 0, 0, 0};
    ASSERT_TRUE(floresta::append_category_set(tree.category_words, codes, 2));
    tree.category_offsets[1] = tree.category_offsets[2] = tree.category_offsets[3] =
        static_cast<uint32_t>(tree.category_words.size());
    spec.trees.push_back(tree);
  }
  expect_outputs(spec, [](double a, double, std::size_t) {
    double sum = 0;
    for (int t = 0; t < kTrees; ++t) {
      const bool listed = !std::isnan(a) && (static_cast<int>(a) == t % 37 || static_cast<int>(a) == (7 * t) % 37);
      sum += listed ? t : -t;
    }
    return sum;
  });
}

TEST(CompileParts, LeafVectorsMoveWithTheirTrees) {
  floresta::ModelSpec spec = spec_of(3);
  spec.leaf_width = 3;
  for (int t = 0; t < kTrees; ++t) {
    floresta::TreeSpec tree = stump(1, 0.01 * t - 1.5, 0, 0);
    tree.leaf_vector = {0, 0, 0, 1.0 * t, 2.0 * t, 3.0 * t, -1.0 * t, -2.0 * t, -3.0 * t};
    spec.trees.push_back(tree);
  }
  expect_outputs(spec, [](double, double b, std::size_t g) {
    double sum = 0;
    for (int t = 0; t < kTrees; ++t) {
      const bool left = std::isnan(b) || b <= 0.01 * t - 1.5;
      sum += (left ? 1.0 : -1.0) * static_cast<double>(g + 1) * t;
    }
    return sum;
  });
}

TEST(CompileParts, LinearTermsMoveWithTheirTrees) {
  floresta::ModelSpec spec = spec_of(1);
  for (int t = 0; t < kTrees; ++t) {
    floresta::TreeSpec tree = stump(0, 20, -100, 100);
    tree.linear_offsets = {0, 0, 1, 1};  // the left leaf: t + (t / 8) * b; the right one constant
    tree.linear_features = {1};
    tree.linear_coeffs = {t / 8.0};
    tree.linear_const = {0, 1.0 * t, 2.0 * t};
    spec.trees.push_back(tree);
  }
  expect_outputs(spec, [](double a, double b, std::size_t) {
    double sum = 0;
    for (int t = 0; t < kTrees; ++t) {
      const bool left = std::isnan(a) || a <= 20;
      if (!left) sum += 2.0 * t;
      else if (std::isnan(b)) sum += -100;  // a linear leaf with a missing input: its leaf value
      else sum += t + t / 8.0 * b;
    }
    return sum;
  });
}

}  // namespace
