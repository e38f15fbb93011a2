// Loaders for LightGBM models: the text model file (save_model / model_to_string) and the
// dump_model() JSON. Facts used here are in docs/lightgbm.md and checked by
// tests/python/test_lightgbm_parity.py.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "floresta/error.hpp"
#include "threads.hpp"
#include "loaders.hpp"

namespace floresta::detail {
namespace {

enum class MissingType { kNone = 0, kZero = 1, kNaN = 2 };

struct ObjectiveInfo {
  Task task = Task::kRegression;
  Link link = Link::kIdentity;
  double scale = 1;
  int num_classes = 0;
};

// The words of `text` (split on spaces, tabs and carriage returns), as views into it:
// LightGBM's lists and objective strings.
std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const bool space = i == text.size() || text[i] == ' ' || text[i] == '\t' || text[i] == '\r';
    if (!space) continue;
    if (i > start) words.emplace_back(text.data() + start, i - start);
    start = i + 1;
  }
  return words;
}

// "binary sigmoid:1", "multiclass num_class:3", "regression sqrt", "" (custom: raw output).
ObjectiveInfo parse_objective(const std::string& text, int num_class, const std::string& source) {
  ObjectiveInfo info;
  const std::vector<std::string_view> words = split_words(text);
  if (words.empty() || words[0] == "custom" || words[0] == "none") return info;
  const std::string name(words[0]);
  auto option = [&](const std::string& key, double fallback) {
    for (const auto& w : words)
      if (w.rfind(key + ":", 0) == 0) {
        double v = 0;
        if (!parse_double(w.substr(key.size() + 1), v)) fail(source, ": objective option '", w, "' is not a number");
        return v;
      }
    return fallback;
  };
  auto has_word = [&](const char* flag) { return std::find(words.begin(), words.end(), flag) != words.end(); };
  if (name == "binary") {
    info.task = Task::kBinaryClassification;
    info.link = Link::kSigmoid;
    info.scale = option("sigmoid", 1.0);
    info.num_classes = 2;
  } else if (name == "multiclass" || name == "softmax") {
    info.task = Task::kMulticlassClassification;
    info.link = Link::kSoftmax;
    info.num_classes = num_class;
  } else if (name == "multiclassova" || name == "multiclass_ova" || name == "ova" || name == "ovr") {
    info.task = Task::kMulticlassClassification;
    info.link = Link::kOneVsRestSigmoid;
    info.scale = option("sigmoid", 1.0);
    info.num_classes = num_class;
  } else if (name == "cross_entropy" || name == "xentropy") {
    info.link = Link::kSigmoid;
  } else if (name == "poisson" || name == "gamma" || name == "tweedie") {
    info.link = Link::kExp;
  } else if (name == "regression" || name == "regression_l2" || name == "regression_l1" || name == "huber" ||
             name == "fair" || name == "quantile" || name == "mape" || name == "lambdarank" || name == "rank_xendcg") {
    info.link = has_word("sqrt") ? Link::kSignedSquare : Link::kIdentity;
  } else {
    fail(source, ": unsupported LightGBM objective '", text,
         "' (supported: binary, multiclass, multiclassova, cross_entropy, regression, regression_l1, huber, fair, "
         "quantile, mape, poisson, gamma, tweedie, lambdarank, rank_xendcg, custom)");
  }
  return info;
}

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

// Fills node `i` of an internal split from LightGBM's encoding.
void set_split(TreeSpec& tree, std::size_t i, int64_t feature, double threshold, int decision_type,
               const std::vector<uint32_t>& category_set, uint32_t category_bits) {
  const bool categorical = decision_type & 1;
  const bool default_left = (decision_type >> 1) & 1;
  const auto missing = static_cast<MissingType>((decision_type >> 2) & 3);
  tree.split_feature[i] = static_cast<int32_t>(feature);
  tree.threshold[i] = threshold;
  tree.is_categorical[i] = categorical;
  if (categorical) {
    tree.default_left[i] = 0;  // NaN, negative and unknown codes go right
    tree.category_bits[i] = category_bits;
    tree.category_words.insert(tree.category_words.end(), category_set.begin(), category_set.end());
  } else if (missing == MissingType::kNone) {
    tree.default_left[i] = 0.0 <= threshold;  // NaN is scored as 0
  } else {
    tree.default_left[i] = default_left;
    tree.zero_is_missing[i] = missing == MissingType::kZero;
  }
  tree.category_offsets[i + 1] = static_cast<uint32_t>(tree.category_words.size());
}

