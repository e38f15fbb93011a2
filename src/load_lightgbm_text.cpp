// Loader for LightGBM's text model file (save_model / model_to_string). Facts used here are
// in docs/lightgbm.md and checked by tests/python/test_lightgbm_parity.py.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fail.hpp"
#include "floresta/error.hpp"
#include "lightgbm_common.hpp"
#include "loaders.hpp"
#include "threads.hpp"

namespace floresta::detail {
namespace {

using namespace lightgbm;

// Header and tree blocks of the text format, with the line where each key was read; keys
// and values are views into the file's bytes.
struct Field {
  std::string_view value;
  std::size_t line = 0;
};
using Entry = std::pair<std::string_view, Field>;
// A block's fields in file order: a range of the one list of fields TextModel keeps for the
// whole file (a line costs one entry, whatever the file claims; no allocation per block). A
// key given twice reads as its last value (lookups search from the end).
class Block {
 public:
  const Field* find(std::string_view key) const {
    for (const Entry* it = end_; it != begin_;) {
      --it;
      if (it->first == key) return &it->second;
    }
    return nullptr;
  }
  bool count(std::string_view key) const { return find(key) != nullptr; }
  const Field& at(std::string_view key) const { return *find(key); }  // after count(key)

 private:
  friend class TextModel;
  const Entry* begin_ = nullptr;
  const Entry* end_ = nullptr;
};

class TextModel {
 public:
  TextModel(std::string_view bytes, std::string source) : source_(std::move(source)) { split(bytes); }
  TextModel(const TextModel&) = delete;  // blocks point into entries_
  TextModel& operator=(const TextModel&) = delete;

  Block header;
  std::vector<Block> trees;
  std::string_view pandas_categorical;  // the JSON after "pandas_categorical:", if any
  std::size_t pandas_line = 0;

  [[noreturn]] void fail_at(std::size_t line, const std::string& rule) const { fail(source_, ": line ", line, ": ", rule); }
  const std::string& source() const { return source_; }

  const Field& need(const Block& block, const std::string& key, const std::string& where) const {
    const Field* field = block.find(key);
    if (field == nullptr) fail(source_, ": ", where, ": missing '", key, "='");
    return *field;
  }

  // `expected` only reserves room; callers check the count.
  std::vector<double> doubles(const Field& field, const std::string& key, std::size_t expected = 0) const {
    return numbers<double>(field, key, expected);
  }
  std::vector<int64_t> ints(const Field& field, const std::string& key, std::size_t expected = 0) const {
    return numbers<int64_t>(field, key, expected);
  }
  int64_t integer(const Field& field, const std::string& key) const {
    const auto values = ints(field, key);
    if (values.size() != 1) fail_at(field.line, key + " must be one integer");
    return values[0];
  }

 private:
  // A list of numbers separated by spaces (or tabs), parsed where it lies: each number ends
  // where std::from_chars stops, which must be a blank or the end.
  template <class Number>
  std::vector<Number> numbers(const Field& field, const std::string& key, std::size_t expected = 0) const {
    std::vector<Number> out;
    // `expected` is a count the file declares: reserve no more than the text can hold (a
    // number and a blank take two bytes at least).
    out.reserve(std::min(expected, field.value.size() / 2 + 1));
    const char* p = field.value.data();
    const char* const last = p + field.value.size();
    auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (true) {
      while (p != last && blank(*p)) ++p;
      if (p == last) return out;
      const char* start = p;
      if (std::is_floating_point_v<Number> && *p == '+' && p + 1 != last && *(p + 1) != '-') ++p;
      Number v{};
      const auto [end, ec] = std::from_chars(p, last, v);
      if (ec != std::errc() || (end != last && !blank(*end))) {
        const char* stop = start;
        while (stop != last && !blank(*stop)) ++stop;
        fail_at(field.line, key + ": '" + std::string(start, stop) + "' is not " +
                                (std::is_floating_point_v<Number> ? "a number" : "an integer"));
      }
      out.push_back(v);
      p = end;
    }
  }

