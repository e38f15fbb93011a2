// Loader for floresta's own model JSON (written by floresta.export from scikit-learn
// estimators). The format is documented in docs/floresta-model.md, with a JSON Schema in
// docs/floresta-model.schema.json that the exporter's tests validate every file against.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "floresta/error.hpp"
#include "loaders.hpp"

namespace floresta::detail {
namespace {

constexpr int64_t kFormatVersion = 1;

template <class T>
T pick(const JsonCursor& field, const std::vector<std::pair<const char*, T>>& choices) {
  const std::string text = field.as_string();
  std::string known;
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
    known += std::string(known.empty() ? "" : ", ") + name;
  }
  field.fail("unknown value '" + text + "' (expected one of: " + known + ")");
}

std::vector<int32_t> int32_array(const JsonCursor& field, std::size_t expected) {
  const auto values = field.int_array();
  if (values.size() != expected)
    field.fail("has " + std::to_string(values.size()) + " entries, expected " + std::to_string(expected));
  std::vector<int32_t> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] < std::numeric_limits<int32_t>::min() || values[i] > std::numeric_limits<int32_t>::max())
      field.at(i).fail("does not fit in int32");
    out[i] = static_cast<int32_t>(values[i]);
  }
  return out;
}

std::vector<double> doubles(const JsonCursor& field, std::size_t expected) {
  auto values = field.double_array();
  if (values.size() != expected)
    field.fail("has " + std::to_string(values.size()) + " entries, expected " + std::to_string(expected));
  return values;
}

TreeSpec read_tree(const JsonCursor& tree, int leaf_width, CategoryBudget& budget) {
  TreeSpec spec;
  const JsonCursor left = tree.at("left_children");
  const std::size_t n = left.size();
  spec.left_children = int32_array(left, n);
  spec.right_children = int32_array(tree.at("right_children"), n);
  spec.split_feature = int32_array(tree.at("split_feature"), n);
  spec.threshold = doubles(tree.at("threshold"), n);
  const auto defaults = int32_array(tree.at("default_left"), n);
  spec.default_left.assign(defaults.begin(), defaults.end());
  for (std::size_t i = 0; i < n; ++i)
    if (defaults[i] != 0 && defaults[i] != 1) tree.at("default_left").at(i).fail("must be 0 or 1");
  if (leaf_width > 1) {
    std::size_t values = 0;
    if (!checked_mul(n, static_cast<std::size_t>(leaf_width), values)) tree.at("leaf_vector").fail("n x leaf_width overflows");
    spec.leaf_vector = doubles(tree.at("leaf_vector"), values);
    spec.leaf_value.assign(n, 0.0);
  } else {
    spec.leaf_value = doubles(tree.at("leaf_value"), n);
  }
  if (tree.has("cover")) spec.cover = doubles(tree.at("cover"), n);
  spec.output_group = tree.has("output_group") ? static_cast<int32_t>(tree.at("output_group").as_int()) : 0;
  spec.is_categorical.assign(n, 0);
  if (tree.has("categorical")) {
    // {"nodes": [...], "categories": [[codes going left], ...], "category_counts": [...]}
    const JsonCursor cat = tree.at("categorical");
    const auto nodes = cat.at("nodes").int_array();
    const JsonCursor lists = cat.at("categories");
    const auto counts = cat.at("category_counts").int_array();
    if (lists.size() != nodes.size() || counts.size() != nodes.size())
      cat.fail("nodes, categories and category_counts differ in length");
    std::vector<std::vector<int64_t>> per_node(n);
    spec.category_bits.assign(n, 0);
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      if (nodes[k] < 0 || nodes[k] >= static_cast<int64_t>(n)) cat.at("nodes").at(k).fail("node id out of range");
      const auto i = static_cast<std::size_t>(nodes[k]);
      if (spec.is_categorical[i]) cat.at("nodes").at(k).fail("node listed twice");
      spec.is_categorical[i] = 1;
      per_node[i] = lists.at(k).int_array();
      int64_t top = -1;
      for (int64_t c : per_node[i]) {
        if (c < 0 || c >= kMaxCategory) lists.at(k).fail("category " + std::to_string(c) + " out of range [0, 2^24)");
        top = std::max(top, c);
      }
      if (counts[k] < 0 || counts[k] > kMaxCategory) cat.at("category_counts").at(k).fail("out of range [0, 2^24]");
      spec.category_bits[i] = static_cast<uint32_t>(std::max(counts[k], top + 1));
      // category_counts is a claim: the compiled set takes a word per 32 codes it knows.
      if (!budget.charge((uint64_t{spec.category_bits[i]} + 31) / 32 + 1))
        cat.at("category_counts").at(k).fail("category count " + std::to_string(counts[k]) + ": " + budget.rule());
    }
    spec.category_offsets.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
      append_category_set(spec.category_words, per_node[i].data(), per_node[i].size());
      spec.category_offsets[i + 1] = static_cast<uint32_t>(spec.category_words.size());
    }
  }
  return spec;
}

