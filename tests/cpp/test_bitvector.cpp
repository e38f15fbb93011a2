// The bitvector plan (src/engine/bitvector.hpp, plans/bitvector.hpp): which forests it takes
// (every tree at most 64 leaves, quantized), and bit-identical outputs to the portable
// kernel's value walk with every kernel this CPU runs, on trees at the edges of its words
// (32 and 33 leaves: one 32-bit word or two; 64), numeric and categorical splits, one and
// several output groups, every decision rule, rows that miss every value, single rows (on
// AVX-512, AVX2 and SSE4, and the portable kernel on 64-bit ARM, their single-row layouts
// where the cost model takes them, and the quantized row walk where not), batches of one group of sixteen rows, a group and one row, and passes of every
// size.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "compile/stages.hpp"
#include "engine/kernel.hpp"
#include "engine/plan.hpp"
#include "floresta/floresta.hpp"
#include "generated_forests.hpp"

namespace {

using floresta::DecisionRule;

floresta::LoadOptions options(const std::string& kernel, const std::string& plan) {
  floresta::LoadOptions out;
  out.kernel = kernel;
  out.plan = plan;
  return out;
}

template <class In>
std::vector<double> raw(const floresta::Model& model, const std::vector<In>& X, std::size_t rows) {
  std::vector<double> out(rows * model.output_width(floresta::OutputKind::kRaw));
  model.score(floresta::OutputKind::kRaw, floresta::MatrixView<In>::row_major(X.data(), rows, model.num_features()), out.data());
  return out;
}

::testing::AssertionResult identical(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " values against " << b.size();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(double)) != 0)
      return ::testing::AssertionFailure() << "value " << i << ": " << a[i] << " against " << b[i];
  return ::testing::AssertionSuccess();
}

// Rows of X, then `missing` rows of NaN only.
std::vector<double> with_missing_rows(std::vector<double> X, int features, std::size_t missing) {
  X.insert(X.end(), missing * static_cast<std::size_t>(features), NAN);
  return X;
}

// The bitvector plan with every kernel against the portable value walk, double and float
// rows, for each row count (a prefix of X).
void expect_agrees(const floresta::ModelSpec& spec, const std::vector<double>& X, const std::string& what) {
  const floresta::Model reference = floresta::compile(spec, options("portable", "value_walk"));
  const std::size_t all = X.size() / static_cast<std::size_t>(spec.num_features);
  for (const std::string& kernel : floresta::available_kernels()) {
    const floresta::Model model = floresta::compile(spec, options(kernel, "bitvector"));
    ASSERT_EQ(model.plan(), "bitvector") << what;
    for (const std::size_t rows : {std::size_t{1}, std::size_t{16}, std::size_t{17}, std::size_t{100}, all}) {
      const std::vector<double> x(X.begin(), X.begin() + static_cast<std::ptrdiff_t>(rows * spec.num_features));
      const std::vector<float> x32(x.begin(), x.end());
      EXPECT_TRUE(identical(raw(model, x, rows), raw(reference, x, rows))) << what << ", " << kernel << ", " << rows << " rows";
      EXPECT_TRUE(identical(raw(model, x32, rows), raw(reference, x32, rows)))
          << what << ", " << kernel << ", " << rows << " float rows";
    }
  }
}

// Every row of X scored alone (the single-row paths: Isa::bitvector_row where the forest took
// the kernel's single-row layout) against the portable value walk, with every kernel.
void expect_single_rows_agree(const floresta::ModelSpec& spec, const std::vector<double>& X, const std::string& what) {
  const floresta::Model reference = floresta::compile(spec, options("portable", "value_walk"));
  const auto n = static_cast<std::size_t>(spec.num_features);
  for (const std::string& kernel : floresta::available_kernels()) {
    const floresta::Model model = floresta::compile(spec, options(kernel, "bitvector"));
    for (std::size_t r = 0; r < X.size() / n; ++r) {
      const std::vector<double> x(X.begin() + static_cast<std::ptrdiff_t>(r * n), X.begin() + static_cast<std::ptrdiff_t>((r + 1) * n));
      const std::vector<float> x32(x.begin(), x.end());
      ASSERT_TRUE(identical(raw(model, x, 1), raw(reference, x, 1))) << what << ", " << kernel << ", row " << r;
      ASSERT_TRUE(identical(raw(model, x32, 1), raw(reference, x32, 1))) << what << ", " << kernel << ", float row " << r;
    }
  }
}