  void split(std::string_view bytes) {
    std::size_t pos = 0, number = 0;
    std::vector<std::size_t> starts;  // where each tree's fields begin in entries_
    bool trees_ended = false;
    while (pos <= bytes.size()) {
      std::size_t end = bytes.find('\n', pos);
      if (end == std::string_view::npos) end = bytes.size();
      std::string_view line = bytes.substr(pos, end - pos);
      pos = end + 1;
      ++number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.rfind("pandas_categorical:", 0) == 0) {
        pandas_categorical = line.substr(19);
        pandas_line = number;
        continue;
      }
      if (trees_ended || line.empty()) continue;
      if (line == "end of trees") {
        trees_ended = true;
        continue;
      }
      const std::size_t eq = line.find('=');
      if (line.rfind("Tree=", 0) == 0) {
        starts.push_back(entries_.size());
        entries_.emplace_back("Tree", Field{line.substr(5), number});
        continue;
      }
      if (eq == std::string_view::npos) {
        entries_.emplace_back(line, Field{"", number});  // bare flags such as average_output
      } else {
        entries_.emplace_back(line.substr(0, eq), Field{line.substr(eq + 1), number});
      }
    }
    if (!trees_ended) fail(source_, ": truncated LightGBM model (no 'end of trees' line)");
    const Entry* first = entries_.data();
    header.begin_ = first;
    header.end_ = first + (starts.empty() ? entries_.size() : starts[0]);
    trees.resize(starts.size());
    for (std::size_t t = 0; t < starts.size(); ++t) {
      trees[t].begin_ = first + starts[t];
      trees[t].end_ = first + (t + 1 < starts.size() ? starts[t + 1] : entries_.size());
    }
  }

  std::vector<Entry> entries_;  // every field of the file, in file order
  std::string source_;
};

// A "Tree=" block being read. num_leaves is a claim: every array it sizes is read (and
// counted) before the tree is sized from it; a list the text cannot hold is never reserved.
struct TreeBlock {
  const TextModel& model;
  const Block& block;
  std::string where;  // "Tree=<index>", for messages
  const Field& leaves_field;
  std::size_t leaves;    // num_leaves
  std::size_t internal;  // splits: num_leaves - 1

