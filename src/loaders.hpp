// src/loaders.hpp — one function per model format, all alike: a LoaderInput in, a
// ModelSpec out. Loaders never include each other's files; load.cpp detects the format and
// calls one of them (load_floresta_json calls the XGBoost and LightGBM text loaders for an
// embedded estimator).
//
// Declared sizes are claims, not orders: a count a file declares (nodes, leaves, trees,
// features, classes, categories, array lengths) is compared with what the file holds before
// anything is sized from it; counts that need no bytes of their own are held to the limits
// in limits.hpp, computed here from the size of the file (LoaderInput::file_bytes).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "floresta/spec.hpp"
#include "json_document.hpp"
#include "limits.hpp"

namespace floresta::detail {

// What a loader reads. The JSON formats read `document`, which format detection has parsed
// from `bytes` already (a loader never parses the same bytes twice); the LightGBM text
// loader reads `bytes`.
struct LoaderInput {
  std::string_view bytes;          // the model file (an embedded LightGBM model: its text)
  const Json* document = nullptr;  // the JSON formats: the document parsed from the file
  JsonEncoding encoding = JsonEncoding::kText;  // how it was written (XGBoost: "xgboost-json" or "-ubjson")
  std::string source;              // the file name (or "<memory>") for messages
  // The size the limits on declared counts are computed from: the whole file, also for an
  // embedded XGBoost document; an embedded LightGBM text is held to its own size.
  std::size_t file_bytes = 0;
  int threads = 1;  // threads that read the trees (LoadOptions::n_threads)
};

// XGBoost Booster.save_model JSON or UBJSON.
ModelSpec load_xgboost(const LoaderInput& input);
// XGBoost 1.6-2.1 wrote bare NaN tokens, which the strict parser refuses: for text bytes
// that hold them, the XGBoost document they read as when the tokens are taken as numbers;
// nothing when they do not (the strict parser's error then stands). Only XGBoost documents
// may have them, so every other document keeps the strict error.
std::optional<Json> parse_xgboost_nan_tokens(std::string_view bytes, JsonEncoding encoding, const std::string& source);

// LightGBM's text model file (save_model / model_to_string).
ModelSpec load_lightgbm_text(const LoaderInput& input);
// LightGBM's dump_model() JSON.
ModelSpec load_lightgbm_json(const LoaderInput& input);
// floresta's own model JSON (floresta.export), docs/floresta-model.md.
ModelSpec load_floresta_json(const LoaderInput& input);

// --- Limits on declared counts (limits.hpp), for a file of `file_bytes` bytes. ---

// Features a file may declare without naming them: max(kMaxUnnamedFeatures, file_bytes).
inline int64_t max_unnamed_features(std::size_t file_bytes) {
  return std::max<int64_t>(kMaxUnnamedFeatures, static_cast<int64_t>(std::min<std::size_t>(file_bytes, INT64_MAX)));
}
// Output groups a file holding `backing` trees (or other per-output content) may declare.
inline int64_t max_outputs(std::size_t backing) {
  return std::min<int64_t>(kMaxOutputs, std::max<int64_t>(kMaxUnbackedOutputs, static_cast<int64_t>(std::min<std::size_t>(backing, INT64_MAX))));
}
// Why a count of outputs was refused, for messages; callers close the parenthesis after
// naming what the file holds: outputs_rule(n) + " trees)".
inline std::string outputs_rule(std::size_t backing) {
  return "more than " + std::to_string(kMaxUnbackedOutputs) + " output groups need a tree each, and at most " +
         std::to_string(kMaxOutputs) + " (the file holds " + std::to_string(backing);
}
inline std::string unnamed_features_rule(std::size_t file_bytes) {
  return "a file that names no features may declare at most max(" + std::to_string(kMaxUnnamedFeatures) +
         ", one per byte of the file) = " + std::to_string(max_unnamed_features(file_bytes)) + " for its " +
         std::to_string(file_bytes) + " bytes";
}

// a * b, or false when the product does not fit in size_t.
inline bool checked_mul(std::size_t a, std::size_t b, std::size_t& out) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
  out = a * b;
  return true;
}

// The bitset words a file's categorical splits may take together (see limits.hpp), charged as
// the sets are built. Thread-safe: trees read on several threads charge the same budget;
// charge() stops at most one set past the limit, and once the limit has been passed,
// tripped() stays true (callers then read again on one thread, so that the error reported
// is the one a sequential read meets first).
class CategoryBudget {
 public:
  explicit CategoryBudget(std::size_t file_bytes) : file_bytes_(file_bytes) {
    const uint64_t per_byte = static_cast<uint64_t>(kCategoryWordsPerByte);
    const uint64_t by_size = file_bytes > UINT64_MAX / per_byte ? UINT64_MAX : per_byte * file_bytes;
    limit_ = std::min<uint64_t>(kMaxCategoryWords, std::max<uint64_t>(kFreeCategoryWords, by_size));
  }
  // Adds `words`; false when the total passes the limit.
  bool charge(uint64_t words) {
    const uint64_t total = used_.fetch_add(words, std::memory_order_relaxed) + words;
    if (total <= limit_) return true;
    tripped_.store(true, std::memory_order_relaxed);
    return false;
  }
  bool tripped() const { return tripped_.load(std::memory_order_relaxed); }
  void reset() {
    used_.store(0);
    tripped_.store(false);
  }
  uint64_t limit() const { return limit_; }
  // "... need more than N bitset words (the limit for a file of B bytes: ...)"
  std::string rule() const {
    return "the categorical splits need more than " + std::to_string(limit_) + " bitset words (the limit for a file of " +
           std::to_string(file_bytes_) + " bytes: max(2^20, " + std::to_string(kCategoryWordsPerByte) +
           " per byte), at most 2^26)";
  }

 private:
  std::size_t file_bytes_;
  uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<bool> tripped_{false};
};

}  // namespace floresta::detail
