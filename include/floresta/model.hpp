// floresta/model.hpp — Model: a loaded, compiled, immutable model, and how to score it.
//
//   floresta::Model model = floresta::load("model.json");        // XGBoost JSON or UBJSON
//   std::vector<float> X = ...;                                    // rows x num_features
//   auto proba = model.predict_proba(X.data(), rows, model.num_features());
//   double out[2];
//   model.score_row(floresta::OutputKind::kProba, X.data(), model.num_features(), out);
//
// Loading is parse -> validate -> compile; the result shares one immutable compiled forest,
// so copying a Model is cheap. Outputs are written as double, row-major:
//   predict_raw   num_outputs() margins per row (one per class for multi-class)
//   predict_proba num_classes() probabilities per row (classifiers only; binary gives [1-p, p])
//   predict       the class index for classifiers; the transformed value(s) for regressors;
//                 -1 (outlier) / 1 (inlier) for outlier detectors
//   score(kValue) transformed values (regression values; IsolationForest score_samples)
//   score(kDecision) outlier detectors: score_samples - offset (decision_function)
//   score(kDistances) k-means: distance to every centre (transform); predict gives the label
//
// Thread-safety: every member function is const and thread-safe; scoring allocates nothing
// except the vectors the convenience overloads return. With PredictOptions::n_threads > 1
// large batches are split by rows across threads (batches under 256 rows per thread stay on
// the caller's thread).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "floresta/detail/threads.hpp"
#include "floresta/error.hpp"
#include "floresta/forest.hpp"
#include "floresta/kmeans.hpp"
#include "floresta/matrix.hpp"
#include "floresta/preprocess.hpp"
#include "floresta/record.hpp"
#include "floresta/schema.hpp"
#include "floresta/spec.hpp"

namespace floresta {

using detail::OutputKind;

// One class of a ranked answer: its label, its probability and its index in the model.
struct RankedClass {
  std::string label;
  double probability = 0;
  std::size_t index = 0;
};

struct LoadOptions {
  // Keep only the rounds up to the file's best_iteration (as XGBoost's scikit-learn wrapper
  // predicts after early stopping). Off by default, like Booster.predict.
  bool use_best_iteration = false;
  // Keep only the first `num_iterations` boosting rounds (0 = all). Applied after
  // use_best_iteration; like LightGBM's num_iteration and XGBoost's iteration_range=(0, n).
  int num_iterations = 0;
  // Deepest tree accepted; deeper trees are refused at load time.
  int max_depth = 1024;
  // Also compile numeric forests to trees that compare 16-bit bins (quantized.hpp): the
  // fast kernels, exact by construction, for about 8 bytes per node more memory. Off, the
  // forest is scored by the value walk (same results).
  bool quantize = true;
  // Threads that parse and check the trees of big models (64 trees or more a thread), as
  // XGBoost and LightGBM load theirs: 0 = one per hardware thread. The model is the same
  // whatever the count, and so is the error a bad file gets.
  int n_threads = 0;
};

struct PredictOptions {
  int n_threads = 1;  // 0 = one per hardware thread
};

namespace detail {

using AnyEstimator = std::variant<Forest<XGBoostRule>, Forest<LightGBMRule>, Forest<SkLearnHistRule>,
                                  Forest<SkLearnTreeRule>, KMeans>;

template <class In>
void score_rows(const KMeans& model, const MatrixView<In>& X, std::size_t begin, std::size_t end,
                const OutputPlan& plan, double* out) {
  if (plan.kind == OutputKind::kDistances) kmeans_distances(model, X, begin, end, out);
  else kmeans_labels(model, X, begin, end, out);
}

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
  AnyEstimator estimator;
  // Record encoding: feature by name, string category -> code, numeric category -> code
  // (for features whose numbers are codes), and the code an unseen category gets.
  std::unordered_map<std::string, std::size_t> feature_index;
  std::vector<std::unordered_map<std::string, double>> string_codes;
  std::vector<std::unordered_map<double, double>> number_codes;
  std::vector<double> unknown_code;
};

constexpr std::size_t kPreprocessChunk = 128;

}  // namespace detail

class Model {
 public:
  explicit Model(std::shared_ptr<const detail::ModelData> data) : data_(std::move(data)) {}