  const Field& need(const char* key) const { return model.need(block, key, where); }
  // The list `key`, which must hold `expected` numbers.
  std::vector<double> doubles(const char* key, std::size_t expected) const {
    const Field& field = need(key);
    auto values = model.doubles(field, key, expected);
    if (values.size() != expected) count_error(field, key, values.size(), expected);
    return values;
  }
  std::vector<int64_t> ints(const char* key, std::size_t expected) const {
    const Field& field = need(key);
    auto values = model.ints(field, key, expected);
    if (values.size() != expected) count_error(field, key, values.size(), expected);
    return values;
  }
  [[noreturn]] void count_error(const Field& field, const char* key, std::size_t got, std::size_t expected) const {
    model.fail_at(field.line, std::string(key) + " has " + std::to_string(got) + " values, expected " + std::to_string(expected) +
                                  " (num_leaves=" + std::to_string(leaves) + " on line " + std::to_string(leaves_field.line) + ")");
  }
};

TreeBlock open_tree_block(const TextModel& model, const Block& block, std::size_t index) {
  std::string where = "Tree=" + std::to_string(index);
  const Field& leaves_field = model.need(block, "num_leaves", where);
  const int64_t leaves = model.integer(leaves_field, "num_leaves");
  if (leaves < 1 || leaves > (int64_t(1) << 30))
    model.fail_at(leaves_field.line, "num_leaves=" + std::to_string(leaves) + " out of range [1, 2^30]");
  const auto L = static_cast<std::size_t>(leaves);
  return TreeBlock{model, block, std::move(where), leaves_field, L, L - 1};
}

std::vector<double> read_leaf_values(const TreeBlock& tb) {
  const Field& leaf_field = tb.need("leaf_value");
  auto leaf_values = tb.model.doubles(leaf_field, "leaf_value", tb.leaves);
  if (leaf_values.size() != tb.leaves)
    tb.model.fail_at(tb.leaves_field.line, "num_leaves=" + std::to_string(tb.leaves) + " but leaf_value (line " +
                                               std::to_string(leaf_field.line) + ") has " + std::to_string(leaf_values.size()) + " values");
  return leaf_values;
}

// The splits' arrays, one entry per split.
struct SplitArrays {
  std::vector<int64_t> features;
  std::vector<double> thresholds;
  std::vector<int64_t> decision_types;
  std::vector<int64_t> lefts;
  std::vector<int64_t> rights;
};

SplitArrays read_split_arrays(const TreeBlock& tb) {
  SplitArrays splits;
  splits.features = tb.ints("split_feature", tb.internal);
  splits.thresholds = tb.doubles("threshold", tb.internal);
  splits.decision_types = tb.ints("decision_type", tb.internal);
  splits.lefts = tb.ints("left_child", tb.internal);
  splits.rights = tb.ints("right_child", tb.internal);
  return splits;
}

// The categorical splits' bitsets: num_cat of them, bitset k the words of cat_threshold from
// cat_boundaries[k] to cat_boundaries[k + 1].
struct Bitsets {
  int64_t count = 0;
  std::vector<int64_t> boundaries;
  std::vector<int64_t> words;
};

Bitsets read_bitsets(const TreeBlock& tb) {
  const TextModel& model = tb.model;
  const Block& block = tb.block;
  Bitsets sets;
  sets.count = block.count("num_cat") ? model.integer(block.at("num_cat"), "num_cat") : 0;
  if (sets.count < 0) model.fail_at(block.at("num_cat").line, "num_cat must not be negative");
  if (sets.count == 0) return sets;
  // num_cat is a claim too: cat_boundaries must list num_cat + 1 offsets.
  const Field& boundaries_field = tb.need("cat_boundaries");
  sets.boundaries = model.ints(boundaries_field, "cat_boundaries", static_cast<std::size_t>(sets.count) + 1);
  if (sets.boundaries.size() != static_cast<uint64_t>(sets.count) + 1)
    model.fail_at(block.at("num_cat").line, "num_cat=" + std::to_string(sets.count) + " but cat_boundaries (line " +
                                                std::to_string(boundaries_field.line) + ") has " +
                                                std::to_string(sets.boundaries.size()) + " values, expected num_cat + 1");
  const Field& words_field = tb.need("cat_threshold");
  sets.words = model.ints(words_field, "cat_threshold");
  for (int64_t w : sets.words)
    if (w < 0 || w > int64_t{std::numeric_limits<uint32_t>::max()})
      model.fail_at(words_field.line, "cat_threshold word " + std::to_string(w) + " is not a 32-bit unsigned value");
  for (std::size_t k = 0; k < sets.boundaries.size(); ++k)
    if (sets.boundaries[k] < (k ? sets.boundaries[k - 1] : 0) || sets.boundaries[k] > static_cast<int64_t>(sets.words.size()))
      model.fail_at(boundaries_field.line, "cat_boundaries out of order or past cat_threshold");
  return sets;
}

// A child in LightGBM's numbering (a split's index, or ~leaf) as a node id: splits keep
// theirs, leaves follow them from `internal` on.
int32_t child_id(const TreeBlock& tb, int64_t v, const char* side, std::size_t node) {
  if (v >= 0) {
    if (v >= static_cast<int64_t>(tb.internal) || v == 0)
      tb.model.fail_at(tb.need(side).line, std::string(side) + " of node " + std::to_string(node) + " = " + std::to_string(v) +
                                               " is not a valid internal node");
    return static_cast<int32_t>(v);
  }
  const int64_t leaf = ~v;
  if (leaf >= static_cast<int64_t>(tb.leaves))
    tb.model.fail_at(tb.need(side).line, std::string(side) + " of node " + std::to_string(node) + " names leaf " +
                                             std::to_string(leaf) + " of " + std::to_string(tb.leaves));
  return static_cast<int32_t>(tb.internal + static_cast<std::size_t>(leaf));
}

std::string field_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// The bitset categorical split `i` names by its threshold, as `bits` codes. LightGBM gives
// every categorical split its own bitset, so all of them together copy at most what
// cat_threshold holds: `copied_words` counts the words the splits copy.
std::vector<uint32_t> split_bitset(const TreeBlock& tb, const Bitsets& sets, std::size_t i, double k, std::size_t& copied_words,
                                   uint32_t& bits) {
  if (!(k >= 0 && k < static_cast<double>(sets.count)) || std::floor(k) != k)
    tb.model.fail_at(tb.need("threshold").line,
                     "categorical node " + std::to_string(i) + " names bitset " + field_text(k) + " of " + std::to_string(sets.count));
  const auto c = static_cast<std::size_t>(k);
  const auto first = static_cast<std::size_t>(sets.boundaries[c]), last = static_cast<std::size_t>(sets.boundaries[c + 1]);
  bits = static_cast<uint32_t>(std::min<std::size_t>((last - first) * 32, kMaxCategory));
  copied_words += std::min<std::size_t>(last - first, bits / 32);
  if (copied_words > sets.words.size())
    tb.model.fail_at(tb.need("threshold").line,
                     "categorical node " + std::to_string(i) + " reuses a bitset: the splits copy more than the " +
                         std::to_string(sets.words.size()) + " words of cat_threshold (each split has its own bitset)");
  return std::vector<uint32_t>(sets.words.begin() + static_cast<std::ptrdiff_t>(first),
                               sets.words.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(last, first + bits / 32)));
}

