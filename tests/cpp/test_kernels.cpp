// Every scoring kernel this CPU runs (avx512, avx2, portable) with every scoring plan a model
// can take (bitvector, quantized, lanes, value_walk; kmeans) against the portable kernel's value walk:
// bit-identical raw outputs on the committed parity vectors (tests/data, tests/data/compat)
// and on generated forests, float and double rows, batches and single rows. Then how a
// kernel and a plan are chosen: LoadOptions::kernel / FLORESTA_KERNEL and LoadOptions::plan
// / FLORESTA_PLAN (the option wins), and the errors for kernels this CPU or build lacks and
// plans a model cannot take.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "floresta/floresta.hpp"
#include "generated_forests.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using floresta::OutputKind;

floresta::LoadOptions options_for(const std::string& kernel, bool quantize, const std::string& plan = "auto") {
  floresta::LoadOptions options;
  options.kernel = kernel;
  options.quantize = quantize;
  options.plan = plan;
  return options;
}

const std::vector<std::string> kPlans = {"bitvector", "quantized", "lanes", "value_walk", "kmeans"};

// Every vectors file, as read_vectors names it (relative to tests/data, no suffix), with
// its model's path.
struct VectorsFile {
  std::string name, model;
};

std::vector<VectorsFile> all_vectors() {
  const std::string suffix = ".vectors.json";
  const fs::path root(FLORESTA_TEST_DATA);
  std::vector<VectorsFile> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || file.size() <= suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string relative = fs::relative(entry.path(), root).generic_string();
    files.push_back({relative.substr(0, relative.size() - suffix.size()), ""});
  }
  std::sort(files.begin(), files.end(), [](const VectorsFile& a, const VectorsFile& b) { return a.name < b.name; });
  for (auto& f : files) {
    const auto v = floresta::test::read_vectors(f.name);
    // "model" is relative to tests/data, or (in the corpus) to the vectors file's folder.
    const std::string model = v.model.substr(floresta::test::data_path("").size());
    const fs::path beside = root / fs::path(f.name).parent_path() / model;
    f.model = fs::exists(beside) ? beside.string() : v.model;
  }
  return files;
}

// Raw outputs (k-means: distances and labels) for every row, as batches and as single rows.
template <class In>
std::vector<double> outputs(const floresta::Model& model, const std::vector<In>& X, std::size_t rows) {
  const std::size_t cols = model.num_features();
  const std::vector<OutputKind> kinds = model.is_clusterer() ? std::vector<OutputKind>{OutputKind::kDistances, OutputKind::kClass}
                                                             : std::vector<OutputKind>{OutputKind::kRaw};
  std::vector<double> all;
  for (const OutputKind kind : kinds) {
    const std::size_t width = model.output_width(kind);
    std::vector<double> batch(rows * width), one(width);
    model.score(kind, floresta::MatrixView<In>::row_major(X.data(), rows, cols), batch.data());
    all.insert(all.end(), batch.begin(), batch.end());
    for (std::size_t r = 0; r < rows; ++r) {
      model.score_row(kind, X.data() + r * cols, cols, one.data());
      all.insert(all.end(), one.begin(), one.end());
    }
  }
  return all;
}

// Bit-identical: NaN equals NaN, -0.0 differs from 0.0.
::testing::AssertionResult identical(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes " << a.size() << " and " << b.size();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(double)) != 0)
      return ::testing::AssertionFailure() << "value " << i << ": " << a[i] << " against " << b[i];
  return ::testing::AssertionSuccess();
}