// The raw input features: {name, type, categories?, numbers_are_codes?}.
std::vector<Feature> read_features(const JsonCursor& features) {
  std::vector<Feature> out;
  for (std::size_t f = 0; f < features.size(); ++f) {
    const JsonCursor item = features.at(f);
    Feature feature;
    feature.name = item.at("name").as_string();
    feature.type = pick<FeatureType>(item.at("type"), {{"numeric", FeatureType::kNumeric}, {"categorical", FeatureType::kCategorical}});
    if (item.has("categories")) {
      const JsonCursor categories = item.at("categories");
      for (std::size_t k = 0; k < categories.size(); ++k) {
        const Json& v = categories.at(k).value();
        if (v.is_string()) feature.string_categories.push_back(v.get<std::string>());
        else if (v.is_number()) feature.number_categories.push_back(v.get<double>());
        else categories.at(k).fail("a category must be a string or a number");
      }
      if (!feature.string_categories.empty() && !feature.number_categories.empty())
        categories.fail("mixes strings and numbers");
    }
    if (item.has("numbers_are_codes")) {
      const Json& flag = item.at("numbers_are_codes").value();
      if (!flag.is_boolean()) item.at("numbers_are_codes").fail("expected true or false");
      feature.numbers_are_codes = flag.get<bool>();
    }
    out.push_back(std::move(feature));
  }
  return out;
}

bool read_flag(const JsonCursor& object, const char* key) {
  if (!object.has(key)) return false;
  const Json& flag = object.at(key).value();
  if (!flag.is_boolean()) object.at(key).fail("expected true or false");
  return flag.get<bool>();
}

// {"<feature>": {"fold": [...], "aliases": {...}, "leading_words", "otherwise", "min", "max",
// "display": {...}}}: the input rules (schema.hpp InputRule). Types are checked here, where
// the JSON path is known; what a rule says about the vocabulary is checked by compile().
void read_input_rules(const JsonCursor& input, std::vector<Feature>& features) {
  if (!input.value().is_object()) input.fail("expected an object of feature names to input rules");
  const auto text_map = [](const JsonCursor& object) {
    if (!object.value().is_object()) object.fail("expected an object of texts to categories");
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [key, value] : object.value().items()) out.emplace_back(key, object.at(key.c_str()).as_string());
    return out;
  };
  for (const auto& [name, unused] : input.value().items()) {
    const JsonCursor item = input.at(name.c_str());
    const std::string& key = name;  // C++17 lambdas cannot capture a structured binding (Clang holds to it)
    const auto feature = std::find_if(features.begin(), features.end(), [&](const Feature& f) { return f.name == key; });
    if (feature == features.end()) item.fail("names no feature of the model");
    if (!item.value().is_object()) item.fail("expected an object (the feature's input rule)");
    InputRule& rule = feature->input;
    rule.present = true;
    for (const auto& [key, value] : item.value().items()) {
      const JsonCursor field = item.at(key.c_str());
      if (key == "fold") {
        for (std::size_t k = 0; k < field.size(); ++k) {
          const std::string what = field.at(k).as_string();
          if (what == "case") rule.fold_case = true;
          else if (what == "accents") rule.fold_accents = true;
          else if (what == "spaces") rule.fold_spaces = true;
          else field.at(k).fail("unknown folding '" + what + "' (expected case, accents or spaces)");
        }
      } else if (key == "aliases") {
        rule.aliases = text_map(field);
      } else if (key == "display") {
        rule.display = text_map(field);
      } else if (key == "leading_words") {
        rule.leading_words = read_flag(item, "leading_words");
      } else if (key == "otherwise") {
        rule.otherwise = field.as_string();
      } else if (key == "min" || key == "max") {
        if (!value.is_number()) field.fail("expected a number");
        const double bound = value.get<double>();
        if (!std::isfinite(bound)) field.fail("must be finite");
        (key == "min" ? rule.min : rule.max) = bound;
      } else {
        field.fail("unknown input rule field (expected fold, aliases, leading_words, otherwise, min, max or display)");
      }
    }
  }
}