void size_tree(TreeSpec& tree, std::size_t n) {
  tree.left_children.assign(n, -1);
  tree.right_children.assign(n, -1);
  tree.split_feature.assign(n, 0);
  tree.threshold.assign(n, 0.0);
  tree.leaf_value.assign(n, 0.0);
  tree.default_left.assign(n, 0);
  tree.is_categorical.assign(n, 0);
  tree.zero_is_missing.assign(n, 0);
  tree.category_bits.assign(n, 0);
  tree.category_offsets.assign(n + 1, 0);
}

std::string field_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

TreeSpec read_text_tree(const TextModel& model, const Block& block, std::size_t index) {
  const std::string where = "Tree=" + std::to_string(index);
  const Field& leaves_field = model.need(block, "num_leaves", where);
  const int64_t leaves = model.integer(leaves_field, "num_leaves");
  if (leaves < 1 || leaves > (int64_t(1) << 30))
    model.fail_at(leaves_field.line, "num_leaves=" + std::to_string(leaves) + " out of range [1, 2^30]");
  const auto L = static_cast<std::size_t>(leaves);
  const std::size_t internal = L - 1;

  // num_leaves is a claim: every array it sizes is read (and counted) before the tree is
  // sized from it; a list the text cannot hold is never reserved.
  auto count_error = [&](const Field& field, const char* key, std::size_t got, std::size_t expected) {
    model.fail_at(field.line, std::string(key) + " has " + std::to_string(got) + " values, expected " + std::to_string(expected) +
                                  " (num_leaves=" + std::to_string(leaves) + " on line " + std::to_string(leaves_field.line) + ")");
  };
  auto read = [&](const char* key, std::size_t expected) {
    const Field& field = model.need(block, key, where);
    auto values = model.doubles(field, key, expected);
    if (values.size() != expected) count_error(field, key, values.size(), expected);
    return values;
  };
  auto read_ints = [&](const char* key, std::size_t expected) {
    const Field& field = model.need(block, key, where);
    auto values = model.ints(field, key, expected);
    if (values.size() != expected) count_error(field, key, values.size(), expected);
    return values;
  };

  const Field& leaf_field = model.need(block, "leaf_value", where);
  const auto leaf_values = model.doubles(leaf_field, "leaf_value", L);
  if (leaf_values.size() != L)
    model.fail_at(leaves_field.line, "num_leaves=" + std::to_string(leaves) + " but leaf_value (line " + std::to_string(leaf_field.line) +
                                         ") has " + std::to_string(leaf_values.size()) + " values");
  TreeSpec tree;
  if (internal == 0) {  // a single leaf
    size_tree(tree, 1);
    tree.leaf_value[0] = leaf_values[0];
    tree.category_offsets.clear();
    return tree;
  }

  const auto features = read_ints("split_feature", internal);
  const auto thresholds = read("threshold", internal);
  const auto decision_types = read_ints("decision_type", internal);
  const auto lefts = read_ints("left_child", internal);
  const auto rights = read_ints("right_child", internal);
  std::vector<int64_t> cat_boundaries, cat_words;
  const int64_t num_cat = block.count("num_cat") ? model.integer(block.at("num_cat"), "num_cat") : 0;
  if (num_cat < 0) model.fail_at(block.at("num_cat").line, "num_cat must not be negative");
  if (num_cat > 0) {
    // num_cat is a claim too: cat_boundaries must list num_cat + 1 offsets.
    const Field& boundaries_field = model.need(block, "cat_boundaries", where);
    cat_boundaries = model.ints(boundaries_field, "cat_boundaries", static_cast<std::size_t>(num_cat) + 1);
    if (cat_boundaries.size() != static_cast<uint64_t>(num_cat) + 1)
      model.fail_at(block.at("num_cat").line, "num_cat=" + std::to_string(num_cat) + " but cat_boundaries (line " +
                                                  std::to_string(boundaries_field.line) + ") has " +
                                                  std::to_string(cat_boundaries.size()) + " values, expected num_cat + 1");
    const Field& words_field = model.need(block, "cat_threshold", where);
    cat_words = model.ints(words_field, "cat_threshold");
    for (int64_t w : cat_words)
      if (w < 0 || w > int64_t{std::numeric_limits<uint32_t>::max()})
        model.fail_at(words_field.line, "cat_threshold word " + std::to_string(w) + " is not a 32-bit unsigned value");
    for (std::size_t k = 0; k < cat_boundaries.size(); ++k)
      if (cat_boundaries[k] < (k ? cat_boundaries[k - 1] : 0) || cat_boundaries[k] > static_cast<int64_t>(cat_words.size()))
        model.fail_at(boundaries_field.line, "cat_boundaries out of order or past cat_threshold");
  }
  size_tree(tree, internal + L);
  for (std::size_t j = 0; j < L; ++j) tree.leaf_value[internal + j] = leaf_values[j];
  // Bitset words the splits copy: LightGBM gives every categorical split its own bitset, so
  // all of them together copy at most what cat_threshold holds.
  std::size_t copied_words = 0;

  auto child = [&](int64_t v, const char* side, std::size_t node) -> int32_t {
    if (v >= 0) {
      if (v >= static_cast<int64_t>(internal) || v == 0)
        model.fail_at(model.need(block, side, where).line, std::string(side) + " of node " + std::to_string(node) + " = " +
                                                               std::to_string(v) + " is not a valid internal node");
      return static_cast<int32_t>(v);
    }
    const int64_t leaf = ~v;
    if (leaf >= static_cast<int64_t>(L))
      model.fail_at(model.need(block, side, where).line, std::string(side) + " of node " + std::to_string(node) + " names leaf " +
                                                             std::to_string(leaf) + " of " + std::to_string(L));
    return static_cast<int32_t>(internal + static_cast<std::size_t>(leaf));
  };

  for (std::size_t i = 0; i < internal; ++i) {
    const int64_t dt = decision_types[i];
    if (dt < 0 || dt > 15) model.fail_at(model.need(block, "decision_type", where).line, "unknown decision_type " + std::to_string(dt));
    tree.left_children[i] = child(lefts[i], "left_child", i);
    tree.right_children[i] = child(rights[i], "right_child", i);
    std::vector<uint32_t> set;
    uint32_t bits = 0;
    if (dt & 1) {
      const double k = thresholds[i];
      if (!(k >= 0 && k < static_cast<double>(num_cat)) || std::floor(k) != k)
        model.fail_at(model.need(block, "threshold", where).line,
                      "categorical node " + std::to_string(i) + " names bitset " + field_text(k) + " of " + std::to_string(num_cat));
      const auto c = static_cast<std::size_t>(k);
      const auto first = static_cast<std::size_t>(cat_boundaries[c]), last = static_cast<std::size_t>(cat_boundaries[c + 1]);
      bits = static_cast<uint32_t>(std::min<std::size_t>((last - first) * 32, kMaxCategory));
      copied_words += std::min<std::size_t>(last - first, bits / 32);
      if (copied_words > cat_words.size())
        model.fail_at(model.need(block, "threshold", where).line,
                      "categorical node " + std::to_string(i) + " reuses a bitset: the splits copy more than the " +
                          std::to_string(cat_words.size()) + " words of cat_threshold (each split has its own bitset)");
      set.assign(cat_words.begin() + static_cast<std::ptrdiff_t>(first),
                 cat_words.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(last, first + bits / 32)));
    }
    set_split(tree, i, features[i], thresholds[i], static_cast<int>(dt), set, bits);
  }
  // Leaves (ids from `internal` on) list no categories.
  for (std::size_t i = internal; i < internal + L; ++i) tree.category_offsets[i + 1] = tree.category_offsets[i];

  if (block.count("is_linear") && model.integer(block.at("is_linear"), "is_linear") == 1) {
    const auto constants = read("leaf_const", L);
    const auto counts = read_ints("num_features", L);
    const Field& feature_field = model.need(block, "leaf_features", where);
    const Field& coeff_field = model.need(block, "leaf_coeff", where);
    const auto leaf_features = model.ints(feature_field, "leaf_features");
    const auto coeffs = model.doubles(coeff_field, "leaf_coeff");
    if (leaf_features.size() != coeffs.size()) model.fail_at(coeff_field.line, "leaf_coeff and leaf_features differ in length");
    tree.linear_offsets.assign(internal + L + 1, 0);
    tree.linear_const.assign(internal + L, 0.0);
    std::size_t k = 0;
    for (std::size_t j = 0; j < L; ++j) {
      if (counts[j] < 0 || k + static_cast<std::size_t>(counts[j]) > leaf_features.size())
        model.fail_at(feature_field.line, "num_features of leaf " + std::to_string(j) + " runs past leaf_features");
      tree.linear_const[internal + j] = constants[j];
      for (int64_t c = 0; c < counts[j]; ++c, ++k) {
        if (leaf_features[k] < 0 || leaf_features[k] > std::numeric_limits<int32_t>::max())
          model.fail_at(feature_field.line, "leaf feature out of range");
        tree.linear_features.push_back(static_cast<int32_t>(leaf_features[k]));
        tree.linear_coeffs.push_back(coeffs[k]);
      }
      tree.linear_offsets[internal + j + 1] = static_cast<uint32_t>(k);
    }
    // Splits (ids below `internal`) carry no terms, so their offsets stay 0.
  }
  return tree;
}