// Every kernel with every plan the model can take (compile() refuses the others by name)
// against the portable kernel's value walk (k-means: its one plan).
void expect_every_kernel_agrees(const floresta::ModelSpec* spec, const std::string& path, const std::vector<double>& X,
                                std::size_t rows, const std::string& what) {
  auto build = [&](const std::string& kernel, const std::string& plan) {
    return spec ? floresta::compile(*spec, options_for(kernel, true, plan)) : floresta::load(path, options_for(kernel, true, plan));
  };
  const std::vector<float> X32(X.begin(), X.end());
  const floresta::Model reference = build("portable", build("portable", "auto").is_clusterer() ? "kmeans" : "value_walk");
  const auto expected64 = outputs(reference, X, rows);
  const auto expected32 = outputs(reference, X32, rows);
  for (const std::string& kernel : floresta::available_kernels()) {
    const std::string automatic = build(kernel, "auto").plan();
    bool automatic_checked = false;
    for (const std::string& plan : kPlans) {
      std::optional<floresta::Model> model;
      try {
        model = build(kernel, plan);
      } catch (const floresta::Error& e) {
        EXPECT_NE(std::string(e.what()).find("plan '" + plan + "' (LoadOptions::plan) cannot score this model"), std::string::npos)
            << what << ": " << e.what();
        continue;
      }
      ASSERT_EQ(model->kernel(), kernel);
      ASSERT_EQ(model->plan(), plan);
      automatic_checked |= plan == automatic;
      EXPECT_TRUE(identical(outputs(*model, X, rows), expected64)) << what << ", kernel " << kernel << ", plan " << plan;
      EXPECT_TRUE(identical(outputs(*model, X32, rows), expected32))
          << what << ", kernel " << kernel << ", plan " << plan << ", float rows";
    }
    EXPECT_TRUE(automatic_checked) << what << ": the automatic plan " << automatic << " was not among those compared";
  }
}

TEST(Kernels, AgreeWithTheValueWalkOnEveryParityVector) {
  const auto files = all_vectors();
  ASSERT_GE(files.size(), 10u);
  for (const auto& file : files) {
    const auto v = floresta::test::read_vectors(file.name);
    expect_every_kernel_agrees(nullptr, file.model, v.inputs64, v.rows, file.name);
  }
}

TEST(Kernels, AgreeWithTheValueWalkOnGeneratedForests) {
  using floresta::DecisionRule;
  using floresta::test::Shape;
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM, DecisionRule::kSkLearnHist, DecisionRule::kSkLearnTree})
    for (const auto shape : {Shape::kBushy, Shape::kShallow, Shape::kLeafWise})
      for (const int features : {5, 40, 90}) {  // bins in two registers, four, or memory
        const auto spec = floresta::test::random_forest(rule, features, 70, static_cast<unsigned>(features + 7 * static_cast<int>(rule)),
                                                        shape, features == 40 ? 3 : 1);
        // 300 rows: blocks of 128 and a partial one; 5 rows: the single-row walks.
        for (const std::size_t rows : {300, 5}) {
          const auto X = floresta::test::random_rows(rows, features, 11);
          expect_every_kernel_agrees(&spec, "", X, rows,
                                     "rule " + std::to_string(static_cast<int>(rule)) + ", shape " +
                                         std::to_string(static_cast<int>(shape)) + ", " + std::to_string(features) +
                                         " features, " + std::to_string(rows) + " rows");
        }
      }
}

TEST(Kernels, AgreeOnQuantizedBlockShapesAndManyTrees) {
  using floresta::DecisionRule;
  using floresta::test::Shape;
  // 150 trees: single rows walk them in chunks (128 and more trees: 64 at a time, the last
  // chunk not a multiple of 8). Rows: one group of 16 lanes, a group and one row, and
  // several full blocks then a partial one. Shallow trees end in or one level past the
  // top table; leaf-wise ones (LightGBM: zero as missing) go on in the work lists.
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM})
    for (const auto shape : {Shape::kShallow, Shape::kLeafWise}) {
      const auto spec = floresta::test::random_forest(rule, 30, 150, 23u + static_cast<unsigned>(rule), shape);
      for (const std::size_t rows : {16, 17, 1000}) {
        const auto X = floresta::test::random_rows(rows, 30, 5);
        expect_every_kernel_agrees(&spec, "", X, rows,
                                   "rule " + std::to_string(static_cast<int>(rule)) + ", shape " +
                                       std::to_string(static_cast<int>(shape)) + ", 150 trees, " + std::to_string(rows) + " rows");
      }
    }
}

