// Model's explanations (model.hpp): checks, threads, preprocessing and averaging around the
// TreeSHAP stage (explain/treeshap.hpp), and the per-field answers for records.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <variant>
#include <vector>

#include "explain/treeshap.hpp"
#include "fail.hpp"
#include "floresta/model.hpp"
#include "model_data.hpp"
#include "preprocess_eval.hpp"
#include "threads.hpp"

namespace floresta {
namespace {

// Explaining a row costs hundreds of times scoring it: a thread pays off from a few rows.
constexpr std::size_t kMinExplainRowsPerThread = 8;

void require_explainable(const detail::ModelData& d) {
  if (!d.shap.refusal.empty()) detail::fail("cannot explain: ", d.shap.refusal);
}

void require_columns(const detail::ModelData& d, std::size_t cols) {
  if (cols != d.schema.features.size())
    detail::fail("input has ", cols, " columns, the model expects ", d.schema.features.size(), " features (", d.source, ")");
}

// What contributions are divided by: averaged forests are explained in their average's units,
// as shap explains scikit-learn's forests (isolation forests: the mean path length, which
// their link divides by the number of trees); LightGBM's rf mode keeps the trees' sum, as
// LightGBM's own pred_contrib and raw score do (it averages only the transformed prediction).
double explain_divisor(const detail::ModelData& d) {
  if (d.link == Link::kIsolation && d.average_divisor <= 0 && d.num_trees > 0) return static_cast<double>(d.num_trees);
  return d.average_divisor > 0 && d.format.rfind("lightgbm", 0) != 0 ? d.average_divisor : 1.0;
}

// One raw row's contributions into out (groups x (raw columns + 1), or one group's with
// `group`); `inner` is scratch for models with preprocessing (estimator inputs, then their
// contributions).
template <class T>
void explain_row(const detail::ModelData& d, const T* row, std::ptrdiff_t col_stride, double* out,
                 std::vector<double>& inner, std::size_t group = detail::kEveryGroup) {
  const Preprocessing& pre = d.preprocessing;
  const std::size_t groups = group == detail::kEveryGroup ? static_cast<std::size_t>(d.num_outputs) : 1;
  const std::size_t raw = d.schema.features.size();
  std::visit(
      [&](const auto& estimator) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(estimator)>, detail::KMeans>) {
          if (pre.empty()) {
            detail::tree_shap_row(estimator, d.shap, row, col_stride, out, group);
            return;
          }
          // Estimator inputs first, then their contributions summed back to the raw column each
          // one is computed from (an encoder's columns all come from one field).
          const std::size_t columns = pre.columns.size();
          inner.resize(columns + groups * (columns + 1));
          detail::preprocess_row(pre, row, col_stride, inner.data());
          double* parts = inner.data() + columns;
          detail::tree_shap_row(estimator, d.shap, inner.data(), 1, parts, group);
          std::fill(out, out + groups * (raw + 1), 0.0);
          for (std::size_t g = 0; g < groups; ++g) {
            const double* from = parts + g * (columns + 1);
            double* to = out + g * (raw + 1);
            for (std::size_t c = 0; c < columns; ++c) to[pre.columns[c].input] += from[c];
            to[raw] = from[columns];
          }
        }
      },
      d.estimator);
  if (const double divisor = explain_divisor(d); divisor != 1.0)
    for (std::size_t i = 0; i < groups * (raw + 1); ++i) out[i] /= divisor;
}

template <class T>
void explain_matrix(const detail::ModelData& d, const MatrixView<T>& X, double* out, const PredictOptions& options) {
  require_explainable(d);
  require_columns(d, X.cols);
  const std::size_t width = static_cast<std::size_t>(d.num_outputs) * (X.cols + 1);
  detail::parallel_for(X.rows, options.n_threads, [&](std::size_t begin, std::size_t end) {
    std::vector<double> inner;
    for (std::size_t r = begin; r < end; ++r)
      detail::at_row(r, X.rows, [&] { explain_row(d, X.row(r), X.col_stride, out + r * width, inner); });
  }, kMinExplainRowsPerThread);
}

