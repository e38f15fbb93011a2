// floresta/schema.hpp — what a model expects as input and what it answers.
//
// A Schema lists the model's input features in column order: each one's name, whether it
// is numeric or categorical, and for categorical features the vocabulary seen in training
// (the code of a category is its position in the vocabulary, exactly as the training
// library encoded it). It also holds the output labels (class names, or k-means cluster
// names) when known.
//
//   const floresta::Schema& s = model.schema();
//   auto code = s.category_code(1, "Samsung");   // std::optional<int>
//
// Thread-safety: immutable after loading; all member functions are const.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace floresta {

enum class FeatureType { kNumeric, kCategorical };

// How a person's raw value is read for one feature (the floresta JSON's optional `input`
// object; docs/floresta-model.md). Records and DataFrames go through it on every path (C++
// Record, Python records and DataFrames); matrices of codes do not. A feature with a rule
// refuses a value the rule does not take (floresta::InputError naming the field, the rule
// and the value), whatever RecordOptions::unknown_category says.
struct InputRule {
  bool present = false;  // the file gives a rule for this feature
  // Categorical features with string categories: the input and the vocabulary are compared
  // after folding (fold_text): letter case, accents, surrounding and repeated spaces.
  bool fold_case = false;
  bool fold_accents = false;
  bool fold_spaces = false;
  // Other texts that mean a category: (text, category as written in the vocabulary).
  std::vector<std::pair<std::string, std::string>> aliases;
  // Also match a category or alias followed by more words ("IPHONE 11" -> the alias "IPHONE"),
  // the longest one first.
  bool leading_words = false;
  // The category of a text nothing else matches ("Outros"); empty optional: such a text is refused.
  std::optional<std::string> otherwise;
  // Numeric features: the valid range, both ends included (missing stays missing).
  std::optional<double> min;
  std::optional<double> max;
  // Names to show people, per category (category, display name); the keys stay the codes' names.
  std::vector<std::pair<std::string, std::string>> display;
};

struct Feature {
  std::string name;
  FeatureType type = FeatureType::kNumeric;
  // Training vocabulary for categorical features: strings, or numbers (never both).
  // Empty when the model file carries none (XGBoost before 3.1): codes are then taken as given.
  std::vector<std::string> string_categories;
  std::vector<double> number_categories;
  // How a number in an input row is read for this categorical feature: as the code of a
  // category (XGBoost, LightGBM, trees' native categorical splits), or as the category value
  // itself (scikit-learn encoders over numeric categories). Strings are always encoded to codes.
  bool numbers_are_codes = true;
  InputRule input;

  bool is_categorical() const { return type == FeatureType::kCategorical; }
  bool has_vocabulary() const { return !string_categories.empty() || !number_categories.empty(); }
};

struct Schema {
  std::vector<Feature> features;
  std::vector<std::string> output_labels;

  std::size_t size() const { return features.size(); }

  // Column index of a named feature, or nullopt.
  std::optional<std::size_t> index_of(const std::string& name) const {
    for (std::size_t i = 0; i < features.size(); ++i)
      if (features[i].name == name) return i;
    return std::nullopt;
  }

  // Training code of a category value of feature `column`, or nullopt when unseen.
  std::optional<int> category_code(std::size_t column, const std::string& value) const {
    const auto& vocab = features.at(column).string_categories;
    for (std::size_t i = 0; i < vocab.size(); ++i)
      if (vocab[i] == value) return static_cast<int>(i);
    return std::nullopt;
  }
  std::optional<int> category_code(std::size_t column, double value) const {
    const auto& vocab = features.at(column).number_categories;
    for (std::size_t i = 0; i < vocab.size(); ++i)
      if (vocab[i] == value) return static_cast<int>(i);
    return std::nullopt;
  }
};

}  // namespace floresta