// Categorical splits, quantized (quantized.hpp) or not: codes in and past the sets, NaN,
// negative, fractional and huge values, one and ten output groups; bins in two registers,
// four, or memory.
TEST(Kernels, AgreeWithTheValueWalkOnCategoricalForests) {
  using floresta::DecisionRule;
  for (const auto rule : {DecisionRule::kXGBoost, DecisionRule::kLightGBM, DecisionRule::kSkLearnHist})
    for (const uint32_t levels : {40u, 1000u})
      for (const int features : {6, 40, 70}) {
        const int groups = levels == 1000 ? 10 : 1;
        const auto seed = static_cast<unsigned>(features + levels + 7 * static_cast<int>(rule));
        const auto spec = floresta::test::random_categorical_forest(rule, features, 70, seed, levels, groups);
        // Blocks of 128 rows and a partial one; 5 rows: the single-row walks.
        for (const std::size_t rows : {300, 5}) {
          const auto X = floresta::test::random_categorical_rows(rows, features, levels, seed);
          expect_every_kernel_agrees(&spec, "", X, rows,
                                     "categorical, rule " + std::to_string(static_cast<int>(rule)) + ", " +
                                         std::to_string(levels) + " levels, " + std::to_string(features) + " features, " +
                                         std::to_string(rows) + " rows");
        }
      }
}

std::string first_model() { return floresta::test::data_path("xgb_binary.json"); }

TEST(Kernels, AutoTakesTheFastestAndPortableIsAlwaysThere) {
  unsetenv("FLORESTA_KERNEL");
  const auto kernels = floresta::available_kernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_EQ(kernels.back(), "portable");
  // Every CPU with AVX2 has SSE4.2: the x86 units come together.
  const auto has = [&](const char* name) { return std::find(kernels.begin(), kernels.end(), name) != kernels.end(); };
  if (has("avx2")) EXPECT_TRUE(has("sse4"));
  EXPECT_EQ(floresta::load(first_model()).kernel(), kernels.front());
  for (const auto& kernel : kernels) EXPECT_EQ(floresta::load(first_model(), options_for(kernel, true)).kernel(), kernel);
}

TEST(Kernels, MissingOrUnknownKernelsAreErrorsNamingThoseAvailable) {
  unsetenv("FLORESTA_KERNEL");
  const auto kernels = floresta::available_kernels();
  std::string listed;
  for (const auto& k : kernels) listed += (listed.empty() ? "" : ", ") + k;
  for (const std::string name : {"avx512", "avx2", "sse4"}) {
    if (std::find(kernels.begin(), kernels.end(), name) != kernels.end()) continue;
    try {
      floresta::load(first_model(), options_for(name, true));
      ADD_FAILURE() << name << " loaded";
    } catch (const floresta::Error& e) {
      EXPECT_NE(std::string(e.what()).find("kernel '" + name + "' (LoadOptions::kernel) is not available: this CPU and build have " + listed),
                std::string::npos)
          << e.what();
    }
  }
  try {
    floresta::load(first_model(), options_for("sse9", true));
    ADD_FAILURE() << "sse9 loaded";
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown kernel 'sse9'"), std::string::npos) << e.what();
  }
}

