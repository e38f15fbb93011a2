// Compatibility corpus: model files written by OLD XGBoost and LightGBM releases
// (tests/data/compat/<library>-<version>/, made by tests/data/compat/make_compat_corpus.py),
// each with the outputs that release itself computed in <model file>.vectors.json. Every file
// found there at run time is loaded and scored (a new release needs no edit here): margins
// and transformed outputs within 1e-6 x max(1, |expected|), classes identical, from double
// and (XGBoost) float32 rows, with the quantized kernels and with the value walk.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using floresta::OutputKind;

constexpr double kTolerance = 1e-6;
const std::string kVectorsSuffix = ".vectors.json";

fs::path corpus_root() { return fs::path(FLORESTA_TEST_DATA) / "compat"; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every vectors file under compat/, as its name relative to tests/data without the suffix
// (what read_vectors takes), sorted.
std::vector<std::string> corpus_vectors() {
  std::vector<std::string> names;
  std::error_code error;
  if (!fs::is_directory(corpus_root(), error)) return names;
  for (const auto& entry : fs::recursive_directory_iterator(corpus_root())) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || !ends_with(file, kVectorsSuffix)) continue;
    const std::string relative = fs::relative(entry.path(), fs::path(FLORESTA_TEST_DATA)).generic_string();
    names.push_back(relative.substr(0, relative.size() - kVectorsSuffix.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// read_vectors resolves "model" against tests/data; in the corpus it names a file beside the
// vectors file.
floresta::test::Vectors read_corpus_vectors(const std::string& name) {
  auto v = floresta::test::read_vectors(name);
  const std::string prefix = floresta::test::data_path("");
  const std::string model = v.model.substr(prefix.size());
  v.model = floresta::test::data_path((fs::path(name).parent_path() / model).generic_string());
  return v;
}

struct Difference {
  double absolute = 0;  // max |floresta - expected|
  double scaled = 0;    // max |floresta - expected| / max(1, |expected|)
};

template <class In>
Difference difference(const floresta::Model& model, OutputKind kind, const floresta::test::Vectors& v,
                      const std::vector<std::vector<double>>& expected) {
  const std::vector<In> inputs(v.inputs64.begin(), v.inputs64.end());
  const auto X = floresta::MatrixView<In>::row_major(inputs.data(), v.rows, v.cols);
  const std::size_t width = model.output_width(kind);
  std::vector<double> out(v.rows * width);
  model.score(kind, X, out.data());
  Difference d;
  EXPECT_EQ(expected.size(), v.rows);
  for (std::size_t r = 0; r < v.rows && r < expected.size(); ++r) {
    EXPECT_EQ(expected[r].size(), width) << "row " << r << " width";
    if (expected[r].size() != width) return {HUGE_VAL, HUGE_VAL};
    for (std::size_t k = 0; k < width; ++k) {
      const double e = expected[r][k], diff = std::fabs(out[r * width + k] - e);
      d.absolute = std::max(d.absolute, std::isnan(diff) ? HUGE_VAL : diff);
      d.scaled = std::max(d.scaled, std::isnan(diff) ? HUGE_VAL : diff / std::max(1.0, std::fabs(e)));
    }
  }
  return d;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(std::string("compat/").size());
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

class Compat : public ::testing::TestWithParam<std::string> {};

TEST_P(Compat, OutputsMatchTheReleaseThatWroteTheFile) {
  const std::string name = GetParam();
  const auto v = read_corpus_vectors(name);
  const bool xgboost = v.library == "xgboost";
  const std::pair<const char*, OutputKind> kinds[] = {
      {"raw", OutputKind::kRaw}, {"proba", OutputKind::kProba}, {"value", OutputKind::kValue}, {"label", OutputKind::kClass}};
  for (const bool quantize : {true, false}) {
    floresta::LoadOptions options;
    options.quantize = quantize;
    std::optional<floresta::Model> loaded;
    try {
      loaded.emplace(floresta::load(v.model, options));
    } catch (const std::exception& error) {
      FAIL() << "floresta::load(" << v.model << ") threw: " << error.what();
    }
    const floresta::Model& model = *loaded;
    ASSERT_EQ(model.num_features(), v.cols);
    int checked = 0;
    for (const auto& [key, kind] : kinds) {
      const auto it = v.outputs.find(key);
      if (it == v.outputs.end()) continue;
      Difference worst = difference<double>(model, kind, v, it->second);
      if (xgboost) {  // XGBoost casts rows to float32: float rows must give its outputs too
        const Difference narrow = difference<float>(model, kind, v, it->second);
        worst.absolute = std::max(worst.absolute, narrow.absolute);
        worst.scaled = std::max(worst.scaled, narrow.scaled);
      }
      if (kind == OutputKind::kClass) EXPECT_EQ(worst.absolute, 0.0) << key << " (quantize=" << quantize << ")";
      else EXPECT_LE(worst.scaled, kTolerance) << key << " (quantize=" << quantize << ")";
      if (quantize) {
        std::printf("  %-52s %-6s worst |difference| %.3g (scaled %.3g)\n", name.c_str(), key, worst.absolute,
                    worst.scaled);
        RecordProperty(std::string("worst_") + key, std::to_string(worst.absolute));
      }
      ++checked;
    }
    EXPECT_GE(checked, 2) << "a vectors file should carry at least two outputs";
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, Compat, ::testing::ValuesIn(corpus_vectors()), test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Compat);

// The corpus is there, and every model file in it has its reference outputs (so that each
// one is checked above): <file>.vectors.json beside it, naming it.
TEST(CompatCorpus, EveryModelFileHasItsVectors) {
  ASSERT_TRUE(fs::is_directory(corpus_root())) << corpus_root();
  const auto names = corpus_vectors();
  EXPECT_GE(names.size(), 10u) << "the corpus looks empty";
  std::size_t models = 0;
  for (const auto& entry : fs::recursive_directory_iterator(corpus_root())) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || entry.path().parent_path() == corpus_root() || ends_with(file, kVectorsSuffix))
      continue;
    ++models;
    EXPECT_TRUE(fs::is_regular_file(entry.path().string() + kVectorsSuffix)) << entry.path() << " has no vectors";
  }
  EXPECT_EQ(models, names.size()) << "model files and vectors files differ in number";
  for (const auto& name : names) {
    const auto v = read_corpus_vectors(name);
    EXPECT_EQ(fs::path(v.model).lexically_normal(), (fs::path(FLORESTA_TEST_DATA) / name).lexically_normal())
        << name << ".vectors.json names another model file";
  }
}

}  // namespace