// Nodes 0 .. internal - 1: children and splits.
void set_splits(const TreeBlock& tb, const SplitArrays& splits, const Bitsets& sets, TreeSpec& tree) {
  std::size_t copied_words = 0;
  for (std::size_t i = 0; i < tb.internal; ++i) {
    const int64_t dt = splits.decision_types[i];
    if (dt < 0 || dt > 15) tb.model.fail_at(tb.need("decision_type").line, "unknown decision_type " + std::to_string(dt));
    tree.left_children[i] = child_id(tb, splits.lefts[i], "left_child", i);
    tree.right_children[i] = child_id(tb, splits.rights[i], "right_child", i);
    std::vector<uint32_t> set;
    uint32_t bits = 0;
    if (dt & 1) set = split_bitset(tb, sets, i, splits.thresholds[i], copied_words, bits);
    set_split(tree, i, splits.features[i], splits.thresholds[i], static_cast<int>(dt), set, bits);
  }
}

// Linear leaves (is_linear=1): leaf j's constant and its terms, num_features[j] of them.
void read_linear_leaves(const TreeBlock& tb, TreeSpec& tree) {
  const std::size_t L = tb.leaves, internal = tb.internal;
  const auto constants = tb.doubles("leaf_const", L);
  const auto counts = tb.ints("num_features", L);
  const Field& feature_field = tb.need("leaf_features");
  const Field& coeff_field = tb.need("leaf_coeff");
  const auto leaf_features = tb.model.ints(feature_field, "leaf_features");
  const auto coeffs = tb.model.doubles(coeff_field, "leaf_coeff");
  if (leaf_features.size() != coeffs.size()) tb.model.fail_at(coeff_field.line, "leaf_coeff and leaf_features differ in length");
  tree.linear_offsets.assign(internal + L + 1, 0);
  tree.linear_const.assign(internal + L, 0.0);
  std::size_t k = 0;
  for (std::size_t j = 0; j < L; ++j) {
    if (counts[j] < 0 || k + static_cast<std::size_t>(counts[j]) > leaf_features.size())
      tb.model.fail_at(feature_field.line, "num_features of leaf " + std::to_string(j) + " runs past leaf_features");
    tree.linear_const[internal + j] = constants[j];
    for (int64_t c = 0; c < counts[j]; ++c, ++k) {
      if (leaf_features[k] < 0 || leaf_features[k] > std::numeric_limits<int32_t>::max())
        tb.model.fail_at(feature_field.line, "leaf feature out of range");
      tree.linear_features.push_back(static_cast<int32_t>(leaf_features[k]));
      tree.linear_coeffs.push_back(coeffs[k]);
    }
    tree.linear_offsets[internal + j + 1] = static_cast<uint32_t>(k);
  }
  // Splits (ids below `internal`) carry no terms, so their offsets stay 0.
}

