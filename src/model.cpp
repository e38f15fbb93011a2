// Model (model.hpp): metadata, and scoring through the kernel and plan the model was compiled
// with.
#include <algorithm>
#include <numeric>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "model_data.hpp"
#include "fail.hpp"
#include "floresta/model.hpp"
#include "preprocess_eval.hpp"
#include "threads.hpp"

namespace floresta {
namespace {

constexpr std::size_t kPreprocessChunk = 128;

detail::OutputPlan output_plan_for(const detail::ModelData& d, const Model& model, OutputKind kind) {
  const bool outlier = d.task == Task::kOutlierDetection;
  if (kind == OutputKind::kProba && !model.is_classifier())
    detail::fail("predict_proba is only for classifiers; ", d.source, " is ",
                 outlier ? "an outlier detector" : "a regression model", " (", d.objective, ")");
  if (kind == OutputKind::kDecision && !outlier)
    detail::fail("decision scores are only for outlier detectors; ", d.source, " is not one");
  if ((kind == OutputKind::kDistances) != (model.is_clusterer() && kind != OutputKind::kClass))
    detail::fail(model.is_clusterer() ? "a k-means model gives labels (predict) and distances (transform), not this output"
                                      : "distances to centres are only for k-means models",
                 " (", d.source, ")");
  detail::OutputPlan plan;
  plan.kind = kind;
  plan.link = d.link;
  plan.class_from_margin = d.class_from_margin;
  plan.outlier = outlier;
  plan.average_divisor = d.average_divisor;
  plan.link_scale = d.link_scale;
  plan.decision_offset = d.decision_offset;
  return plan;
}

void check_columns(const detail::ModelData& d, std::size_t cols) {
  if (cols != d.schema.features.size())
    detail::fail("input has ", cols, " columns, the model expects ", d.schema.features.size(), " features (", d.source, ")");
}

// Rows [begin, end) of X (estimator inputs) through the model's kernel and plan.
template <class T>
void score_estimator(const detail::ModelData& d, const MatrixView<T>& X, std::size_t begin, std::size_t end,
                     const detail::OutputPlan& plan, double* out) {
  const detail::Rows<T> rows{X.data, X.row_stride, X.col_stride};
  std::visit(
      [&](const auto& estimator) {
        d.kernel->entries(estimator)[d.plan].of(static_cast<const T*>(nullptr))(estimator, rows, begin, end, plan, out);
      },
      d.estimator);
}

template <class T>
void score_matrix(const detail::ModelData& d, const Model& model, OutputKind kind, const MatrixView<T>& X, double* out,
                  const PredictOptions& options) {
  check_columns(d, X.cols);
  const detail::OutputPlan plan = output_plan_for(d, model, kind);
  const std::size_t width = model.output_width(kind);
  const Preprocessing& pre = d.preprocessing;
  detail::parallel_for(X.rows, options.n_threads, [&](std::size_t begin, std::size_t end) {
    if (pre.empty()) {
      score_estimator(d, X, begin, end, plan, out + begin * width);
      return;
    }
    const std::size_t inner = pre.columns.size();
    std::vector<double> buffer(kPreprocessChunk * inner);
    for (std::size_t b = begin; b < end; b += kPreprocessChunk) {
      const std::size_t n = std::min(kPreprocessChunk, end - b);
      for (std::size_t r = 0; r < n; ++r)
        detail::at_row(b + r, X.rows, [&] { detail::preprocess_row(pre, X.row(b + r), X.col_stride, buffer.data() + r * inner); });
      const auto transformed = MatrixView<double>::row_major(buffer.data(), n, inner);
      score_estimator(d, transformed, 0, n, plan, out + b * width);
    }
  });
}

template <class T>
void score_one(const detail::ModelData& d, const Model& model, OutputKind kind, const T* row, std::size_t cols,
               double* out) {
  if (!d.preprocessing.empty()) {
    score_matrix(d, model, kind, MatrixView<T>::row_major(row, 1, cols), out, {});
    return;
  }
  check_columns(d, cols);
  score_estimator(d, MatrixView<T>::row_major(row, 1, cols), 0, 1, output_plan_for(d, model, kind), out);
}

template <class T>
std::vector<double> collect(const Model& model, OutputKind kind, const MatrixView<T>& X, const PredictOptions& o) {
  std::vector<double> out(X.rows * model.output_width(kind));
  model.score(kind, X, out.data(), o);
  return out;
}

template <class T>
double inertia_of(const detail::ModelData& d, const Model& model, const MatrixView<T>& X, const PredictOptions& options) {
  if (!model.is_clusterer()) detail::fail("inertia is only for k-means models (", d.source, ")");
  const std::vector<double> labels = collect(model, OutputKind::kClass, X, options);
  const std::vector<double> distances = collect(model, OutputKind::kDistances, X, options);
  const std::size_t k = model.num_outputs();
  double total = 0;
  for (std::size_t r = 0; r < X.rows; ++r) {
    const double distance = distances[r * k + static_cast<std::size_t>(labels[r])];
    total += distance * distance;
  }
  return total;
}

}  // namespace

Model::Model(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

std::size_t Model::num_features() const { return data_->schema.features.size(); }
std::vector<std::string> Model::feature_names() const {
  std::vector<std::string> names;
  for (const auto& f : data_->schema.features) names.push_back(f.name);
  return names;
}
std::size_t Model::num_outputs() const { return static_cast<std::size_t>(data_->num_outputs); }
int Model::num_classes() const { return data_->num_classes; }
Task Model::task() const { return data_->task; }
bool Model::is_classifier() const {
  return data_->task == Task::kBinaryClassification || data_->task == Task::kMulticlassClassification;
}
bool Model::is_outlier_detector() const { return data_->task == Task::kOutlierDetection; }
bool Model::is_clusterer() const { return data_->task == Task::kClustering; }
double Model::decision_offset() const { return data_->decision_offset; }
const std::string& Model::objective() const { return data_->objective; }
const std::string& Model::format() const { return data_->format; }
const std::string& Model::source() const { return data_->source; }
std::size_t Model::num_trees() const { return data_->num_trees; }
int64_t Model::best_iteration() const { return data_->best_iteration; }
const Schema& Model::schema() const { return data_->schema; }
const std::string& Model::metadata() const { return data_->metadata; }
Link Model::link() const { return data_->link; }
std::string Model::kernel() const { return data_->kernel->name; }
std::string Model::plan() const { return detail::plan_name(data_->plan); }

std::size_t Model::output_width(OutputKind kind) const { return detail::output_width(kind, num_outputs()); }

void Model::score(OutputKind kind, const MatrixView<float>& X, double* out, const PredictOptions& options) const {
  score_matrix(*data_, *this, kind, X, out, options);
}
void Model::score(OutputKind kind, const MatrixView<double>& X, double* out, const PredictOptions& options) const {
  score_matrix(*data_, *this, kind, X, out, options);
}
void Model::score_row(OutputKind kind, const float* row, std::size_t cols, double* out) const {
  score_one(*data_, *this, kind, row, cols, out);
}
void Model::score_row(OutputKind kind, const double* row, std::size_t cols, double* out) const {
  score_one(*data_, *this, kind, row, cols, out);
}

void Model::score_record(OutputKind kind, const Record& record, double* out, const RecordOptions& options) const {
  const std::vector<double> row = encode(record, options);
  score_row(kind, row.data(), row.size(), out);
}
std::vector<double> Model::predict_raw(const Record& record, const RecordOptions& o) const {
  std::vector<double> out(output_width(OutputKind::kRaw));
  score_record(OutputKind::kRaw, record, out.data(), o);
  return out;
}
std::vector<double> Model::predict_proba(const Record& record, const RecordOptions& o) const {
  std::vector<double> out(output_width(OutputKind::kProba));
  score_record(OutputKind::kProba, record, out.data(), o);
  return out;
}
std::vector<double> Model::predict(const Record& record, const RecordOptions& o) const {
  std::vector<double> out(output_width(predict_kind()));
  score_record(predict_kind(), record, out.data(), o);
  return out;
}

std::vector<double> Model::predict_raw(const MatrixView<float>& X, const PredictOptions& o) const {
  return collect(*this, OutputKind::kRaw, X, o);
}
std::vector<double> Model::predict_raw(const MatrixView<double>& X, const PredictOptions& o) const {
  return collect(*this, OutputKind::kRaw, X, o);
}
std::vector<double> Model::predict_proba(const MatrixView<float>& X, const PredictOptions& o) const {
  return collect(*this, OutputKind::kProba, X, o);
}
std::vector<double> Model::predict_proba(const MatrixView<double>& X, const PredictOptions& o) const {
  return collect(*this, OutputKind::kProba, X, o);
}
std::vector<double> Model::predict(const MatrixView<float>& X, const PredictOptions& o) const {
  return collect(*this, predict_kind(), X, o);
}
std::vector<double> Model::predict(const MatrixView<double>& X, const PredictOptions& o) const {
  return collect(*this, predict_kind(), X, o);
}
std::vector<double> Model::predict_raw(const float* X, std::size_t rows, std::size_t cols, const PredictOptions& o) const {
  return predict_raw(MatrixView<float>::row_major(X, rows, cols), o);
}
std::vector<double> Model::predict_raw(const double* X, std::size_t rows, std::size_t cols, const PredictOptions& o) const {
  return predict_raw(MatrixView<double>::row_major(X, rows, cols), o);
}
std::vector<double> Model::predict_proba(const float* X, std::size_t rows, std::size_t cols, const PredictOptions& o) const {
  return predict_proba(MatrixView<float>::row_major(X, rows, cols), o);
}
std::vector<double> Model::predict_proba(const double* X, std::size_t rows, std::size_t cols, const PredictOptions& o) const {
  return predict_proba(MatrixView<double>::row_major(X, rows, cols), o);
}
std::vector<double> Model::predict(const float* X, std::size_t rows, std::size_t cols, const PredictOptions& o) const {
  return predict(MatrixView<float>::row_major(X, rows, cols), o);
}
std::vector<double> Model::predict(const double* X, std::size_t rows, std::size_t cols, const PredictOptions& o) const {
  return predict(MatrixView<double>::row_major(X, rows, cols), o);
}

std::vector<std::string> Model::class_labels() const {
  std::vector<std::string> labels = data_->schema.output_labels;
  // k-means models have no classes (num_classes() is 0) but a label per centre.
  const std::size_t count = is_clusterer() ? num_outputs() : static_cast<std::size_t>(num_classes());
  for (std::size_t k = labels.size(); k < count; ++k) labels.push_back(std::to_string(k));
  return labels;
}

void Model::rank_order(const double* proba, std::size_t* order) const {
  if (!is_classifier()) detail::fail("ranking classes needs a classifier; ", data_->source, " is not one");
  const std::size_t k = output_width(OutputKind::kProba);
  std::iota(order, order + k, std::size_t{0});
  std::stable_sort(order, order + k, [proba](std::size_t a, std::size_t b) { return proba[a] > proba[b]; });
}

std::vector<RankedClass> Model::rank(const double* proba, std::size_t k) const {
  const auto labels = class_labels();
  std::vector<std::size_t> order(labels.size());
  rank_order(proba, order.data());
  if (k == 0 || k > order.size()) k = order.size();
  std::vector<RankedClass> ranked;
  for (std::size_t i = 0; i < k; ++i) ranked.push_back({labels[order[i]], proba[order[i]], order[i]});
  return ranked;
}

std::vector<RankedClass> Model::predict_ranked(const Record& record, std::size_t k, const RecordOptions& o) const {
  const auto proba = predict_proba(record, o);
  return rank(proba.data(), k);
}

OutputKind Model::predict_kind() const {
  return is_classifier() || is_outlier_detector() || is_clusterer() ? OutputKind::kClass : OutputKind::kValue;
}

double Model::inertia(const MatrixView<float>& X, const PredictOptions& options) const {
  return inertia_of(*data_, *this, X, options);
}
double Model::inertia(const MatrixView<double>& X, const PredictOptions& options) const {
  return inertia_of(*data_, *this, X, options);
}

std::vector<std::string> available_kernels() { return detail::available_kernels(); }

}  // namespace floresta