TEST(Bitvector, TakesForestsOfTreesOfAtMost64Leaves) {
  for (const int leaves : {1, 2, 31, 32, 33, 63, 64}) {
    const auto spec = floresta::test::random_forest_of_leaves(DecisionRule::kXGBoost, 6, 5, 3u + leaves, leaves);
    EXPECT_EQ(floresta::compile(spec, options("auto", "bitvector")).plan(), "bitvector") << leaves << " leaves";
  }
  // One tree of 65 leaves among trees of 2: the forest keeps the walks.
  auto spec = floresta::test::random_forest_of_leaves(DecisionRule::kXGBoost, 6, 5, 9u, 2);
  spec.trees.push_back(floresta::test::random_forest_of_leaves(DecisionRule::kXGBoost, 6, 1, 10u, 65).trees[0]);
  try {
    floresta::compile(spec, options("auto", "bitvector"));
    ADD_FAILURE() << "a tree of 65 leaves was taken";
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("plan 'bitvector' (LoadOptions::plan) cannot score this model; it can take quantized"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NE(floresta::compile(spec).plan(), "bitvector");
  // Not quantized: nothing to build the bitvectors from.
  floresta::LoadOptions unquantized;
  unquantized.quantize = false;
  unquantized.plan = "bitvector";
  EXPECT_THROW(floresta::compile(floresta::test::random_forest_of_leaves(DecisionRule::kXGBoost, 6, 5, 9u, 8), unquantized),
               floresta::Error);
}

// The choice for batches (plan.cpp, bitvector_preferred): the cost rule, except that AVX-512
// on Zen 5 always takes wide forests (trees of 33-64 leaves; measured).
TEST(Bitvector, ThePlanForBatchesFollowsTheKernel) {
  using floresta::detail::bitvector_preferred;
  const floresta::detail::BitvectorCost cheap{1, 0, 100}, dear{1, 100, 1};
  for (const bool zen5 : {false, true}) {
    for (const std::string kernel : {"avx512", "avx2", "portable"}) {
      EXPECT_TRUE(bitvector_preferred(cheap, false, kernel, zen5)) << kernel;
      EXPECT_FALSE(bitvector_preferred(dear, false, kernel, zen5)) << kernel;
      EXPECT_TRUE(bitvector_preferred(cheap, true, kernel, zen5)) << kernel;
    }
    EXPECT_EQ(bitvector_preferred(dear, true, "avx512", zen5), zen5);
    EXPECT_FALSE(bitvector_preferred(dear, true, "avx2", zen5));
    EXPECT_FALSE(bitvector_preferred(dear, true, "portable", zen5));
  }
  // Compiled forests: many small trees take the bitvectors with every kernel, and their words
  // are the kernel's (16 bits portable, else 32).
  const auto small = floresta::test::random_forest_of_leaves(DecisionRule::kLightGBM, 8, 200, 21u, 4);
  for (const std::string& kernel : floresta::available_kernels()) {
    EXPECT_EQ(floresta::compile(small, options(kernel, "auto")).plan(), "bitvector") << kernel;
  }
}

// The words of a tree (engine/bitvector.hpp): 64 leaves are four 16-bit words for the portable
// kernel, two 32-bit ones for the others, 33 leaves three or two, 32 two or one.
TEST(Bitvector, ATreeIsAsManyWordsAsTheKernelsWidthNeeds) {
  using floresta::detail::Forest;
  using floresta::detail::XGBoostRule;
  for (const auto& [leaves, bits, parts] : {std::tuple{64, 16u, 4u}, {64, 32u, 2u}, {33, 16u, 3u}, {33, 32u, 2u},
                                            {32, 16u, 2u}, {32, 32u, 1u}, {16, 16u, 1u}}) {
    const auto spec = floresta::test::random_forest_of_leaves(DecisionRule::kXGBoost, 6, 3, 50u + leaves, leaves);
    const Forest<XGBoostRule> forest = floresta::detail::compile_forest<XGBoostRule>(spec, floresta::LoadOptions{}, bits);
    EXPECT_EQ(forest.bitvector.parts, parts) << leaves << " leaves, " << bits << "-bit words";
    EXPECT_EQ(forest.bitvector.split_begin.size(), 3 * parts + 1) << leaves << " leaves, " << bits << "-bit words";
    // Every split clears some leaf of each word it is listed for, and only leaves of the tree.
    for (std::size_t t = 0; t < 3; ++t)
      for (std::size_t p = 0; p < parts; ++p)
        for (uint32_t s = forest.bitvector.split_begin[t * parts + p]; s < forest.bitvector.split_begin[t * parts + p + 1]; ++s) {
          const uint32_t cleared = forest.bitvector.splits[s].cleared;
          EXPECT_NE(cleared, 0u);
          const uint64_t leaves_of_word = std::min<uint64_t>(bits, static_cast<uint64_t>(leaves) - p * bits);
          EXPECT_EQ(uint64_t{cleared} >> leaves_of_word, 0u) << "tree " << t << " word " << p;
        }
  }
}

TEST(Bitvector, AgreesWithTheValueWalkOnNumericForests) {
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM, DecisionRule::kSkLearnHist, DecisionRule::kSkLearnTree})
    for (const int leaves : {2, 32, 33, 64})
      for (const int groups : {1, 3}) {
        const int features = leaves == 33 ? 40 : 7;
        const auto seed = static_cast<unsigned>(leaves + 10 * groups + 100 * static_cast<int>(rule));
        const auto spec = floresta::test::random_forest_of_leaves(rule, features, 45, seed, leaves, groups);
        const auto X = with_missing_rows(floresta::test::random_rows(300, features, seed), features, 20);
        expect_agrees(spec, X,
                      "rule " + std::to_string(static_cast<int>(rule)) + ", " + std::to_string(leaves) + " leaves, " +
                          std::to_string(groups) + " groups");
      }
}