TreeSpec read_text_tree(const TextModel& model, const Block& block, std::size_t index) {
  const TreeBlock tb = open_tree_block(model, block, index);
  const auto leaf_values = read_leaf_values(tb);
  TreeSpec tree;
  if (tb.internal == 0) {  // a single leaf
    size_tree(tree, 1);
    tree.leaf_value[0] = leaf_values[0];
    tree.category_offsets.clear();
    return tree;
  }
  const SplitArrays splits = read_split_arrays(tb);
  const Bitsets sets = read_bitsets(tb);
  size_tree(tree, tb.internal + tb.leaves);
  for (std::size_t j = 0; j < tb.leaves; ++j) tree.leaf_value[tb.internal + j] = leaf_values[j];
  set_splits(tb, splits, sets, tree);
  // Leaves (ids from `internal` on) list no categories.
  for (std::size_t i = tb.internal; i < tb.internal + tb.leaves; ++i) tree.category_offsets[i + 1] = tree.category_offsets[i];
  if (block.count("is_linear") && model.integer(block.at("is_linear"), "is_linear") == 1) read_linear_leaves(tb, tree);
  // Training rows reaching each node: explanations' cover, as LightGBM's own TreeSHAP reads it.
  if (block.count("internal_count") && block.count("leaf_count")) {
    const auto internal = tb.doubles("internal_count", tb.internal);
    const auto leaves = tb.doubles("leaf_count", tb.leaves);
    tree.cover = internal;
    tree.cover.insert(tree.cover.end(), leaves.begin(), leaves.end());
  }
  return tree;
}

// The header's declared counts, with the fields they were read from.
struct HeaderCounts {
  const Field& class_field;
  const Field& per_iteration_field;
  const Field& max_feature_field;
  int64_t num_class;
  int64_t per_iteration;
  int64_t max_feature;
};

HeaderCounts read_header_counts(const TextModel& model) {
  const Block& h = model.header;
  const Field& class_field = model.need(h, "num_class", "header");
  const Field& per_iteration_field = model.need(h, "num_tree_per_iteration", "header");
  const Field& max_feature_field = model.need(h, "max_feature_idx", "header");
  const HeaderCounts counts{class_field,
                            per_iteration_field,
                            max_feature_field,
                            model.integer(class_field, "num_class"),
                            model.integer(per_iteration_field, "num_tree_per_iteration"),
                            model.integer(max_feature_field, "max_feature_idx")};
  if (counts.num_class < 1 || counts.num_class > kMaxOutputs)
    model.fail_at(class_field.line, "num_class=" + std::to_string(counts.num_class) + " out of range [1, " + std::to_string(kMaxOutputs) + "]");
  // Output groups are a claim: beyond kMaxUnbackedOutputs the file must hold a tree for each.
  if (counts.per_iteration < 1 || counts.per_iteration > max_outputs(model.trees.size()))
    model.fail_at(per_iteration_field.line, "num_tree_per_iteration=" + std::to_string(counts.per_iteration) + " out of range: " +
                                                outputs_rule(model.trees.size()) + " trees)");
  if (counts.max_feature < -1 || counts.max_feature >= int64_t(1) << 28)
    model.fail_at(max_feature_field.line, "max_feature_idx=" + std::to_string(counts.max_feature) + " out of range [-1, 2^28)");
  return counts;
}

ObjectiveInfo read_objective(const TextModel& model, const HeaderCounts& counts, ModelSpec& spec) {
  const Block& h = model.header;
  spec.objective = h.count("objective") ? std::string(h.at("objective").value) : "custom";
  const ObjectiveInfo objective = parse_objective(spec.objective, static_cast<int>(counts.num_class), model.source());
  if (objective.task == Task::kMulticlassClassification && counts.per_iteration != counts.num_class)
    model.fail_at(counts.per_iteration_field.line,
                  "a " + std::to_string(counts.num_class) + "-class model needs as many trees per iteration");
  return objective;
}