TEST(Kernels, EnvironmentChoosesUnlessTheOptionDoes) {
  const auto kernels = floresta::available_kernels();
  setenv("FLORESTA_KERNEL", "portable", 1);
  EXPECT_EQ(floresta::load(first_model()).kernel(), "portable");
  EXPECT_EQ(floresta::load(first_model(), options_for(kernels.front(), true)).kernel(), kernels.front());
  setenv("FLORESTA_KERNEL", "auto", 1);
  EXPECT_EQ(floresta::load(first_model()).kernel(), kernels.front());
  setenv("FLORESTA_KERNEL", "bogus", 1);
  try {
    floresta::load(first_model());
    ADD_FAILURE() << "FLORESTA_KERNEL=bogus loaded";
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown kernel 'bogus' (FLORESTA_KERNEL)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(floresta::load(first_model(), options_for("portable", true)).kernel(), "portable");
  unsetenv("FLORESTA_KERNEL");
}

// ---- Plans: chosen once, by compile() ----

std::string data(const std::string& name) { return floresta::test::data_path(name); }

std::string plan_error(const std::string& path, const floresta::LoadOptions& options) {
  try {
    floresta::load(path, options);
  } catch (const floresta::Error& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(Plans, AutoTakesTheFastestPlanTheModelCanTake) {
  unsetenv("FLORESTA_PLAN");
  for (const auto& kernel : floresta::available_kernels()) {
    // Small trees (at most 64 leaves) that the bitvector plan's cost model expects faster.
    EXPECT_EQ(floresta::load(first_model(), options_for(kernel, true)).plan(), "bitvector");
    // Trees of more than 64 leaves: the quantized walk.
    EXPECT_EQ(floresta::load(data("skl_isolation_forest.json"), options_for(kernel, true)).plan(), "quantized");
    EXPECT_EQ(floresta::load(first_model(), options_for(kernel, false)).plan(), "lanes");  // not quantized
    // Vector leaves (one value per class): only the value walk adds them.
    EXPECT_EQ(floresta::load(data("compat/xgboost-2.0.3/vector_leaf_multiclass.json"), options_for(kernel, true)).plan(),
              "value_walk");
    EXPECT_EQ(floresta::load(data("skl_kmeans.json"), options_for(kernel, true)).plan(), "kmeans");
  }
}

TEST(Plans, APlanTheModelCannotTakeIsAnErrorNamingThoseItCan) {
  unsetenv("FLORESTA_PLAN");
  EXPECT_NE(plan_error(first_model(), options_for("auto", true, "kmeans"))
                .find("plan 'kmeans' (LoadOptions::plan) cannot score this model; it can take bitvector, quantized, lanes, "
                      "value_walk"),
            std::string::npos);
  EXPECT_NE(plan_error(first_model(), options_for("auto", false, "quantized"))
                .find("plan 'quantized' (LoadOptions::plan) cannot score this model; it can take lanes, value_walk"),
            std::string::npos);
  EXPECT_NE(plan_error(data("skl_isolation_forest.json"), options_for("auto", true, "bitvector"))
                .find("plan 'bitvector' (LoadOptions::plan) cannot score this model; it can take quantized, lanes, value_walk"),
            std::string::npos);
  EXPECT_NE(plan_error(data("skl_kmeans.json"), options_for("auto", true, "lanes"))
                .find("plan 'lanes' (LoadOptions::plan) cannot score this model; it can take kmeans"),
            std::string::npos);
  const std::string unknown = plan_error(first_model(), options_for("auto", true, "fastest"));
  EXPECT_NE(unknown.find("xgb_binary.json: unknown plan 'fastest' (LoadOptions::plan): expected auto, bitvector, quantized, "
                         "lanes, value_walk or kmeans"),
            std::string::npos)
      << unknown;
}

// FLORESTA_PLAN is a preference, so that a whole suite can run under one plan: models it
// cannot score keep their own; the option still wins; an unknown name is an error.
TEST(Plans, EnvironmentPrefersAPlanUnlessTheOptionChooses) {
  setenv("FLORESTA_PLAN", "lanes", 1);
  EXPECT_EQ(floresta::load(first_model()).plan(), "lanes");
  EXPECT_EQ(floresta::load(data("skl_kmeans.json")).plan(), "kmeans");
  EXPECT_EQ(floresta::load(first_model(), options_for("auto", true, "value_walk")).plan(), "value_walk");
  setenv("FLORESTA_PLAN", "auto", 1);
  EXPECT_EQ(floresta::load(first_model()).plan(), "bitvector");
  setenv("FLORESTA_PLAN", "bogus", 1);
  EXPECT_NE(plan_error(first_model(), {}).find("unknown plan 'bogus' (FLORESTA_PLAN)"), std::string::npos);
  EXPECT_EQ(floresta::load(first_model(), options_for("auto", true, "quantized")).plan(), "quantized");
  unsetenv("FLORESTA_PLAN");
}

}  // namespace