// A wide forest's small trees: their exit leaves always in the low word, the high one unused.
TEST(Bitvector, AgreesWithTheValueWalkOnWideForestsOfTreesOfEverySize) {
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM}) {
    const int features = 7;
    auto spec = floresta::test::random_forest_of_leaves(rule, features, 20, 31u, 3);
    for (const int leaves : {64, 1, 33, 32, 17})
      spec.trees.push_back(floresta::test::random_forest_of_leaves(rule, features, 1, 40u + leaves, leaves).trees[0]);
    const auto X = with_missing_rows(floresta::test::random_rows(300, features, 32u), features, 20);
    expect_agrees(spec, X, "trees of 1-64 leaves, rule " + std::to_string(static_cast<int>(rule)));
  }
}

// Long paths (chains of splits): the quantized row walk's cost makes single rows take the
// bitvector's own single-row layouts (AVX-512, AVX2) for 64-bit words too (Bitvector::row_preferred),
// and batches' wide trees list the splits whose left subtree holds leaves 31 and 32 for both
// of their words.
TEST(Bitvector, AgreesWithTheValueWalkOnForestsOfLongPaths) {
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM})
    for (const int leaves : {33, 64}) {
      const int features = 9;
      const auto seed = static_cast<unsigned>(leaves + 100 * static_cast<int>(rule));
      const auto spec = floresta::test::random_forest_of_leaves(rule, features, 40, seed, leaves, 1, 0, true);
      const auto X = with_missing_rows(floresta::test::random_rows(300, features, seed), features, 20);
      expect_agrees(spec, X, "chains, rule " + std::to_string(static_cast<int>(rule)) + ", " + std::to_string(leaves) + " leaves");
    }
}

// What compile builds for spec (XGBoost or LightGBM rule) with the single-row layout `rows`
// for a kernel of `word_bits`-bit batch words: whether it takes the layout, the layout built,
// the forest's bin columns, and the layout's 32-bit words a tree.
struct RowLayout {
  bool preferred;
  floresta::detail::BitvectorRows rows;
  uint32_t width;
  uint32_t row_parts;
};
RowLayout row_layout(const floresta::ModelSpec& spec, floresta::detail::BitvectorRows rows, uint32_t word_bits = 32) {
  const auto of = [](const auto& forest) {
    return RowLayout{forest.bitvector.row_preferred, forest.bitvector.rows, forest.quantized.width, forest.bitvector.row_parts};
  };
  using floresta::detail::compile_forest;
  if (spec.rule == DecisionRule::kLightGBM)
    return of(compile_forest<floresta::detail::LightGBMRule>(spec, floresta::LoadOptions{}, word_bits, rows));
  return of(compile_forest<floresta::detail::XGBoostRule>(spec, floresta::LoadOptions{}, word_bits, rows));
}

// The layouts every unit builds: AVX-512's pairs and AVX2's byte entries on 32-bit batch
// words, and the byte entries on 16-bit ones (the portable batch steps' words, cut again for
// the layout: the sse4 kernel, and the portable one on 64-bit ARM).
const std::vector<std::pair<floresta::detail::BitvectorRows, uint32_t>> kRowLayouts = {
    {floresta::detail::BitvectorRows::kPairs, 32},
    {floresta::detail::BitvectorRows::kBytes, 32},
    {floresta::detail::BitvectorRows::kBytes, 16}};