// {"columns": [{"input", "steps": [{"kind", "a", "b", "table"}]}], "tables": [...]}
Preprocessing read_preprocessing(const JsonCursor& node) {
  Preprocessing plan;
  const JsonCursor tables = node.at("tables");
  for (std::size_t t = 0; t < tables.size(); ++t) {
    const JsonCursor item = tables.at(t);
    LookupTable table;
    table.name = item.has("name") ? item.at("name").as_string() : "lookup " + std::to_string(t);
    table.values = item.at("values").double_array();
    if (item.has("keys")) table.keys = item.at("keys").double_array();
    table.unknown = item.at("unknown").as_double();
    table.missing = item.at("missing").as_double();
    table.unknown_is_error = read_flag(item, "unknown_is_error");
    table.missing_is_error = read_flag(item, "missing_is_error");
    plan.tables.push_back(std::move(table));
  }
  const JsonCursor columns = node.at("columns");
  for (std::size_t j = 0; j < columns.size(); ++j) {
    const JsonCursor item = columns.at(j);
    OutputColumn column;
    const int64_t input = item.at("input").as_int();
    if (input < 0 || input > std::numeric_limits<int32_t>::max()) item.at("input").fail("out of range");
    column.input = static_cast<uint32_t>(input);
    const JsonCursor steps = item.at("steps");
    for (std::size_t k = 0; k < steps.size(); ++k) {
      const JsonCursor s = steps.at(k);
      Step step;
      step.kind = pick<StepKind>(s.at("kind"), {{"standardize", StepKind::kStandardize},
                                                {"scale_shift", StepKind::kScaleShift},
                                                {"clip", StepKind::kClip},
                                                {"impute", StepKind::kImpute},
                                                {"missing_indicator", StepKind::kMissingIndicator},
                                                {"lookup_code", StepKind::kLookupCode},
                                                {"lookup_value", StepKind::kLookupValue}});
      if (s.has("a")) step.a = s.at("a").as_double();
      if (s.has("b")) step.b = s.at("b").as_double();
      if (s.has("table")) {
        const int64_t table = s.at("table").as_int();
        if (table < 0 || table >= static_cast<int64_t>(plan.tables.size())) s.at("table").fail("no such lookup table");
        step.table = static_cast<uint32_t>(table);
      }
      column.steps.push_back(step);
    }
    plan.columns.push_back(std::move(column));
  }
  return plan;
}

// The author's metadata as plain JSON, for ModelSpec::metadata. A text document is plain
// already; a UBJSON one may hold packed numeric arrays (binary values here) and non-finite
// numbers, which JSON text cannot say: arrays are unpacked, non-finite numbers refused.
Json plain_metadata(const JsonCursor& at) {
  const Json& value = at.value();
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& item : value.items()) out[item.key()] = plain_metadata(at.at(item.key().c_str()));
    return out;
  }
  if (value.is_binary()) {
    const Json::binary_t& packed = value.get_binary();
    if (packed_is_integer(packed)) {
      std::vector<int64_t> ints(packed_size(packed));
      packed_to_ints(packed, ints.data());
      return ints;
    }
    std::vector<double> numbers(packed_size(packed));
    packed_to_doubles(packed, numbers.data());
    for (double x : numbers)
      if (!std::isfinite(x)) at.fail("holds a non-finite number, which JSON cannot write");
    return numbers;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (std::size_t i = 0; i < value.size(); ++i) out.push_back(plain_metadata(at.at(i)));
    return out;
  }
  if (value.is_number_float() && !std::isfinite(value.get<double>()))
    at.fail("not a finite number, which JSON cannot write");
  return value;
}