// Category vocabularies from pandas_categorical, mapped onto the categorical features in order.
void attach_pandas_categorical(const Json& lists, Schema& schema, const std::string& source) {
  if (lists.is_null()) return;
  if (!lists.is_array()) fail(source, ": pandas_categorical must be a list of lists");
  std::vector<std::size_t> categorical;
  for (std::size_t f = 0; f < schema.features.size(); ++f)
    if (schema.features[f].is_categorical()) categorical.push_back(f);
  if (lists.size() != categorical.size()) return;  // categorical_feature given by index: codes are taken as given
  for (std::size_t k = 0; k < lists.size(); ++k) {
    Feature& feature = schema.features[categorical[k]];
    if (!lists[k].is_array()) fail(source, ": pandas_categorical[", k, "] must be a list");
    for (const auto& v : lists[k]) {
      if (v.is_string()) feature.string_categories.push_back(v.get<std::string>());
      else if (v.is_number()) feature.number_categories.push_back(v.get<double>());
      else fail(source, ": pandas_categorical[", k, "] holds a value that is neither a string nor a number");
    }
    if (!feature.string_categories.empty() && !feature.number_categories.empty())
      fail(source, ": pandas_categorical[", k, "] mixes strings and numbers");
  }
}

void finish_spec(ModelSpec& spec, const ObjectiveInfo& objective, int per_iteration, bool average_output) {
  spec.rule = DecisionRule::kLightGBM;
  spec.task = objective.task;
  spec.link = objective.link;
  spec.link_scale = objective.scale;
  spec.num_classes = objective.task == Task::kRegression ? 0 : (objective.task == Task::kBinaryClassification ? 2 : objective.num_classes);
  spec.num_outputs = per_iteration;
  spec.base_margin.assign(static_cast<std::size_t>(per_iteration), 0.0);
  for (std::size_t t = 0; t < spec.trees.size(); ++t) spec.trees[t].output_group = static_cast<int32_t>(t % static_cast<std::size_t>(per_iteration));
  for (uint64_t b = 0; b <= spec.trees.size(); b += static_cast<uint64_t>(per_iteration)) spec.iteration_indptr.push_back(b);
  if (spec.iteration_indptr.back() != spec.trees.size()) spec.iteration_indptr.push_back(spec.trees.size());
  if (average_output) spec.average_divisor = static_cast<double>(spec.iteration_indptr.size() - 1);
  if (spec.task != Task::kRegression)
    for (int k = 0; k < spec.num_classes; ++k) spec.schema.output_labels.push_back(std::to_string(k));
}

}  // namespace