// Each kernel reads the single-row layout of its own unit (Kernel::bitvector_rows, from
// Isa::kBitvectorRows), which compile() builds for it: AVX-512 the pairs, AVX2 and SSE4 the
// byte entries, as the portable kernel does on 64-bit ARM (NEON), and none portable on x86
// (SSE2 has no byte shuffle).
TEST(Bitvector, EachKernelTakesTheSingleRowLayoutOfItsUnit) {
  using floresta::detail::BitvectorRows;
#if defined(__aarch64__)
  const BitvectorRows portable = BitvectorRows::kBytes;
#else
  const BitvectorRows portable = BitvectorRows::kNone;
#endif
  const std::map<std::string, BitvectorRows> expected = {{"avx512", BitvectorRows::kPairs},
                                                         {"avx2", BitvectorRows::kBytes},
                                                         {"sse4", BitvectorRows::kBytes},
                                                         {"portable", portable}};
  for (const std::string& kernel : floresta::available_kernels())
    EXPECT_EQ(floresta::detail::choose_kernel(kernel, "test").bitvector_rows, expected.at(kernel)) << kernel;
}

// The single-row layouts (Bitvector::rows) built for the kernels' own units: the byte entries
// (AVX2, and 128-bit halves with SSE4 or NEON) look a split's bin up among the row's first bin
// columns as bytes, in tables of sixteen binned features (two bin columns each, the leaves'
// one more; the sixteen split on most first), one table for forests of up to 16 binned
// features and two up to 31; for rows with a missing value a split of a second column
// (missing goes right) compares the bin less one with its bound less one, so that a missing
// value's 0 wraps to 255. Forests of 5, 16, 17 and 31 binned features
// (XGBoost; LightGBM 6, 12, 20 and 30: its zero-as-missing splits bin a feature twice), rows
// with missing values and the same rows without: each forest takes each layout, and single
// rows agree with the value walk with every kernel.
TEST(Bitvector, SingleRowsAgreeWithTheValueWalkWithOneOrTwoTablesOfBins) {
  for (const auto& [rule, features] : {std::pair{DecisionRule::kXGBoost, std::vector{5, 16, 17, 31}},
                                       std::pair{DecisionRule::kLightGBM, std::vector{3, 6, 10, 15}}})
    for (std::size_t k = 0; k < features.size(); ++k) {
      const int n = features[k];
      const auto seed = static_cast<unsigned>(n + 50 * static_cast<int>(rule));
      const auto spec = floresta::test::random_forest_of_leaves(rule, n, 70, seed, 24);
      const std::string what = std::to_string(n) + " features, rule " + std::to_string(static_cast<int>(rule));
      for (const auto& [rows, word_bits] : kRowLayouts) {
        const RowLayout built = row_layout(spec, rows, word_bits);
        EXPECT_TRUE(built.preferred) << what << ", " << word_bits;
        EXPECT_EQ(built.rows, rows) << what << ", " << word_bits;
        EXPECT_EQ((built.width - 1) / 2 > 16, k >= 2) << what << ": binned features " << (built.width - 1) / 2;
      }
      auto X = floresta::test::random_rows(150, n, seed);
      const std::size_t with_missing = X.size();
      for (std::size_t i = 0; i < with_missing; ++i) X.push_back(std::isnan(X[i]) || X[i] == 0.0 ? 1.25 : X[i]);
      X = with_missing_rows(X, n, 5);
      expect_agrees(spec, X, "single rows, " + what);
      expect_single_rows_agree(spec, X, what);
    }
}

