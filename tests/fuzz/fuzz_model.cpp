// libFuzzer harness: model bytes from the fuzzer, loaded by floresta::load_from_memory (the
// format detected from the content, as a host loads any file), then scored and explained on
// rows derived from the same bytes. An floresta::Error is a pass; a crash, a sanitizer
// report, a leak, a timeout or running out of memory is a failure. One source, one executable
// per format (fuzz_xgboost_json, fuzz_lightgbm_text, ...): they differ in their seed corpora
// and dictionaries (tests/fuzz/corpus/<name>, tests/fuzz/*.dict), which steer the fuzzer
// into one loader. Each input is scored by one plan and kernel, chosen by its length.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "floresta/floresta.hpp"

namespace {

// Input values a tree meets at its edges: missing, zero, the LightGBM zero band, category
// codes, huge and tiny values, infinities.
double edge_value(uint8_t byte) {
  static const double kValues[] = {std::numeric_limits<double>::quiet_NaN(), 0.0, -0.0, 1e-36, -1e-36, 1.0, 2.0, 3.0,
                                   7.0, 31.0, 32.0, 255.0, 16777216.0, -1.0, 0.5, 1e300,
                                   -1e300, std::numeric_limits<double>::infinity(),
                                   -std::numeric_limits<double>::infinity(), 1e-300};
  constexpr std::size_t kCount = sizeof(kValues) / sizeof(kValues[0]);
  return byte < kCount * 8 ? kValues[byte % kCount] : static_cast<double>(byte) - 200.0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // Every scoring plan and kernel this CPU runs in turn, by the input's length (the same
  // input, the same pair): the plan through FLORESTA_PLAN, whose preference falls back to a
  // plan the model takes, so no input is wasted on a refusal.
  static const char* const kPlans[] = {"auto", "bitvector", "quantized", "lanes", "value_walk"};
  static const std::vector<std::string> kKernels = floresta::available_kernels();
  setenv("FLORESTA_PLAN", kPlans[size % 5], 1);
  floresta::LoadOptions options;
  options.kernel = kKernels[(size / 5) % kKernels.size()];
  options.n_threads = 1;  // one thread: reproducible, and the fuzzer's own process is the unit
  try {
    const floresta::Model model =
        floresta::load_from_memory(std::string_view(reinterpret_cast<const char*>(data), size), "<fuzz>", options);
    const std::size_t d = model.num_features();
    if (d == 0 || d > 4096) return 0;
    constexpr std::size_t kRows = 3;
    std::vector<double> X(kRows * d);
    for (std::size_t i = 0; i < X.size(); ++i) X[i] = edge_value(size ? data[(i * 7919) % size] : 0);
    std::vector<double> out(kRows * model.output_width(model.predict_kind()));
    model.score(model.predict_kind(), floresta::MatrixView<double>::row_major(X.data(), kRows, d), out.data());
    const std::vector<float> Xf(X.begin(), X.end());
    model.score_row(floresta::OutputKind::kRaw, Xf.data(), d, out.data());
    if (model.can_explain()) {
      std::vector<double> parts(kRows * model.contributions_width());
      model.predict_contributions(floresta::MatrixView<double>::row_major(X.data(), kRows, d), parts.data());
    }
  } catch (const floresta::Error&) {
    // a refused model or row: the expected outcome for most inputs
  }
  return 0;
}