// The features: names and, from feature_infos, which are categorical. The feature count is a
// claim: the names the file lists (views into it) are counted before any feature is made; a
// file without names is held to max_unnamed_features.
void read_schema(const TextModel& model, const HeaderCounts& counts, std::size_t file_bytes, ModelSpec& spec) {
  const Block& h = model.header;
  std::vector<std::string_view> names, infos;
  if (h.count("feature_names")) names = split_words(h.at("feature_names").value);
  if (h.count("feature_infos")) infos = split_words(h.at("feature_infos").value);
  if (!names.empty() && names.size() != static_cast<std::size_t>(spec.num_features))
    model.fail_at(h.at("feature_names").line, "feature_names has " + std::to_string(names.size()) + " names for " + std::to_string(spec.num_features) +
                                                  " features (max_feature_idx=" + std::to_string(counts.max_feature) + " on line " +
                                                  std::to_string(counts.max_feature_field.line) + ")");
  if (names.empty() && spec.num_features > max_unnamed_features(file_bytes))
    model.fail_at(counts.max_feature_field.line, "max_feature_idx=" + std::to_string(counts.max_feature) +
                                                     " but the file has no feature_names: " + unnamed_features_rule(file_bytes));
  spec.schema.features.resize(static_cast<std::size_t>(spec.num_features));
  for (std::size_t f = 0; f < spec.schema.features.size(); ++f) {
    Feature& feature = spec.schema.features[f];
    feature.name = names.empty() ? "Column_" + std::to_string(f) : std::string(names[f]);
    if (f < infos.size() && infos[f] != "none" && !infos[f].empty() && infos[f][0] != '[')
      feature.type = FeatureType::kCategorical;  // categorical infos list the codes: "-1:2:0:3"
  }
}

// The trees, read on `threads`. A "Tree=" line is not a tree: trees are only made for blocks
// that have the two lines every tree needs (a block without them is read on its own, after
// those before it, to give the error a sequential read gives).
std::vector<TreeSpec> read_trees(const TextModel& model, int threads) {
  std::size_t complete = 0;
  while (complete < model.trees.size() && model.trees[complete].count("num_leaves") && model.trees[complete].count("leaf_value"))
    ++complete;
  std::vector<TreeSpec> trees(complete);
  parallel_for(complete, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) trees[t] = read_text_tree(model, model.trees[t], t);
  }, kMinTreesPerThread);
  if (complete < model.trees.size()) read_text_tree(model, model.trees[complete], complete);  // throws
  return trees;
}

// The category vocabularies of a model trained on a pandas DataFrame.
void read_pandas_categorical(const TextModel& model, Schema& schema) {
  Json lists;
  try {
    lists = parse_json_document(model.pandas_categorical, JsonEncoding::kText, model.source());
  } catch (const Error& e) {
    model.fail_at(model.pandas_line, std::string("pandas_categorical is not valid JSON: ") + e.what());
  }
  attach_pandas_categorical(lists, schema, model.source());
}

}  // namespace

ModelSpec load_lightgbm_text(const LoaderInput& input) {
  const TextModel model(input.bytes, input.source);
  ModelSpec spec;
  spec.source = input.source;
  spec.format = "lightgbm-text";
  const HeaderCounts counts = read_header_counts(model);
  spec.num_features = static_cast<int>(counts.max_feature + 1);
  const ObjectiveInfo objective = read_objective(model, counts, spec);
  read_schema(model, counts, input.file_bytes, spec);
  spec.trees = read_trees(model, input.threads);
  if (!model.pandas_categorical.empty()) read_pandas_categorical(model, spec.schema);
  finish_spec(spec, objective, static_cast<int>(counts.per_iteration), model.header.count("average_output") > 0);
  return spec;
}

}  // namespace floresta::detail
