// src/loaders.hpp — one function per model format: parsed document in, ModelSpec out.
// Loaders never include each other; load.cpp detects the format and calls one of them.
#pragma once

#include <string>
#include <string_view>

#include "floresta/spec.hpp"
#include "json_document.hpp"

namespace floresta::detail {

// XGBoost Booster.save_model JSON or UBJSON (already parsed into `document`).
// `threads` read the trees (LoadOptions::n_threads).
ModelSpec load_xgboost(const Json& document, const std::string& source, const std::string& format, int threads);

// LightGBM's text model file (save_model / model_to_string).
ModelSpec load_lightgbm_text(std::string_view bytes, const std::string& source, int threads = 1);
// floresta's own model JSON (floresta.export), docs/floresta-model.md.
ModelSpec load_floresta_json(const Json& document, const std::string& source);

// LightGBM's dump_model() JSON.
ModelSpec load_lightgbm_json(const Json& document, const std::string& source);

}  // namespace floresta::detail