template <class T>
void explain_one(const detail::ModelData& d, const T* row, std::size_t cols, double* out) {
  explain_matrix(d, MatrixView<T>::row_major(row, 1, cols), out, {});
}

template <class T>
void explain_one_output(const detail::ModelData& d, const T* row, std::size_t cols, std::size_t output, double* out) {
  require_explainable(d);
  require_columns(d, cols);
  if (output >= static_cast<std::size_t>(d.num_outputs))
    detail::fail("output ", output, " out of range for a model of ", d.num_outputs, " outputs (", d.source, ")");
  std::vector<double> inner;
  explain_row(d, row, 1, out, inner, output);
}

}  // namespace

bool Model::can_explain() const { return data_->shap.refusal.empty(); }
const std::string& Model::explain_refusal() const { return data_->shap.refusal; }
std::size_t Model::contributions_width() const { return num_outputs() * (num_features() + 1); }

std::vector<double> Model::expected_value() const {
  require_explainable(*data_);
  std::vector<double> expected = data_->shap.expected;
  for (double& v : expected) v /= explain_divisor(*data_);
  return expected;
}

void Model::predict_contributions(const MatrixView<float>& X, double* out, const PredictOptions& options) const {
  explain_matrix(*data_, X, out, options);
}
void Model::predict_contributions(const MatrixView<double>& X, double* out, const PredictOptions& options) const {
  explain_matrix(*data_, X, out, options);
}
std::vector<double> Model::predict_contributions(const MatrixView<float>& X, const PredictOptions& options) const {
  std::vector<double> out(X.rows * contributions_width());
  predict_contributions(X, out.data(), options);
  return out;
}
std::vector<double> Model::predict_contributions(const MatrixView<double>& X, const PredictOptions& options) const {
  std::vector<double> out(X.rows * contributions_width());
  predict_contributions(X, out.data(), options);
  return out;
}
void Model::contributions_row(const float* row, std::size_t cols, double* out) const { explain_one(*data_, row, cols, out); }
void Model::contributions_row(const double* row, std::size_t cols, double* out) const { explain_one(*data_, row, cols, out); }
void Model::contributions_row(const float* row, std::size_t cols, std::size_t output, double* out) const {
  explain_one_output(*data_, row, cols, output, out);
}
void Model::contributions_row(const double* row, std::size_t cols, std::size_t output, double* out) const {
  explain_one_output(*data_, row, cols, output, out);
}

std::vector<double> Model::predict_contributions(const Record& record, const RecordOptions& o) const {
  require_explainable(*data_);  // before encoding: the refusal says more than a field would
  const std::vector<double> row = encode(record, o);
  std::vector<double> out(contributions_width());
  contributions_row(row.data(), row.size(), out.data());
  return out;
}

std::vector<FieldContribution> Model::explain_record(const Record& record, std::size_t k, std::size_t output,
                                                     const RecordOptions& o) const {
  require_explainable(*data_);
  const std::vector<double> row = encode(record, o);
  if (output == kTopOutput) {
    // The most likely class has the largest margin (the links keep the order).
    output = 0;
    if (num_outputs() > 1) {
      std::vector<double> margin(num_outputs());
      score_row(OutputKind::kRaw, row.data(), row.size(), margin.data());
      output = static_cast<std::size_t>(std::max_element(margin.begin(), margin.end()) - margin.begin());
    }
  }
  const std::size_t fields = num_features();
  std::vector<double> parts(fields + 1);
  contributions_row(row.data(), row.size(), output, parts.data());
  std::vector<std::size_t> order(fields);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&parts](std::size_t a, std::size_t b) { return std::fabs(parts[a]) > std::fabs(parts[b]); });
  if (k == 0 || k > fields) k = fields;
  std::vector<FieldContribution> top;
  for (std::size_t i = 0; i < k; ++i) {
    const std::string& name = data_->schema.features[order[i]].name;
    Value value = missing;
    for (const auto& [field, given] : record.fields)
      if (field == name) value = given;
    top.push_back({name, value, parts[order[i]]});
  }
  return top;
}

}  // namespace floresta
