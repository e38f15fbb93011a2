// src/limits.hpp — the limits loaders and compile() hold a model to. Internal: the public
// ModelSpec names only kMaxCategory (spec.hpp), the range append_category_set() accepts.
#pragma once

#include <cstddef>
#include <cstdint>

namespace floresta::detail {

// Output groups (classes, targets) a model may declare.
constexpr int64_t kMaxOutputs = 1000000;

// Declared sizes are claims, not orders: the loaders check every count a file declares
// against what the file holds before anything is sized from it (README, "Errors"). Counts
// that need no bytes of their own get these limits, which keep a load's memory proportional
// to the file:
//
// Features a file may declare without naming them (XGBoost without feature_names or
// feature_types, LightGBM without feature_names): at most max(kMaxUnnamedFeatures, one per
// byte of the file).
constexpr int64_t kMaxUnnamedFeatures = 65536;
// Output groups a file may declare without holding a tree (gblinear: a weight column, XGBoost
// 3.1+: a base_score value) for each: kMaxUnbackedOutputs; never more than kMaxOutputs.
constexpr int64_t kMaxUnbackedOutputs = 65536;
// Bitset words the categorical splits of one file may take together, once compiled (one
// 32-bit word per 32 codes up to the largest code listed or declared, plus one per split):
// at most max(kFreeCategoryWords, kCategoryWordsPerByte per byte of the file), and never
// more than kMaxCategoryWords (256 MiB: the compiled forest's own limit, whatever built the
// spec).
constexpr int64_t kFreeCategoryWords = int64_t(1) << 20;
constexpr int64_t kCategoryWordsPerByte = 4;
constexpr std::size_t kMaxCategoryWords = std::size_t(1) << 26;

}  // namespace floresta::detail
