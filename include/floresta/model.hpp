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
// predict_contributions explains each answer (exact TreeSHAP, see below).
//
// The scoring kernel (AVX-512, AVX2 or portable code, compiled inside the library) and the
// scoring plan (how the trees are walked: quantized, lanes, value_walk, kmeans) are chosen
// once, when the model is compiled: model.kernel() and model.plan() name them;
// LoadOptions::kernel / FLORESTA_KERNEL and LoadOptions::plan / FLORESTA_PLAN force them.
//
// Thread-safety: every member function is const and thread-safe; scoring allocates nothing
// except the vectors the convenience overloads return. With PredictOptions::n_threads > 1
// large batches are split by rows across threads (batches under 256 rows per thread stay on
// the caller's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "floresta/error.hpp"
#include "floresta/matrix.hpp"
#include "floresta/output_kind.hpp"
#include "floresta/record.hpp"
#include "floresta/schema.hpp"
#include "floresta/spec.hpp"

namespace floresta {

// One class of a ranked answer: its label, its probability and its index in the model.
struct RankedClass {
  std::string label;
  double probability = 0;
  std::size_t index = 0;
};

// One field's part in an answer (Model::explain_record): the record's value for it (missing
// when the record leaves it out) and how far it moved the output's margin, signed.
struct FieldContribution {
  std::string field;
  Value value;
  double contribution = 0;
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
  // Also compile numeric forests to trees that compare 16-bit bins, and forests of trees of
  // at most 64 leaves to bitvectors: the fast plans, exact by construction, for about 8
  // bytes per node (and 8-28 per split for bitvectors) more memory. Off, the forest is
  // scored by the value walks (same results).
  bool quantize = true;
  // Threads that parse and check the trees of big models (64 trees or more a thread), as
  // XGBoost and LightGBM load theirs: 0 = one per hardware thread. The model is the same
  // whatever the count, and so is the error a bad file gets.
  int n_threads = 0;
  // The scoring kernel: "auto" (the environment variable FLORESTA_KERNEL when set, else the
  // fastest this CPU runs), "avx512", "avx2", "sse4" or "portable". Every kernel gives the same
  // results; one this CPU or build lacks is an Error naming those available.
  std::string kernel = "auto";
  // The scoring plan (Model::plan()): "auto" (the fastest the model can take; the
  // environment variable FLORESTA_PLAN, when set, names a preferred plan, taken by the
  // models it can score), or "bitvector", "quantized", "lanes", "value_walk", "kmeans". Every plan gives
  // the same results; one the model cannot take is an Error naming those it can. For tests
  // and benchmarks.
  std::string plan = "auto";
};

struct PredictOptions {
  int n_threads = 1;  // 0 = one per hardware thread
};

class Model {
 public:
  struct Data;  // the compiled model, opaque to hosts (src/model_data.hpp); compile() makes one
  explicit Model(std::shared_ptr<const Data> data);

  // ---- metadata ----
  std::size_t num_features() const;
  std::vector<std::string> feature_names() const;
  std::size_t num_outputs() const;
  int num_classes() const;
  Task task() const;
  bool is_classifier() const;
  bool is_outlier_detector() const;
  bool is_clusterer() const;
  double decision_offset() const;
  const std::string& objective() const;
  const std::string& format() const;
  const std::string& source() const;
  std::size_t num_trees() const;
  int64_t best_iteration() const;
  const Schema& schema() const;
  // The model file's `metadata` object (floresta JSON) as compact JSON text, "" when the
  // file has none (and for other formats): whatever the model's author attached, e.g.
  // {"alert_threshold":0.83}. floresta does not interpret it; parse it with any JSON library.
  const std::string& metadata() const;
  Link link() const;
  // The scoring kernel this model was compiled with: "avx512", "avx2", "sse4" or "portable".
  std::string kernel() const;
  // The scoring plan this model was compiled with: "bitvector" (trees of at most 64 leaves
  // as leaf masks, no walk), "quantized" (trees compare 16-bit bins),
  // "lanes" (several value walks at once), "value_walk" (one row down one tree at a time:
  // the only plan for linear and vector leaves) or "kmeans". Every plan gives the same
  // results.
  std::string plan() const;

  // Values written per row by `kind`.
  std::size_t output_width(OutputKind kind) const;

  // ---- allocation-free scoring into a caller buffer of X.rows * output_width(kind) ----
  // Models with preprocessing transform chunks of rows into a per-thread buffer first.
  void score(OutputKind kind, const MatrixView<float>& X, double* out, const PredictOptions& options = {}) const;
  void score(OutputKind kind, const MatrixView<double>& X, double* out, const PredictOptions& options = {}) const;

  // One row of `cols` values; no threads, and no allocation unless the model preprocesses.
  void score_row(OutputKind kind, const float* row, std::size_t cols, double* out) const;
  void score_row(OutputKind kind, const double* row, std::size_t cols, double* out) const;

  // ---- records: named raw values (see record.hpp for the policies) ----
  // The raw input row a record stands for (num_features() values).
  std::vector<double> encode(const Record& record, const RecordOptions& options = {}) const;
  // One field's value as it goes into a row: a number, a category code, NaN or the unknown code.
  double encode_value(std::size_t column, const Value& value, const RecordOptions& options = {}) const;

  void score_record(OutputKind kind, const Record& record, double* out, const RecordOptions& options = {}) const;
  std::vector<double> predict_raw(const Record& record, const RecordOptions& o = {}) const;
  std::vector<double> predict_proba(const Record& record, const RecordOptions& o = {}) const;
  std::vector<double> predict(const Record& record, const RecordOptions& o = {}) const;

