// src/lightgbm_common.hpp — what LightGBM's two formats share: the objective string, the
// node encoding (decision_type), pandas_categorical and the output groups. Used by
// load_lightgbm_text.cpp and load_lightgbm_json.cpp only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "floresta/spec.hpp"
#include "json_document.hpp"

namespace floresta::detail::lightgbm {

struct ObjectiveInfo {
  Task task = Task::kRegression;
  Link link = Link::kIdentity;
  double scale = 1;
  int num_classes = 0;
};

// The words of `text` (split on spaces, tabs and carriage returns), as views into it:
// LightGBM's lists and objective strings.
std::vector<std::string_view> split_words(std::string_view text);

// "binary sigmoid:1", "multiclass num_class:3", "regression sqrt", "" (custom: raw output).
ObjectiveInfo parse_objective(const std::string& text, int num_class, const std::string& source);

// Sizes a tree of n nodes, every node a leaf until set_split makes it a split.
void size_tree(TreeSpec& tree, std::size_t n);

// Fills node `i` of an internal split from LightGBM's encoding.
void set_split(TreeSpec& tree, std::size_t i, int64_t feature, double threshold, int decision_type,
               const std::vector<uint32_t>& category_set, uint32_t category_bits);

// Category vocabularies from pandas_categorical, mapped onto the categorical features in order.
void attach_pandas_categorical(const Json& lists, Schema& schema, const std::string& source);

// What the trees read leave to set: the rule, task and link, the output groups (one tree per
// group and iteration), the rounds and the class labels.
void finish_spec(ModelSpec& spec, const ObjectiveInfo& objective, int per_iteration, bool average_output);

}  // namespace floresta::detail::lightgbm