ModelSpec load_lightgbm_text(std::string_view bytes, const std::string& source, int threads) {
  const TextModel model(bytes, source);
  ModelSpec spec;
  spec.source = source;
  spec.format = "lightgbm-text";
  const Block& h = model.header;
  const Field& class_field = model.need(h, "num_class", "header");
  const Field& per_iteration_field = model.need(h, "num_tree_per_iteration", "header");
  const Field& max_feature_field = model.need(h, "max_feature_idx", "header");
  const int64_t num_class = model.integer(class_field, "num_class");
  const int64_t per_iteration = model.integer(per_iteration_field, "num_tree_per_iteration");
  const int64_t max_feature = model.integer(max_feature_field, "max_feature_idx");
  if (num_class < 1 || num_class > kMaxOutputs)
    model.fail_at(class_field.line, "num_class=" + std::to_string(num_class) + " out of range [1, " + std::to_string(kMaxOutputs) + "]");
  // Output groups are a claim: beyond kMaxUnbackedOutputs the file must hold a tree for each.
  if (per_iteration < 1 || per_iteration > max_outputs(model.trees.size()))
    model.fail_at(per_iteration_field.line, "num_tree_per_iteration=" + std::to_string(per_iteration) + " out of range: " +
                                                outputs_rule(model.trees.size()) + " trees)");
  if (max_feature < -1 || max_feature >= int64_t(1) << 28)
    model.fail_at(max_feature_field.line, "max_feature_idx=" + std::to_string(max_feature) + " out of range [-1, 2^28)");
  spec.num_features = static_cast<int>(max_feature + 1);
  spec.objective = h.count("objective") ? std::string(h.at("objective").value) : "custom";
  const ObjectiveInfo objective = parse_objective(spec.objective, static_cast<int>(num_class), source);
  if (objective.task == Task::kMulticlassClassification && per_iteration != num_class)
    model.fail_at(per_iteration_field.line, "a " + std::to_string(num_class) + "-class model needs as many trees per iteration");

  // The feature count is a claim: the names the file lists (views into it) are counted
  // before any feature is made; a file without names is held to max_unnamed_features.
  std::vector<std::string_view> names, infos;
  if (h.count("feature_names")) names = split_words(h.at("feature_names").value);
  if (h.count("feature_infos")) infos = split_words(h.at("feature_infos").value);
  if (!names.empty() && names.size() != static_cast<std::size_t>(spec.num_features))
    model.fail_at(h.at("feature_names").line, "feature_names has " + std::to_string(names.size()) + " names for " + std::to_string(spec.num_features) +
                                                  " features (max_feature_idx=" + std::to_string(max_feature) + " on line " +
                                                  std::to_string(max_feature_field.line) + ")");
  if (names.empty() && spec.num_features > max_unnamed_features(bytes.size()))
    model.fail_at(max_feature_field.line, "max_feature_idx=" + std::to_string(max_feature) + " but the file has no feature_names: " +
                                              unnamed_features_rule(bytes.size()));
  spec.schema.features.resize(static_cast<std::size_t>(spec.num_features));
  for (std::size_t f = 0; f < spec.schema.features.size(); ++f) {
    Feature& feature = spec.schema.features[f];
    feature.name = names.empty() ? "Column_" + std::to_string(f) : std::string(names[f]);
    if (f < infos.size() && infos[f] != "none" && !infos[f].empty() && infos[f][0] != '[')
      feature.type = FeatureType::kCategorical;  // categorical infos list the codes: "-1:2:0:3"
  }

  // A "Tree=" line is not a tree: trees are only made for blocks that have the two lines
  // every tree needs (a block without them is read on its own, after those before it, to
  // give the error a sequential read gives).
  std::size_t complete = 0;
  while (complete < model.trees.size() && model.trees[complete].count("num_leaves") && model.trees[complete].count("leaf_value"))
    ++complete;
  spec.trees.resize(complete);
  parallel_for(complete, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) spec.trees[t] = read_text_tree(model, model.trees[t], t);
  }, kMinTreesPerThread);
  if (complete < model.trees.size()) read_text_tree(model, model.trees[complete], complete);  // throws
  if (!model.pandas_categorical.empty()) {
    Json lists;
    try {
      lists = parse_json_document(model.pandas_categorical, JsonEncoding::kText, source);
    } catch (const Error& e) {
      model.fail_at(model.pandas_line, std::string("pandas_categorical is not valid JSON: ") + e.what());
    }
    attach_pandas_categorical(lists, spec.schema, source);
  }
  finish_spec(spec, objective, static_cast<int>(per_iteration), h.count("average_output") > 0);
  return spec;
}

