// src/engine/model_data.hpp — what a compiled Model holds (model.hpp keeps it opaque).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/forest.hpp"
#include "engine/kernel.hpp"
#include "engine/kmeans.hpp"
#include "floresta/model.hpp"
#include "floresta/preprocess.hpp"
#include "floresta/schema.hpp"
#include "floresta/spec.hpp"

namespace floresta::detail {

using AnyEstimator = std::variant<Forest<XGBoostRule>, Forest<LightGBMRule>, Forest<SkLearnHistRule>,
                                  Forest<SkLearnTreeRule>, KMeans>;

struct ModelData {
  std::string source;
  std::string format;
  std::string objective;
  Task task = Task::kRegression;
  Link link = Link::kIdentity;
  bool class_from_margin = false;
  int num_classes = 0;
  std::size_t num_outputs = 1;
  std::size_t num_trees = 0;
  int64_t best_iteration = -1;
  double average_divisor = 0;
  double link_scale = 1;
  double decision_offset = 0;
  Schema schema;            // the raw inputs a caller provides
  Preprocessing preprocessing;  // raw inputs -> estimator inputs (empty: the same)
  std::string metadata;         // ModelSpec::metadata
  AnyEstimator estimator;
  const Kernel* kernel = nullptr;  // chosen once by compile() (choose_kernel)
  // Record encoding: feature by name, string category -> code, numeric category -> code
  // (for features whose numbers are codes), and the code an unseen category gets.
  std::unordered_map<std::string, std::size_t> feature_index;
  std::vector<std::unordered_map<std::string, double>> string_codes;
  std::vector<std::unordered_map<double, double>> number_codes;
  std::vector<double> unknown_code;
  // Input rules (schema.hpp InputRule): per feature, each folded category and alias -> code,
  // and the code of `otherwise` (NaN when the rule has none). Empty maps for other features.
  struct InputLookup {
    std::unordered_map<std::string, double> codes;
    double otherwise = 0;
    bool has_otherwise = false;
  };
  std::vector<InputLookup> input_codes;
};

}  // namespace floresta::detail