// A model file of another format, embedded (XGBoost and LightGBM scikit-learn wrappers).
ModelSpec read_embedded(const JsonCursor& estimator, const std::string& source, std::size_t file_bytes) {
  const std::string format = estimator.at("format").as_string();
  LoaderInput input;
  input.source = source;
  ModelSpec spec;
  if (format == "xgboost") {
    input.document = &estimator.at("document").value();
    input.file_bytes = file_bytes;
    spec = load_xgboost(input);
  } else if (format == "lightgbm-text") {
    const std::string text = estimator.at("text").as_string();
    input.bytes = text;
    input.file_bytes = text.size();
    spec = load_lightgbm_text(input);
  } else {
    estimator.at("format").fail("unknown embedded format '" + format + "' (expected xgboost or lightgbm-text)");
  }
  spec.format = "floresta-json";
  spec.use_best_iteration = read_flag(estimator, "use_best_iteration");
  return spec;
}

ModelSpec read_native(const JsonCursor& root, const std::string& source, std::size_t file_bytes) {
  ModelSpec spec;
  spec.source = source;
  spec.format = "floresta-json";
  spec.task = pick<Task>(root.at("task"), {{"regression", Task::kRegression},
                                           {"binary", Task::kBinaryClassification},
                                           {"multiclass", Task::kMulticlassClassification},
                                           {"outlier", Task::kOutlierDetection},
                                           {"clustering", Task::kClustering}});
  spec.rule = pick<DecisionRule>(root.at("decision_rule"), {{"sklearn_tree", DecisionRule::kSkLearnTree},
                                                            {"lightgbm", DecisionRule::kLightGBM},
                                                            {"sklearn_hist", DecisionRule::kSkLearnHist},
                                                            {"xgboost", DecisionRule::kXGBoost}});
  spec.link = pick<Link>(root.at("link"), {{"identity", Link::kIdentity},
                                           {"sigmoid", Link::kSigmoid},
                                           {"softmax", Link::kSoftmax},
                                           {"exp", Link::kExp},
                                           {"isolation", Link::kIsolation}});
  if (root.has("link_scale")) spec.link_scale = root.at("link_scale").as_double();
  if (root.has("average_divisor")) spec.average_divisor = root.at("average_divisor").as_double();
  if (root.has("decision_offset")) spec.decision_offset = root.at("decision_offset").as_double();
  spec.class_from_margin = read_flag(root, "class_from_margin");

  const int64_t outputs = root.at("num_outputs").as_int();
  // num_outputs is a claim: base_margin must hold that many values (read before anything is
  // sized per output), k-means as many centres.
  if (outputs < 1 || outputs > kMaxOutputs) root.at("num_outputs").fail(std::to_string(outputs) + " out of range [1, 10^6]");
  spec.num_outputs = static_cast<int>(outputs);
  const int64_t width = root.has("leaf_width") ? root.at("leaf_width").as_int() : 1;
  if (width != 1 && width != outputs) root.at("leaf_width").fail("must be 1 or num_outputs");
  spec.leaf_width = static_cast<int>(width);
  spec.base_margin = doubles(root.at("base_margin"), static_cast<std::size_t>(outputs));
  spec.num_features = static_cast<int>(root.at("num_features").as_int());
  if (spec.task == Task::kBinaryClassification || spec.task == Task::kMulticlassClassification)
    spec.num_classes = spec.task == Task::kBinaryClassification ? 2 : spec.num_outputs;

  if (spec.task == Task::kClustering) {
    // {"kmeans": {"centers": [[...], ...]}}: num_outputs centres of num_features values.
    const JsonCursor centers = root.at("kmeans").at("centers");
    if (centers.size() != static_cast<std::size_t>(outputs))
      centers.fail("has " + std::to_string(centers.size()) + " centres, num_outputs is " + std::to_string(outputs));
    for (std::size_t j = 0; j < centers.size(); ++j) {
      const auto row = doubles(centers.at(j), static_cast<std::size_t>(spec.num_features));
      spec.centers.insert(spec.centers.end(), row.begin(), row.end());
    }
    return spec;
  }
  const JsonCursor trees = root.at("trees");
  CategoryBudget budget(file_bytes);
  for (std::size_t t = 0; t < trees.size(); ++t) spec.trees.push_back(read_tree(trees.at(t), spec.leaf_width, budget));
  if (root.has("iteration_indptr")) {
    for (int64_t v : root.at("iteration_indptr").int_array()) {
      if (v < 0) root.at("iteration_indptr").fail("negative entry");
      spec.iteration_indptr.push_back(static_cast<uint64_t>(v));
    }
  } else {
    for (uint64_t i = 0; i <= spec.trees.size(); ++i) spec.iteration_indptr.push_back(i);
  }
  return spec;
}

}  // namespace