  // ---- metadata ----
  std::size_t num_features() const { return data_->schema.features.size(); }
  std::vector<std::string> feature_names() const {
    std::vector<std::string> names;
    for (const auto& f : data_->schema.features) names.push_back(f.name);
    return names;
  }
  std::size_t num_outputs() const { return data_->num_outputs; }
  int num_classes() const { return data_->num_classes; }
  Task task() const { return data_->task; }
  bool is_classifier() const {
    return data_->task == Task::kBinaryClassification || data_->task == Task::kMulticlassClassification;
  }
  bool is_outlier_detector() const { return data_->task == Task::kOutlierDetection; }
  bool is_clusterer() const { return data_->task == Task::kClustering; }
  double decision_offset() const { return data_->decision_offset; }
  const std::string& objective() const { return data_->objective; }
  const std::string& format() const { return data_->format; }
  const std::string& source() const { return data_->source; }
  std::size_t num_trees() const { return data_->num_trees; }
  int64_t best_iteration() const { return data_->best_iteration; }
  const Schema& schema() const { return data_->schema; }
  Link link() const { return data_->link; }

  // Values written per row by `kind`.
  std::size_t output_width(OutputKind kind) const {
    return detail::output_width(kind, data_->num_outputs);
  }

  // ---- allocation-free scoring into a caller buffer of X.rows * output_width(kind) ----
  // Models with preprocessing transform chunks of rows into a per-thread buffer first.
  template <class T>
  void score(OutputKind kind, const MatrixView<T>& X, double* out, const PredictOptions& options = {}) const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "inputs are float or double");
    check_columns(X.cols);
    const detail::OutputPlan plan = plan_for(kind);
    const std::size_t width = output_width(kind);
    const Preprocessing& pre = data_->preprocessing;
    std::visit(
        [&](const auto& estimator) {
          detail::parallel_for(X.rows, options.n_threads, [&](std::size_t begin, std::size_t end) {
            if (pre.empty()) {
              detail::score_rows(estimator, X, begin, end, plan, out + begin * width);
              return;
            }
            const std::size_t inner = pre.columns.size();
            std::vector<double> buffer(detail::kPreprocessChunk * inner);
            for (std::size_t b = begin; b < end; b += detail::kPreprocessChunk) {
              const std::size_t n = std::min(detail::kPreprocessChunk, end - b);
              for (std::size_t r = 0; r < n; ++r) pre.apply(X.row(b + r), X.col_stride, buffer.data() + r * inner);
              const auto transformed = MatrixView<double>::row_major(buffer.data(), n, inner);
              detail::score_rows(estimator, transformed, 0, n, plan, out + b * width);
            }
          });
        },
        data_->estimator);
  }

  // One row of `cols` values; no threads, and no allocation unless the model preprocesses.
  template <class T>
  void score_row(OutputKind kind, const T* row, std::size_t cols, double* out) const {
    check_columns(cols);
    if (!data_->preprocessing.empty()) {
      score(kind, MatrixView<T>::row_major(row, 1, cols), out);
      return;
    }
    const detail::OutputPlan plan = plan_for(kind);
    const auto X = MatrixView<T>::row_major(row, 1, cols);
    std::visit([&](const auto& estimator) { detail::score_rows(estimator, X, 0, 1, plan, out); }, data_->estimator);
  }

  // ---- records: named raw values (see record.hpp for the policies) ----
  // The raw input row a record stands for (num_features() values).
  std::vector<double> encode(const Record& record, const RecordOptions& options = {}) const;
  // One field's value as it goes into a row: a number, a category code, NaN or the unknown code.
  double encode_value(std::size_t column, const Value& value, const RecordOptions& options = {}) const;

  void score_record(OutputKind kind, const Record& record, double* out, const RecordOptions& options = {}) const {
    const std::vector<double> row = encode(record, options);
    score_row(kind, row.data(), row.size(), out);
  }
  std::vector<double> predict_raw(const Record& record, const RecordOptions& o = {}) const {
    return collect_record(OutputKind::kRaw, record, o);
  }
  std::vector<double> predict_proba(const Record& record, const RecordOptions& o = {}) const {
    return collect_record(OutputKind::kProba, record, o);
  }
  std::vector<double> predict(const Record& record, const RecordOptions& o = {}) const {
    return collect_record(predict_kind(), record, o);
  }

  // ---- conveniences returning row-major vectors ----
  template <class T>
  std::vector<double> predict_raw(const MatrixView<T>& X, const PredictOptions& o = {}) const {
    return collect(OutputKind::kRaw, X, o);
  }
  template <class T>
  std::vector<double> predict_proba(const MatrixView<T>& X, const PredictOptions& o = {}) const {
    return collect(OutputKind::kProba, X, o);
  }
  template <class T>
  std::vector<double> predict(const MatrixView<T>& X, const PredictOptions& o = {}) const {
    return collect(predict_kind(), X, o);
  }
  template <class T>
  std::vector<double> predict_raw(const T* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const {
    return predict_raw(MatrixView<T>::row_major(X, rows, cols), o);
  }
  template <class T>
  std::vector<double> predict_proba(const T* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const {
    return predict_proba(MatrixView<T>::row_major(X, rows, cols), o);
  }
  template <class T>
  std::vector<double> predict(const T* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const {
    return predict(MatrixView<T>::row_major(X, rows, cols), o);
  }

  // ---- labelled answers ----
  // Class labels in output order ("0", "1", ... when the source has no names).
  std::vector<std::string> class_labels() const {
    std::vector<std::string> labels = data_->schema.output_labels;
    for (std::size_t k = labels.size(); k < static_cast<std::size_t>(num_classes()); ++k) labels.push_back(std::to_string(k));
    return labels;
  }
  // A row of predict_proba output, most likely class first (ties: lower index first);
  // the top `k` classes, or all of them when k is 0.
  std::vector<RankedClass> rank(const double* proba, std::size_t k = 0) const {
    if (!is_classifier()) detail::fail("ranking classes needs a classifier; ", data_->source, " is not one");
    const auto labels = class_labels();
    std::vector<RankedClass> ranked;
    for (std::size_t c = 0; c < labels.size(); ++c) ranked.push_back({labels[c], proba[c], c});
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const RankedClass& a, const RankedClass& b) { return a.probability > b.probability; });
    if (k > 0 && k < ranked.size()) ranked.resize(k);
    return ranked;
  }
  std::vector<RankedClass> predict_ranked(const Record& record, std::size_t k = 0, const RecordOptions& o = {}) const {
    const auto proba = predict_proba(record, o);
    return rank(proba.data(), k);
  }

  // The kind predict() uses for this model.
  OutputKind predict_kind() const {
    return is_classifier() || is_outlier_detector() || is_clusterer() ? OutputKind::kClass : OutputKind::kValue;
  }

  // k-means: the sum of squared distances of the rows to their nearest centres (scikit-learn's
  // inertia; KMeans.score is its negative).
  template <class T>
  double inertia(const MatrixView<T>& X, const PredictOptions& options = {}) const {
    if (!is_clusterer()) detail::fail("inertia is only for k-means models (", data_->source, ")");
    const std::vector<double> labels = collect(OutputKind::kClass, X, options);
    const std::vector<double> distances = collect(OutputKind::kDistances, X, options);
    const std::size_t k = num_outputs();
    double total = 0;
    for (std::size_t r = 0; r < X.rows; ++r) {
      const double d = distances[r * k + static_cast<std::size_t>(labels[r])];
      total += d * d;
    }
    return total;
  }

 private:
  void check_columns(std::size_t cols) const {
    if (cols != num_features())
      detail::fail("input has ", cols, " columns, the model expects ", num_features(), " features (",
                   data_->source, ")");
  }
  detail::OutputPlan plan_for(OutputKind kind) const {
    const bool outlier = data_->task == Task::kOutlierDetection;
    if (kind == OutputKind::kProba && !is_classifier())
      detail::fail("predict_proba is only for classifiers; ", data_->source, " is ",
                   outlier ? "an outlier detector" : "a regression model", " (", data_->objective, ")");
    if (kind == OutputKind::kDecision && !outlier)
      detail::fail("decision scores are only for outlier detectors; ", data_->source, " is not one");
    if ((kind == OutputKind::kDistances) != (is_clusterer() && kind != OutputKind::kClass))
      detail::fail(is_clusterer() ? "a k-means model gives labels (predict) and distances (transform), not this output"
                                  : "distances to centres are only for k-means models",
                   " (", data_->source, ")");
    detail::OutputPlan plan;
    plan.kind = kind;
    plan.link = data_->link;
    plan.class_from_margin = data_->class_from_margin;
    plan.outlier = outlier;
    plan.average_divisor = data_->average_divisor;
    plan.link_scale = data_->link_scale;
    plan.decision_offset = data_->decision_offset;
    return plan;
  }
  std::vector<double> collect_record(OutputKind kind, const Record& record, const RecordOptions& options) const {
    std::vector<double> out(output_width(kind));
    score_record(kind, record, out.data(), options);
    return out;
  }
  template <class T>
  std::vector<double> collect(OutputKind kind, const MatrixView<T>& X, const PredictOptions& o) const {
    std::vector<double> out(X.rows * output_width(kind));
    score(kind, X, out.data(), o);
    return out;
  }

  std::shared_ptr<const detail::ModelData> data_;
};

// Loads a model file, detecting the format from its content (not its name). A regular file
// is memory-mapped for the length of the load (the model keeps no reference to it); another
// process truncating it meanwhile would crash this one, so replace model files by writing a
// new file and renaming it into place.
Model load(const std::string& path, const LoadOptions& options = {});
// The same from bytes already in memory (read only while loading; the model keeps no
// reference to them); `name` appears in error messages.
Model load_from_memory(std::string_view bytes, const std::string& name = "<memory>",
                       const LoadOptions& options = {});
// Validates a ModelSpec and compiles it (what load() does after parsing).
Model compile(ModelSpec spec, const LoadOptions& options = {});

}  // namespace floresta