// The byte entries hold bins as bytes: a feature of up to kBitvectorByteThresholds (254)
// thresholds has bins 0 .. 255, a missing value's 0xFFFF read as 255; a forest with a feature
// of 255 thresholds keeps the quantized row walk there (AVX-512's pairs take it). Rows on,
// just left and just right of every threshold, beyond both ends, and missing. (No split
// treats zero as missing: LightGBM would bin the feature twice, its thresholds shared.)
TEST(Bitvector, SingleRowsOnByteBinsTakeFeaturesOfAtMost254Thresholds) {
  using floresta::detail::BitvectorRows;
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM})
    for (const uint32_t thresholds : {floresta::detail::kBitvectorByteThresholds, floresta::detail::kBitvectorByteThresholds + 1}) {
      const int features = 2;
      auto spec = floresta::test::random_forest_of_leaves(rule, features, 60, 7u + thresholds, 16);
      // The splits on feature 0 take each of `thresholds` values in turn, then the largest (its
      // bound the largest byte): rows right of every threshold read it often.
      uint32_t next = 0;
      for (auto& tree : spec.trees)
        for (std::size_t i = 0; i < tree.left_children.size(); ++i)
          if (tree.left_children[i] >= 0 && tree.split_feature[i] == 0) {
            tree.threshold[i] = -1.0 + 0.01 * static_cast<double>(std::min(next++, thresholds - 1));
            if (!tree.zero_is_missing.empty()) tree.zero_is_missing[i] = 0;
          }
      ASSERT_GE(next, thresholds + 20);
      const bool fits = thresholds <= floresta::detail::kBitvectorByteThresholds;
      const RowLayout pairs = row_layout(spec, BitvectorRows::kPairs);
      for (const auto& [layout, word_bits] : {std::pair{BitvectorRows::kBytes, 32u}, std::pair{BitvectorRows::kBytes, 16u}}) {
        const RowLayout bytes = row_layout(spec, layout, word_bits);
        EXPECT_EQ(bytes.preferred, fits) << thresholds << ", " << word_bits;
        EXPECT_EQ(bytes.rows, fits ? layout : BitvectorRows::kNone) << thresholds << ", " << word_bits;
      }
      EXPECT_TRUE(pairs.preferred) << thresholds;
      EXPECT_EQ(pairs.rows, BitvectorRows::kPairs) << thresholds;
      std::vector<double> X;
      for (uint32_t k = 0; k < thresholds; ++k)
        for (const double offset : {-0.004, 0.0, 0.004}) X.insert(X.end(), {-1.0 + 0.01 * k + offset, 0.5});
      for (const double x : {-1e30, 1e30, -HUGE_VAL, HUGE_VAL, 0.0, std::nan("")}) X.insert(X.end(), {x, NAN});
      for (const double x : {1e30, 5.0}) X.insert(X.end(), 20 * features, x);  // right of every threshold
      const std::string what = std::to_string(thresholds) + " thresholds, rule " + std::to_string(static_cast<int>(rule));
      expect_agrees(spec, X, what);
      expect_single_rows_agree(spec, X, what);
    }
}

// Trees of 33-64 leaves are two words in the single-row layouts: a row's exit leaf is in the
// low word if any of its leaves is left there, else in the high one. Chains of splits whose
// right child is a leaf (the chain goes on left) number the leaves from the deepest up, so
// the rows that go right early exit in the high word; their long paths make the cost model
// take the layouts.
TEST(Bitvector, SingleRowsFindExitLeavesInEitherWordOfWideTrees) {
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM})
    for (const int leaves : {40, 64}) {
      const int features = 6;
      const auto seed = static_cast<unsigned>(leaves + 3 * static_cast<int>(rule));
      auto spec = floresta::test::random_forest_of_leaves(rule, features, 30, seed, leaves, 1, 0, true);
      for (auto& tree : spec.trees) std::swap(tree.left_children, tree.right_children);
      const std::string what = std::to_string(leaves) + " leaves, rule " + std::to_string(static_cast<int>(rule));
      for (const auto& [rows, word_bits] : kRowLayouts) {
        const RowLayout built = row_layout(spec, rows, word_bits);
        EXPECT_TRUE(built.preferred) << what << ", " << word_bits;
        EXPECT_EQ(built.rows, rows) << what << ", " << word_bits;
        EXPECT_EQ(built.row_parts, 2u) << what << ", " << word_bits;
      }
      const auto X = with_missing_rows(floresta::test::random_rows(300, features, seed), features, 5);
      expect_agrees(spec, X, "left chains, " + what);
      expect_single_rows_agree(spec, X, "left chains, " + what);
    }
}

// Sets of one 32-bit word (20 levels), of two (40), of sixteen (300) and more (1000): the set
// read into a register and its words permuted (AVX2 up to eight words, AVX-512 sixteen), or
// gathered.
TEST(Bitvector, AgreesWithTheValueWalkOnCategoricalForests) {
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM, DecisionRule::kSkLearnHist})
    for (const uint32_t levels : {20u, 40u, 300u, 1000u})
      for (const int leaves : {20, 64}) {
        const int features = 8, groups = levels == 1000 ? 4 : 1;
        const auto seed = static_cast<unsigned>(levels + leaves + 7 * static_cast<int>(rule));
        const auto spec = floresta::test::random_forest_of_leaves(rule, features, 40, seed, leaves, groups, levels);
        const auto X = with_missing_rows(floresta::test::random_categorical_rows(300, features, levels, seed), features, 20);
        expect_agrees(spec, X,
                      "categorical, rule " + std::to_string(static_cast<int>(rule)) + ", " + std::to_string(levels) +
                          " levels, " + std::to_string(leaves) + " leaves");
      }
}

}  // namespace