  // ---- conveniences returning row-major vectors ----
  std::vector<double> predict_raw(const MatrixView<float>& X, const PredictOptions& o = {}) const;
  std::vector<double> predict_raw(const MatrixView<double>& X, const PredictOptions& o = {}) const;
  std::vector<double> predict_proba(const MatrixView<float>& X, const PredictOptions& o = {}) const;
  std::vector<double> predict_proba(const MatrixView<double>& X, const PredictOptions& o = {}) const;
  std::vector<double> predict(const MatrixView<float>& X, const PredictOptions& o = {}) const;
  std::vector<double> predict(const MatrixView<double>& X, const PredictOptions& o = {}) const;
  std::vector<double> predict_raw(const float* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const;
  std::vector<double> predict_raw(const double* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const;
  std::vector<double> predict_proba(const float* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const;
  std::vector<double> predict_proba(const double* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const;
  std::vector<double> predict(const float* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const;
  std::vector<double> predict(const double* X, std::size_t rows, std::size_t cols, const PredictOptions& o = {}) const;

  // ---- labelled answers ----
  // Class labels in output order ("0", "1", ... when the source has no names); for k-means
  // models the cluster names, one per centre, likewise.
  std::vector<std::string> class_labels() const;
  // A row of predict_proba output, most likely class first (ties: lower index first);
  // the top `k` classes, or all of them when k is 0.
  std::vector<RankedClass> rank(const double* proba, std::size_t k = 0) const;
  // The same order without allocating: the class indices, most likely first (ties: lower
  // index first), into `order` (output_width(kProba) values). For hot paths (a service).
  void rank_order(const double* proba, std::size_t* order) const;
  std::vector<RankedClass> predict_ranked(const Record& record, std::size_t k = 0, const RecordOptions& o = {}) const;

  // The kind predict() uses for this model.
  OutputKind predict_kind() const;

  // ---- explanations: exact path-dependent TreeSHAP (as XGBoost's pred_contribs, LightGBM's
  // pred_contrib and shap's TreeExplainer compute it) ----
  // Per row, output and raw input feature, how much the feature moved the output's margin,
  // then the output's expected value (the bias): num_outputs() x (num_features() + 1) values
  // per row, bias last. They sum to the margin the link is applied to: predict_raw's value,
  // divided by the number of trees for scikit-learn's forests, which average (random
  // forests: the averaged value or probability; isolation forests: the mean path length), as
  // shap explains them (LightGBM's rf mode keeps the trees' sum, as LightGBM's pred_contrib
  // does). XGBoost models are explained in double from their float32 leaves, so the sum
  // differs from XGBoost's float32 margin by its rounding (~1e-7). Models with
  // preprocessing report the raw input columns: an encoded column's part is summed back to
  // the field it came from. Every tree model floresta loads can be explained when its file
  // carries node covers; can_explain() says whether this one can, explain_refusal() why not
  // (an Error with that text is what the calls below throw otherwise). Double arithmetic;
  // threads as in score(), at least 8 rows a thread.
  bool can_explain() const;
  const std::string& explain_refusal() const;
  std::size_t contributions_width() const;  // num_outputs() * (num_features() + 1)
  // The expected value of each output over the training data as the trees saw it (the bias
  // column): num_outputs() values.
  std::vector<double> expected_value() const;
  void predict_contributions(const MatrixView<float>& X, double* out, const PredictOptions& options = {}) const;
  void predict_contributions(const MatrixView<double>& X, double* out, const PredictOptions& options = {}) const;
  std::vector<double> predict_contributions(const MatrixView<float>& X, const PredictOptions& options = {}) const;
  std::vector<double> predict_contributions(const MatrixView<double>& X, const PredictOptions& options = {}) const;
  void contributions_row(const float* row, std::size_t cols, double* out) const;
  void contributions_row(const double* row, std::size_t cols, double* out) const;
  // One output's contributions only (num_features() + 1 values, its bias last), at the cost of
  // that output's trees: why a service's top class, without explaining the other classes.
  void contributions_row(const float* row, std::size_t cols, std::size_t output, double* out) const;
  void contributions_row(const double* row, std::size_t cols, std::size_t output, double* out) const;
  std::vector<double> predict_contributions(const Record& record, const RecordOptions& o = {}) const;
  // The fields of `record` that moved output `output` most (its margin: the positive class
  // of a binary classifier; for multi-class models by default the most likely class), largest
  // |contribution| first (ties: schema order), the top `k` (all when k is 0).
  static constexpr std::size_t kTopOutput = static_cast<std::size_t>(-1);
  std::vector<FieldContribution> explain_record(const Record& record, std::size_t k = 0, std::size_t output = kTopOutput,
                                                const RecordOptions& o = {}) const;

  // k-means: the sum of squared distances of the rows to their nearest centres (scikit-learn's
  // inertia; KMeans.score is its negative).
  double inertia(const MatrixView<float>& X, const PredictOptions& options = {}) const;
  double inertia(const MatrixView<double>& X, const PredictOptions& options = {}) const;

 private:
  std::shared_ptr<const Data> data_;
};

// The scoring kernels this CPU runs and this build has, fastest first: some of "avx512",
// "avx2", "sse4" (x86-64-v2: SSSE3 to SSE4.2), and always "portable" (the values
// LoadOptions::kernel accepts besides "auto").
std::vector<std::string> available_kernels();

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