ModelSpec load_lightgbm_json(const Json& document, const std::string& source, std::size_t file_bytes) {
  ModelSpec spec;
  spec.source = source;
  spec.format = "lightgbm-json";
  const JsonCursor root(document, source, "");
  const JsonCursor tree_info = root.at("tree_info");
  const std::size_t num_trees = tree_info.size();
  const int64_t num_class = root.at("num_class").as_int();
  const int64_t per_iteration = root.at("num_tree_per_iteration").as_int();
  const int64_t max_feature = root.at("max_feature_idx").as_int();
  if (num_class < 1 || num_class > kMaxOutputs)
    root.at("num_class").fail("num_class " + std::to_string(num_class) + " out of range [1, " + std::to_string(kMaxOutputs) + "]");
  if (per_iteration < 1 || per_iteration > max_outputs(num_trees))
    root.at("num_tree_per_iteration").fail(std::to_string(per_iteration) + " out of range: " + outputs_rule(num_trees) + " trees in tree_info)");
  if (max_feature < -1 || max_feature >= int64_t(1) << 28) root.at("max_feature_idx").fail(std::to_string(max_feature) + " out of range [-1, 2^28)");
  spec.num_features = static_cast<int>(max_feature + 1);
  spec.objective = root.has("objective") && root.at("objective").value().is_string() ? root.at("objective").as_string() : "custom";
  const ObjectiveInfo objective = parse_objective(spec.objective, static_cast<int>(num_class), source);
  if (objective.task == Task::kMulticlassClassification && per_iteration != num_class)
    root.at("num_tree_per_iteration").fail("a multi-class model needs one tree per class and iteration");

  std::vector<std::string> names;
  if (root.has("feature_names")) names = root.at("feature_names").string_array();
  if (!names.empty() && names.size() != static_cast<std::size_t>(spec.num_features))
    root.at("feature_names").fail("has " + std::to_string(names.size()) + " names for " + std::to_string(spec.num_features) +
                                  " features (max_feature_idx " + std::to_string(max_feature) + ")");
  if (names.empty() && spec.num_features > max_unnamed_features(file_bytes))
    root.at("max_feature_idx").fail(std::to_string(max_feature) + " but the file has no feature_names: " + unnamed_features_rule(file_bytes));
  spec.schema.features.resize(static_cast<std::size_t>(spec.num_features));
  for (std::size_t f = 0; f < spec.schema.features.size(); ++f) {
    Feature& feature = spec.schema.features[f];
    feature.name = names.empty() ? "Column_" + std::to_string(f) : names[f];
    // feature_infos: {name: {min_value, max_value, values}}; categorical features list their codes.
    if (root.has("feature_infos") && root.at("feature_infos").has(feature.name.c_str())) {
      const JsonCursor info = root.at("feature_infos").at(feature.name.c_str());
      if (info.has("values") && info.at("values").size() > 0) feature.type = FeatureType::kCategorical;
    }
  }

  CategoryBudget budget(file_bytes);
  for (std::size_t t = 0; t < num_trees; ++t) {
    const JsonCursor structure = tree_info.at(t).at("tree_structure");
    // Iterative walk: node ids in visit order; leaves and splits share one numbering.
    TreeSpec tree;
    std::vector<const Json*> nodes;
    // Each node's JSON path is rebuilt from its parents when a cursor needs it: kept for
    // every node, paths would take memory growing with the file times the tree's depth.
    std::vector<std::pair<int32_t, bool>> parent;  // (parent, is the right child)
    nodes.push_back(&structure.value());
    parent.emplace_back(-1, false);
    auto path_of = [&](std::size_t i) {
      std::vector<const char*> steps;  // from the node up to the root
      for (auto j = static_cast<int32_t>(i); parent[static_cast<std::size_t>(j)].first >= 0; j = parent[static_cast<std::size_t>(j)].first)
        steps.push_back(parent[static_cast<std::size_t>(j)].second ? "/right_child" : "/left_child");
      std::string path = structure.path();
      for (auto it = steps.rbegin(); it != steps.rend(); ++it) path += *it;
      return path;
    };
    std::vector<std::pair<int32_t, int32_t>> children;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const JsonCursor node(*nodes[i], source, path_of(i));
      if (nodes.size() > (std::size_t(1) << 30)) node.fail("tree too large");
      if (node.has("leaf_value") || !node.has("split_feature")) {
        children.emplace_back(-1, -1);
        continue;
      }
      const auto l = static_cast<int32_t>(nodes.size());
      nodes.push_back(&node.at("left_child").value());
      parent.emplace_back(static_cast<int32_t>(i), false);
      nodes.push_back(&node.at("right_child").value());
      parent.emplace_back(static_cast<int32_t>(i), true);
      children.emplace_back(l, l + 1);
    }
    size_tree(tree, nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const JsonCursor node(*nodes[i], source, path_of(i));
      if (children[i].first < 0) {
        tree.leaf_value[i] = node.at("leaf_value").as_double();
        if (node.has("leaf_const")) {  // linear leaf
          if (tree.linear_offsets.empty()) {
            tree.linear_offsets.assign(nodes.size() + 1, 0);
            tree.linear_const.assign(nodes.size(), 0.0);
          }
          tree.linear_const[i] = node.at("leaf_const").as_double();
          const auto features = node.at("leaf_features").int_array();
          const auto coeffs = node.at("leaf_coeff").double_array();
          if (features.size() != coeffs.size()) node.fail("leaf_features and leaf_coeff differ in length");
          for (std::size_t k = 0; k < features.size(); ++k) {
            if (features[k] < 0 || features[k] > std::numeric_limits<int32_t>::max()) node.at("leaf_features").fail("feature out of range");
            tree.linear_features.push_back(static_cast<int32_t>(features[k]));
            tree.linear_coeffs.push_back(coeffs[k]);
          }
        }
        if (!tree.linear_offsets.empty()) tree.linear_offsets[i + 1] = static_cast<uint32_t>(tree.linear_features.size());
        tree.category_offsets[i + 1] = static_cast<uint32_t>(tree.category_words.size());
        continue;
      }
      if (!tree.linear_offsets.empty()) tree.linear_offsets[i + 1] = static_cast<uint32_t>(tree.linear_features.size());
      tree.left_children[i] = children[i].first;
      tree.right_children[i] = children[i].second;
      const std::string decision = node.at("decision_type").as_string();
      const std::string missing = node.has("missing_type") ? node.at("missing_type").as_string() : "None";
      int dt = 0;
      if (decision == "==") dt |= 1;
      else if (decision != "<=") node.at("decision_type").fail("unknown decision type '" + decision + "' (expected <= or ==)");
      if (node.has("default_left")) {
        const Json& flag = node.at("default_left").value();
        if (!flag.is_boolean()) node.at("default_left").fail("expected true or false");
        if (flag.get<bool>()) dt |= 2;
      }
      if (missing == "Zero") dt |= 4;
      else if (missing == "NaN") dt |= 8;
      else if (missing != "None") node.at("missing_type").fail("unknown missing type '" + missing + "'");
      std::vector<int64_t> codes;
      std::vector<uint32_t> set;
      double threshold = 0;
      uint32_t bits = 0;
      if (dt & 1) {
        const JsonCursor field = node.at("threshold");
        const std::string text = field.value().is_string() ? field.as_string() : std::to_string(field.as_int());
        std::size_t start = 0;
        while (start <= text.size()) {
          std::size_t stop = text.find("||", start);
          if (stop == std::string::npos) stop = text.size();
          int64_t code = 0;
          const std::string token = text.substr(start, stop - start);
          auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), code);
          if (ec != std::errc() || end != token.data() + token.size()) field.fail("category '" + token + "' is not an integer");
          if (code >= kMaxCategory) field.fail("category " + token + " out of range [0, 2^24)");
          if (code >= 0) codes.push_back(code);  // LightGBM never lists negatives; they go right anyway
          start = stop + 2;
        }
        append_category_set(set, codes.data(), codes.size());  // codes checked above
        if (!budget.charge(set.size() + 1)) field.fail(budget.rule());
        bits = static_cast<uint32_t>(32 * set.size());
      } else {
        threshold = node.at("threshold").as_double();
      }
      const int64_t feature = node.at("split_feature").as_int();
      if (feature < 0 || feature > std::numeric_limits<int32_t>::max()) node.at("split_feature").fail("feature index out of range");
      set_split(tree, i, feature, threshold, dt, set, bits);
    }
    spec.trees.push_back(std::move(tree));
  }
  if (root.has("pandas_categorical")) attach_pandas_categorical(root.at("pandas_categorical").value(), spec.schema, source);
  finish_spec(spec, objective, static_cast<int>(per_iteration), root.has("average_output") && root.at("average_output").value().is_boolean() &&
                                                                     root.at("average_output").value().get<bool>());
  return spec;
}

}  // namespace floresta::detail
