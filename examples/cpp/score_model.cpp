// score_model — a minimal C++ host: loads a model and scores rows given as JSON.
//
//   score_model MODEL ROWS.json
//
// ROWS.json is an array of rows, each an array of numbers (null = missing value). For a
// classifier it prints each row's class probabilities and predicted class; for a regressor
// the predicted value(s).
#include <floresta/floresta.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL ROWS.json\n", argv[0]);
    return 2;
  }
  try {
    const floresta::Model model = floresta::load(argv[1]);
    std::ifstream in(argv[2]);
    if (!in) throw floresta::Error(std::string(argv[2]) + ": cannot open");
    const auto rows = nlohmann::json::parse(in);
    std::vector<float> X;
    for (const auto& row : rows)
      for (const auto& v : row) X.push_back(v.is_null() ? std::numeric_limits<float>::quiet_NaN() : v.get<float>());
    const std::size_t n = rows.size(), d = model.num_features();
    if (X.size() != n * d) throw floresta::Error("every row needs " + std::to_string(d) + " values");

    std::printf("model %s: %s, %zu features, %zu trees\n", argv[1], model.objective().c_str(), d, model.num_trees());
    const auto predicted = model.predict(X.data(), n, d);
    if (model.is_classifier()) {
      const auto proba = model.predict_proba(X.data(), n, d);
      const std::size_t k = model.output_width(floresta::OutputKind::kProba);
      for (std::size_t r = 0; r < n; ++r) {
        std::printf("row %zu: class %d  p =", r, static_cast<int>(predicted[r]));
        for (std::size_t c = 0; c < k; ++c) std::printf(" %.4f", proba[r * k + c]);
        std::printf("\n");
      }
    } else {
      const std::size_t k = model.output_width(model.predict_kind());
      for (std::size_t r = 0; r < n; ++r) {
        std::printf("row %zu:", r);
        for (std::size_t c = 0; c < k; ++c) std::printf(" %.6g", predicted[r * k + c]);
        std::printf("\n");
      }
    }
  } catch (const floresta::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "error: %s: %s\n", argv[2], e.what());
    return 1;
  }
  return 0;
}