ModelSpec load_floresta_json(const LoaderInput& input) {
  const std::string& source = input.source;
  const std::size_t file_bytes = input.file_bytes;
  const JsonCursor root(*input.document, source, "");
  const int64_t version = root.at("floresta_format").as_int();
  if (version != kFormatVersion)
    root.at("floresta_format").fail("format version " + std::to_string(version) + " is not supported (this floresta reads version " +
                                    std::to_string(kFormatVersion) + ")");
  const int64_t num_features = root.at("num_features").as_int();
  if (num_features < 0 || num_features >= int64_t(1) << 28)
    root.at("num_features").fail(std::to_string(num_features) + " out of range [0, 2^28)");

  ModelSpec spec = root.has("estimator") ? read_embedded(root.at("estimator"), source, file_bytes) : read_native(root, source, file_bytes);
  if (spec.num_features != num_features)
    root.at("num_features").fail("says " + std::to_string(num_features) + ", the estimator takes " + std::to_string(spec.num_features));
  if (root.has("producer") && root.at("producer").has("estimator"))
    spec.objective = root.at("producer").at("estimator").as_string() + (spec.objective.empty() ? "" : " (" + spec.objective + ")");

  // An embedded estimator keeps its own schema (names, types, vocabularies) unless the
  // file describes the raw inputs itself, as pipelines do.
  if (root.has("features") || !root.has("estimator")) spec.schema.features = read_features(root.at("features"));
  if (root.has("input")) read_input_rules(root.at("input"), spec.schema.features);
  if (root.has("preprocessing")) spec.preprocessing = read_preprocessing(root.at("preprocessing"));
  else if (spec.schema.features.size() != static_cast<std::size_t>(num_features))
    root.at("features").fail("lists " + std::to_string(spec.schema.features.size()) + " features, num_features is " +
                             std::to_string(num_features));

  // Classifiers: their class labels. k-means models: a name per cluster (centre), which
  // only strings can be, each once, so that a name tells a cluster.
  const bool classifier = spec.task == Task::kBinaryClassification || spec.task == Task::kMulticlassClassification;
  const bool clusterer = spec.task == Task::kClustering;
  if (root.has("classes") || (classifier && !root.has("estimator"))) {
    const JsonCursor classes = root.at("classes");
    if (!classifier && !clusterer) classes.fail("only classifiers and k-means models have classes");
    spec.schema.output_labels.clear();
    for (std::size_t k = 0; k < classes.size(); ++k) {
      const Json& v = classes.at(k).value();
      if (v.is_string()) spec.schema.output_labels.push_back(v.get<std::string>());
      else if (clusterer) classes.at(k).fail("a cluster name must be a string");
      else if (v.is_number() || v.is_boolean()) spec.schema.output_labels.push_back(v.dump());
      else classes.at(k).fail("a class label must be a string, number or boolean");
    }
    const int expected = clusterer ? spec.num_outputs : spec.num_classes;
    if (classes.size() != static_cast<std::size_t>(expected))
      classes.fail("has " + std::to_string(classes.size()) + " labels, the model has " + std::to_string(expected) +
                   (clusterer ? " clusters" : " classes"));
    if (clusterer) {
      std::set<std::string> seen;
      for (std::size_t k = 0; k < classes.size(); ++k)
        if (!seen.insert(spec.schema.output_labels[k]).second)
          classes.at(k).fail("repeats the cluster name '" + spec.schema.output_labels[k] + "'");
    }
  }
  if (root.has("metadata")) {
    const JsonCursor metadata = root.at("metadata");
    if (!metadata.value().is_object()) metadata.fail("must be an object");
    try {
      spec.metadata = plain_metadata(metadata).dump();
    } catch (const Json::exception&) {  // dump() checks UTF-8, which UBJSON strings may lack
      metadata.fail("holds a string that is not UTF-8");
    }
  }
  return spec;
}

}  // namespace floresta::detail
