// Declared sizes are claims, not orders (issue 11). Every count a model file declares —
// trees, nodes, leaves, categories, classes, features, array and string lengths — is checked
// against what the file holds (or a documented limit, spec.hpp) before anything is sized from
// it. Each test here loads a small hostile file that declares a huge count, expects a
// floresta::Error naming the field, and measures how much memory the load took:
//
//   - in a forked child (so that the parent's high-water mark does not hide anything and a
//     runaway load cannot take the test runner with it), the growth of VmHWM (peak resident
//     set) from just before the load to just after it, and
//   - the peak of live bytes allocated through operator new during the load (replaced below
//     for this test binary; it counts reservations that are never touched, which RSS misses).
//
// Both must stay under kBytesPerFileByte x the file's size + kBaseBytes (64 x size + 16 MiB).
// Under AddressSanitizer (`make sanitize`) only the heap peak is asserted: ASan keeps freed
// blocks resident in its quarantine (256 MiB by default), so there the RSS growth measures
// everything a load allocated, not its peak (it is still reported). Outside ASan the child
// also runs under an address-space limit, so that a regression fails the test with
// std::bad_alloc instead of taking the machine's memory.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

#if defined(__linux__)
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#define FLORESTA_TEST_FORK 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FLORESTA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLORESTA_TEST_ASAN 1
#endif
#endif

// ---- Peak live bytes through operator new, while counting is on (in the child). ----
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long long> g_live{0};
std::atomic<long long> g_peak{0};

std::size_t block_size(void* p) {
#ifdef FLORESTA_TEST_FORK
  return malloc_usable_size(p);
#else
  (void)p;
  return 0;
#endif
}
void note_alloc(void* p) {
  if (p == nullptr || !g_counting.load(std::memory_order_relaxed)) return;
  const long long live = g_live.fetch_add(static_cast<long long>(block_size(p))) + static_cast<long long>(block_size(p));
  long long peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
}
void note_free(void* p) {
  if (p == nullptr || !g_counting.load(std::memory_order_relaxed)) return;
  g_live.fetch_sub(static_cast<long long>(block_size(p)));
}
void* counted_new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  note_alloc(p);
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  void* p = counted_new(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t n) {
  void* p = counted_new(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n); }
void operator delete(void* p) noexcept {
  note_free(p);
  std::free(p);
}
void operator delete[](void* p) noexcept {
  note_free(p);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  note_free(p);
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  note_free(p);
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  note_free(p);
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  note_free(p);
  std::free(p);
}

namespace {

using nlohmann::json;

// The bound on a load's memory growth: 64 bytes per byte of the file, plus 16 MiB.
constexpr long long kBytesPerFileByte = 64;
constexpr long long kBaseBytes = 16ll << 20;
long long bound_for(std::size_t file_bytes) { return kBytesPerFileByte * static_cast<long long>(file_bytes) + kBaseBytes; }

struct Outcome {
  bool loaded = false;          // no exception at all
  bool floresta_error = false;  // a floresta::Error (message in `message`)
  std::string message;          // the error's message, or what else happened
  long long rss_growth = -1;    // VmHWM growth during the load, bytes (-1: not measured)
  long long heap_peak = 0;      // peak live operator-new bytes during the load
};

#ifdef FLORESTA_TEST_FORK
long long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::atoll(line.c_str() + prefix.size());
  return -1;
}

void write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}
#endif

// Loads `bytes` in a forked child and reports what happened and how much memory it took.
Outcome load_in_child(const std::string& bytes, const std::string& name) {
  Outcome outcome;
#ifdef FLORESTA_TEST_FORK
  int fds[2];
  if (::pipe(fds) != 0) {
    outcome.message = "pipe failed";
    return outcome;
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    outcome.message = "fork failed";
    return outcome;
  }
  if (pid == 0) {
    ::close(fds[0]);
#ifndef FLORESTA_TEST_ASAN
    // A safety net: a regression fails with bad_alloc instead of taking the machine's memory.
    const long long vm_kib = status_kib("VmSize");
    if (vm_kib > 0) {
      rlimit limit{};
      limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(vm_kib * 1024 + (4ll << 30));
      ::setrlimit(RLIMIT_AS, &limit);
    }
#endif
    // Reset the high-water mark to the current resident set (Linux 4.0+; after fork the
    // child's mark is its own resident set already, so this is belt and braces).
    if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
      std::fputs("5", f);
      std::fclose(f);
    }
    std::string result;
    result.reserve(4096);
    const long long before = status_kib("VmHWM");
    g_live = 0;
    g_peak = 0;
    g_counting = true;
    try {
      floresta::LoadOptions options;
      options.n_threads = 1;
      floresta::load_from_memory(bytes, name, options);
      result = "L";
    } catch (const floresta::Error& e) {
      result = std::string("E") + e.what();
    } catch (const std::bad_alloc&) {
      result = "Xstd::bad_alloc (the load asked for more memory than the child may map)";
    } catch (const std::exception& e) {
      result = std::string("Xnot a floresta::Error: ") + e.what();
    }
    g_counting = false;
    const long long after = status_kib("VmHWM");
    const long long growth = before < 0 || after < 0 ? -1 : (after - before) * 1024;
    const long long peak = g_peak.load();
    write_all(fds[1], &growth, sizeof growth);
    write_all(fds[1], &peak, sizeof peak);
    write_all(fds[1], result.data(), result.size());
    ::close(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string received;
  char buffer[4096];
  for (ssize_t r; (r = ::read(fds[0], buffer, sizeof buffer)) > 0;) received.append(buffer, static_cast<std::size_t>(r));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || received.size() < 2 * sizeof(long long) + 1) {
    outcome.message = WIFSIGNALED(status) ? "the child was killed by signal " + std::to_string(WTERMSIG(status))
                                          : "the child reported nothing";
    return outcome;
  }
  std::memcpy(&outcome.rss_growth, received.data(), sizeof(long long));
  std::memcpy(&outcome.heap_peak, received.data() + sizeof(long long), sizeof(long long));
  const std::string result = received.substr(2 * sizeof(long long));
  outcome.loaded = result[0] == 'L';
  outcome.floresta_error = result[0] == 'E';
  outcome.message = result.substr(1);
#else
  g_counting = false;
  try {
    floresta::load_from_memory(bytes, name);
    outcome.loaded = true;
  } catch (const floresta::Error& e) {
    outcome.floresta_error = true;
    outcome.message = e.what();
  }
#endif
  return outcome;
}

void report(const std::string& label, std::size_t file_bytes, const Outcome& o) {
  std::printf("[ memory   ] %-44s file %8zu B  RSS %+9.1f KiB  heap peak %9.1f KiB  (bound %lld KiB)\n", label.c_str(), file_bytes,
              static_cast<double>(o.rss_growth) / 1024.0, static_cast<double>(o.heap_peak) / 1024.0, bound_for(file_bytes) / 1024);
}

void expect_within_bound(const std::string& label, std::size_t file_bytes, const Outcome& o) {
  report(label, file_bytes, o);
#ifdef FLORESTA_TEST_FORK
  EXPECT_GE(o.rss_growth, 0) << label << ": VmHWM not readable";
#ifndef FLORESTA_TEST_ASAN
  // Under ASan the resident set measures what a load allocated in all, not its peak: freed
  // blocks stay resident in ASan's quarantine (256 MiB by default). There the heap peak,
  // which ASan does not change, is the check.
  EXPECT_LE(o.rss_growth, bound_for(file_bytes)) << label << ": the load grew the resident set by " << o.rss_growth << " bytes";
#endif
  EXPECT_LE(o.heap_peak, bound_for(file_bytes)) << label << ": the load held " << o.heap_peak << " bytes at once";
#endif
}

// A hostile file: refused with a floresta::Error whose message holds every fragment, within
// the memory bound.
void expect_refused(const std::string& label, const std::string& bytes, std::initializer_list<const char*> fragments,
                    const std::string& name = "hostile.model") {
  const Outcome o = load_in_child(bytes, name);
  EXPECT_TRUE(o.floresta_error) << label << ": expected a floresta::Error, got " << (o.loaded ? "a model" : o.message);
  if (o.floresta_error) {
    EXPECT_NE(o.message.find(name), std::string::npos) << label << ": the message does not name the file: " << o.message;
    for (const char* f : fragments) EXPECT_NE(o.message.find(f), std::string::npos) << label << ": message: " << o.message;
  }
  expect_within_bound(label, bytes.size(), o);
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("fixture lacks " + from);
  return text.replace(at, from.size(), to);
}

// ---------------------------------------------------------------- LightGBM text

std::string lgb_text(const std::string& tree_override = "", const std::string& header_extra = "") {
  return floresta::test::minimal_lightgbm_text(tree_override, header_extra);
}

TEST(DeclaredSizes, FixturesLoad) {
  // The fixtures below are valid until one count is made hostile.
  EXPECT_NO_THROW(floresta::load_from_memory(lgb_text(), "fixture.txt"));
}

TEST(DeclaredSizes, LightGBMTextNumLeaves) {
  // The example: a few hundred bytes that declare 200 million leaves.
  expect_refused("lightgbm-text num_leaves=200000000", replace(lgb_text(), "num_leaves=3", "num_leaves=200000000"),
                 {"line 12: num_leaves=200000000 but leaf_value (line 19) has 3 values"});
  expect_refused("lightgbm-text num_leaves=2^30", replace(lgb_text(), "num_leaves=3", "num_leaves=1073741824"),
                 {"num_leaves=1073741824 but leaf_value", "has 3 values"});
  // leaf_value as long as the claim, the other arrays not: they are counted before sizing.
  std::string leaves = "leaf_value=";
  for (int i = 0; i < 2000; ++i) leaves += "1 ";
  expect_refused("lightgbm-text num_leaves=2000, 2 splits",
                 replace(replace(lgb_text(), "num_leaves=3", "num_leaves=2000"), "leaf_value=1 2 3", leaves),
                 {"line 14: split_feature has 2 values, expected 1999 (num_leaves=2000 on line 12)"});
  expect_refused("lightgbm-text num_leaves out of range", replace(lgb_text(), "num_leaves=3", "num_leaves=9223372036854775807"),
                 {"num_leaves=9223372036854775807 out of range"});
}

TEST(DeclaredSizes, LightGBMTextNumCat) {
  expect_refused("lightgbm-text num_cat=10^9", replace(lgb_text(), "num_cat=1", "num_cat=1000000000"),
                 {"line 13: num_cat=1000000000 but cat_boundaries (line 20) has 2 values, expected num_cat + 1"});
  expect_refused("lightgbm-text num_cat=2^63-1", replace(lgb_text(), "num_cat=1", "num_cat=9223372036854775807"),
                 {"num_cat=9223372036854775807 but cat_boundaries"});
}

TEST(DeclaredSizes, LightGBMTextOutputs) {
  const std::string multi = replace(replace(lgb_text(), "num_class=1\nnum_tree_per_iteration=1", "num_class=1000000\nnum_tree_per_iteration=1000000"),
                                    "objective=regression", "objective=multiclass num_class:1000000");
  expect_refused("lightgbm-text num_class=10^6", multi,
                 {"line 4: num_tree_per_iteration=1000000 out of range", "65536 output groups need a tree each", "holds 1 trees"});
  expect_refused("lightgbm-text num_tree_per_iteration=10^6",
                 replace(lgb_text(), "num_tree_per_iteration=1", "num_tree_per_iteration=1000000"),
                 {"num_tree_per_iteration=1000000 out of range"});
  expect_refused("lightgbm-text num_class=10^9", replace(lgb_text(), "num_class=1", "num_class=1000000000"),
                 {"line 3: num_class=1000000000 out of range"});
}

TEST(DeclaredSizes, LightGBMTextFeatures) {
  expect_refused("lightgbm-text max_feature_idx, 2 names", replace(lgb_text(), "max_feature_idx=1", "max_feature_idx=268435454"),
                 {"feature_names", "has 2 names for 268435455 features (max_feature_idx=268435454 on line 6)"});
  expect_refused("lightgbm-text max_feature_idx, no names",
                 replace(replace(lgb_text(), "max_feature_idx=1", "max_feature_idx=268435454"), "feature_names=a b\n", ""),
                 {"line 6: max_feature_idx=268435454 but the file has no feature_names", "max(65536, one per byte of the file)"});
  expect_refused("lightgbm-text max_feature_idx out of range", replace(lgb_text(), "max_feature_idx=1", "max_feature_idx=4294967296"),
                 {"max_feature_idx=4294967296 out of range"});
  // Within the limit, a file without names loads (LightGBM always writes them, though).
  const std::string unnamed = replace(replace(lgb_text(), "max_feature_idx=1", "max_feature_idx=999"), "feature_names=a b\n", "");
  const Outcome o = load_in_child(unnamed, "unnamed.txt");
  EXPECT_TRUE(o.loaded) << o.message;
  expect_within_bound("lightgbm-text 1000 unnamed features (loads)", unnamed.size(), o);
}

// A chain of `splits` categorical splits that all name bitset 0, of `words` words: LightGBM
// gives every split its own bitset, so this copies splits x words words from `words`.
std::string lgb_shared_bitset(int splits, int words) {
  std::string features = "split_feature=", thresholds = "threshold=", types = "decision_type=", lefts = "left_child=",
              rights = "right_child=", values = "leaf_value=";
  for (int i = 0; i < splits; ++i) {
    features += "1 ";
    thresholds += "0 ";
    types += "1 ";
    lefts += std::to_string(-(i + 1)) + " ";
    rights += (i + 1 < splits ? std::to_string(i + 1) : std::to_string(-(splits + 1))) + " ";
  }
  for (int i = 0; i <= splits; ++i) values += "1 ";
  std::string cat = "cat_threshold=";
  for (int w = 0; w < words; ++w) cat += "4294967295 ";
  const std::string tree = "Tree=0\nnum_leaves=" + std::to_string(splits + 1) + "\nnum_cat=1\n" + features + "\n" + thresholds + "\n" +
                           types + "\n" + lefts + "\n" + rights + "\n" + values + "\ncat_boundaries=0 " + std::to_string(words) +
                           "\n" + cat + "\nis_linear=0\nshrinkage=1\n";
  return lgb_text(tree);
}

TEST(DeclaredSizes, LightGBMTextSharedBitset) {
  EXPECT_NO_THROW(floresta::load_from_memory(lgb_shared_bitset(1, 3), "fixture.txt"));
  // 1,000 splits x 8,000 words would be 32 MB of bitsets (and as much again compiled).
  expect_refused("lightgbm-text 1000 splits share one bitset", lgb_shared_bitset(1000, 8000),
                 {"categorical node 1 reuses a bitset", "8000 words of cat_threshold"});
}

TEST(DeclaredSizes, LightGBMTextManyEmptyTrees) {
  // Not a count, but the same rule: a line costs a small fixed amount whatever it claims
  // (a 6-byte "Tree=" line used to reserve room for 24 fields, 960 bytes).
  std::string text = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nfeature_names=a\n\n";
  for (int t = 0; t < 300000; ++t) text += "Tree=\n";
  text += "end of trees\n";
  expect_refused("lightgbm-text 300000 empty Tree= blocks", text, {"Tree=0: missing 'num_leaves='"});
}

// ---------------------------------------------------------------- XGBoost JSON and UBJSON

json xgb_model() { return floresta::test::minimal_xgboost_model("reg:squarederror"); }
json& xgb_tree(json& m) { return m["learner"]["gradient_booster"]["model"]["trees"][0]; }
json& xgb_params(json& m) { return m["learner"]["learner_model_param"]; }
std::string ubj(const json& m) {
  const std::vector<std::uint8_t> bytes = json::to_ubjson(m, /*use_size=*/true, /*use_type=*/true);
  return std::string(bytes.begin(), bytes.end());
}

TEST(DeclaredSizes, XGBoostFixturesLoad) {
  EXPECT_NO_THROW(floresta::load_from_memory(xgb_model().dump(), "fixture.json"));
  EXPECT_NO_THROW(floresta::load_from_memory(ubj(xgb_model()), "fixture.ubj"));
}

TEST(DeclaredSizes, XGBoostNumNodes) {
  auto m = xgb_model();
  xgb_tree(m)["tree_param"]["num_nodes"] = "2000000000";
  expect_refused("xgboost-json num_nodes=2*10^9", m.dump(), {"/trees/0/left_children", "has 5 entries, expected num_nodes = 2000000000"});
  expect_refused("xgboost-ubjson num_nodes=2*10^9", ubj(m), {"/trees/0/left_children", "expected num_nodes = 2000000000"});
  xgb_tree(m)["tree_param"]["num_nodes"] = "9223372036854775807";
  expect_refused("xgboost-json num_nodes=2^63-1", m.dump(), {"num_nodes", "num_nodes must be in [1, 2^31)"});
}

TEST(DeclaredSizes, XGBoostNumTrees) {
  auto m = xgb_model();
  m["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "1000000000";
  expect_refused("xgboost-json num_trees=10^9", m.dump(), {"gbtree_model_param/num_trees", "says 1000000000 trees, the file has 1"});
}

TEST(DeclaredSizes, XGBoostManyEmptyTrees) {
  // An array of 200,000 empty objects is not 200,000 trees: nothing is sized per tree
  // before it has been read.
  auto m = xgb_model();
  auto& model = m["learner"]["gradient_booster"]["model"];
  model["trees"] = json::array();
  for (int t = 0; t < 200000; ++t) model["trees"].push_back(json::object());
  model["tree_info"] = std::vector<int>(200000, 0);
  model["gbtree_model_param"]["num_trees"] = "200000";
  model["iteration_indptr"] = {0, 200000};
  expect_refused("xgboost-json 200000 empty trees", m.dump(), {"/trees/0", "missing field 'tree_param'"});
}

TEST(DeclaredSizes, XGBoostNumFeature) {
  auto m = xgb_model();
  xgb_params(m)["num_feature"] = "268435455";
  expect_refused("xgboost-json num_feature, 2 names", m.dump(), {"/learner/feature_names", "2 names for num_feature = 268435455"});
  m["learner"].erase("feature_names");
  m["learner"].erase("feature_types");
  expect_refused("xgboost-json num_feature, no names", m.dump(),
                 {"/learner/learner_model_param/num_feature", "268435455 but the file lists no feature_names or feature_types",
                  "max(65536, one per byte of the file)"});
  expect_refused("xgboost-ubjson num_feature, no names", ubj(m), {"num_feature", "no feature_names"});
  xgb_params(m)["num_feature"] = "4294967296";
  expect_refused("xgboost-json num_feature=2^32", m.dump(), {"num_feature 4294967296 out of range"});
}

TEST(DeclaredSizes, XGBoostOutputs) {
  auto m = xgb_model();
  m["learner"]["objective"]["name"] = "multi:softprob";
  xgb_params(m)["num_class"] = "1000000";
  expect_refused("xgboost-json num_class=10^6", m.dump(),
                 {"/learner/learner_model_param/num_class", "1000000 classes", "65536 output groups need a tree each", "holds 1 trees"});
  xgb_params(m)["num_class"] = "2000000";
  expect_refused("xgboost-json num_class=2*10^6", m.dump(), {"num_class 2000000 out of range"});
  auto r = xgb_model();
  xgb_params(r)["num_target"] = "1000000";
  expect_refused("xgboost-json num_target=10^6", r.dump(), {"/learner/learner_model_param/num_target", "1000000 targets"});
  expect_refused("xgboost-ubjson num_target=10^6", ubj(r), {"num_target", "1000000 targets"});
}

TEST(DeclaredSizes, XGBoostLeafVectors) {
  // 65,536 outputs are allowed without a tree each; the leaf vectors must still be there.
  auto m = xgb_model();
  xgb_params(m)["num_target"] = "65536";
  xgb_tree(m)["tree_param"]["size_leaf_vector"] = "65536";
  expect_refused("xgboost-json size_leaf_vector=65536 base_weights", m.dump(),
                 {"/trees/0/base_weights", "has 5 values, expected num_nodes x size_leaf_vector = 5 x 65536"});
  xgb_tree(m)["leaf_weights"] = {1, 2, 3, 4, 5, 6};
  expect_refused("xgboost-json size_leaf_vector=65536 leaf_weights", m.dump(), {"/trees/0/leaf_weights", "length is not a multiple"});
}

TEST(DeclaredSizes, XGBoostLeafVectorsTooFew) {
  auto m = xgb_model();
  xgb_params(m)["num_target"] = "4";
  xgb_tree(m)["tree_param"]["size_leaf_vector"] = "4";
  xgb_tree(m)["leaf_weights"] = {1, 2, 3, 4};  // one slot for three leaves
  expect_refused("xgboost-json leaf_weights one slot", m.dump(), {"/trees/0/leaf_weights", "has 1 leaf vectors", "num_nodes = 5 needs 3"});
  xgb_tree(m)["tree_param"]["size_leaf_vector"] = "1000000";
  expect_refused("xgboost-json size_leaf_vector=10^6", m.dump(), {"size_leaf_vector", "is 1000000, the model has 4 outputs"});
}

// A chain of `splits` categorical splits (x0 in set), each listing the one code `code`.
json xgb_categorical_chain(int splits, int64_t code) {
  auto m = xgb_model();
  json& t = xgb_tree(m);
  const int n = 2 * splits + 1;
  std::vector<int> lefts(n, -1), rights(n, -1), parents(n, 0), indices(n, 0), defaults(n, 0), types(n, 0);
  std::vector<double> conditions(n, 0.0);
  std::vector<int> nodes, segments, sizes;
  std::vector<int64_t> categories;
  for (int i = 0; i < splits; ++i) {
    const int id = 2 * i;
    lefts[id] = id + 1;
    rights[id] = id + 2;
    types[id] = 1;
    nodes.push_back(id);
    segments.push_back(i);
    sizes.push_back(1);
    categories.push_back(code);
  }
  t["tree_param"]["num_nodes"] = std::to_string(n);
  t["left_children"] = lefts;
  t["right_children"] = rights;
  t["parents"] = parents;
  t["split_indices"] = indices;
  t["split_conditions"] = conditions;
  t["default_left"] = defaults;
  t["split_type"] = types;
  t["base_weights"] = conditions;
  t["categories_nodes"] = nodes;
  t["categories_segments"] = segments;
  t["categories_sizes"] = sizes;
  t["categories"] = categories;
  m["learner"]["feature_types"] = {"c", "float"};
  return m;
}

TEST(DeclaredSizes, XGBoostCategories) {
  EXPECT_NO_THROW(floresta::load_from_memory(xgb_categorical_chain(3, 5).dump(), "fixture.json"));
  // categories_sizes claims codes the array does not hold.
  auto m = xgb_categorical_chain(3, 5);
  xgb_tree(m)["categories_sizes"] = {1, 1, 1000000000};
  expect_refused("xgboost-json categories_sizes=10^9", m.dump(), {"categories_segments", "segment 2 lies outside 'categories'"});
  // Segments that overlap: every node lists the whole array.
  xgb_tree(m)["categories_segments"] = {0, 0, 0};
  xgb_tree(m)["categories_sizes"] = {3, 3, 3};
  expect_refused("xgboost-json overlapping category segments", m.dump(),
                 {"/trees/0/categories_sizes", "list 6 codes in all by segment 1, more than the 3 of 'categories'"});
  // One code each, the largest there is: 40 splits x 2 MiB of bitset from a 2 KB file.
  const auto big = xgb_categorical_chain(40, (int64_t(1) << 24) - 1);
  expect_refused("xgboost-json 40 sets of code 2^24-1", big.dump(), {"/trees/0/categories", "bitset words", "max(2^20, 4 per byte)"});
  expect_refused("xgboost-ubjson 40 sets of code 2^24-1", ubj(big), {"/trees/0/categories", "bitset words"});
}

TEST(DeclaredSizes, XGBoostCategoryBudgetGivesTheSameErrorOnAnyThreadCount) {
  // 200 trees, read on several threads; trees 10 and 150 each take half the budget (one set
  // of code 2^24 - 1), the rest one word. Whichever thread charges second runs out; the error
  // must be the one a sequential read meets first: tree 150.
  auto small = xgb_categorical_chain(1, 1);
  auto big = xgb_categorical_chain(1, (int64_t(1) << 24) - 1);
  json trees = json::array();
  for (int t = 0; t < 200; ++t) {
    json tree = t == 10 || t == 150 ? xgb_tree(big) : xgb_tree(small);
    tree["id"] = t;
    trees.push_back(tree);
  }
  auto& model = small["learner"]["gradient_booster"]["model"];
  model["trees"] = trees;
  model["tree_info"] = std::vector<int>(200, 0);
  model["gbtree_model_param"]["num_trees"] = "200";
  model["iteration_indptr"] = {0, 200};
  const std::string text = small.dump();
  for (const int threads : {1, 2, 3, 4}) {
    floresta::LoadOptions options;
    options.n_threads = threads;
    try {
      floresta::load_from_memory(text, "threads.json", options);
      FAIL() << "no error";
    } catch (const floresta::Error& e) {
      EXPECT_NE(std::string(e.what()).find("/trees/150/categories: node 0: the categorical splits need more than 1048576 bitset words"),
                std::string::npos)
          << threads << " threads: " << e.what();
    }
  }
}

TEST(DeclaredSizes, XGBoostNumParallelTree) {
  // Files before 2.0 have no iteration_indptr: rounds are num_parallel_tree x outputs trees.
  auto m = xgb_model();
  auto& model = m["learner"]["gradient_booster"]["model"];
  model.erase("iteration_indptr");
  model["gbtree_model_param"]["num_parallel_tree"] = "281474976710656";  // x 65536 outputs = 2^64
  m["learner"]["objective"]["name"] = "multi:softprob";
  xgb_params(m)["num_class"] = "65536";
  expect_refused("xgboost-json num_parallel_tree=2^48", m.dump(), {"gbtree_model_param/num_parallel_tree", "out of range"});
}

// ---------------------------------------------------------------- UBJSON itself

std::string be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string be64(uint64_t v) { return be32(static_cast<uint32_t>(v >> 32)) + be32(static_cast<uint32_t>(v)); }

TEST(DeclaredSizes, UbjsonLengths) {
  const std::string key = std::string("{i\x07", 3) + "learner";
  const std::string padding(2000, 'Z');  // bytes after the claim: nulls the reader never reaches
  expect_refused("ubjson string length 2^31-1", key + "Sl" + be32(0x7fffffff) + "abc" + padding,
                 {"UBJSON at byte", "string length 2147483647 runs past the end (2003 bytes left)"});
  expect_refused("ubjson key length 2^62", "{L" + be64(uint64_t(1) << 62) + padding, {"string length 4611686018427387904 runs past the end"});
  expect_refused("ubjson negative length", key + "Sl" + be32(0xffffff00) + padding, {"string length -256 is negative"});
  expect_refused("ubjson array count 2^40", key + "[#L" + be64(uint64_t(1) << 40) + padding,
                 {"array count 1099511627776 runs past the end (2000 bytes left)"});
  expect_refused("ubjson object count 10^9", key + "{#l" + be32(1000000000) + padding, {"object count 1000000000 runs past the end"});
  expect_refused("ubjson typed object count 10^9", key + "{$Z#l" + be32(1000000000) + padding, {"object count 1000000000 runs past the end"});
  expect_refused("ubjson packed doubles 2^61", key + "[$D#L" + be64(uint64_t(1) << 61) + padding,
                 {"typed array runs past the end: 2305843009213693952 elements of 8 bytes"});
  expect_refused("ubjson packed int32 count 2^63-1", key + "[$l#L" + be64(INT64_MAX) + padding, {"typed array runs past the end"});
  expect_refused("ubjson typed string array 10^9", key + "[$S#l" + be32(1000000000) + padding, {"array count 1000000000 runs past the end"});
}

TEST(DeclaredSizes, UbjsonEmptyElements) {
  // Arrays typed Z (T, F) hold elements of no bytes: a 3 KB file of 400 such arrays, each
  // claiming as many nulls as the file has bytes, would be 1.2 million values.
  std::string inner;
  for (int i = 0; i < 400; ++i) inner += "$Z#l" + be32(3000);  // elements of a '['-typed array: no marker
  const std::string doc = std::string("{i\x07", 3) + "learner" + "[$[#l" + be32(400) + inner + "}";
  expect_refused("ubjson 400 arrays of 3000 nulls", doc, {"arrays of 'Z' declare", "more than the", "bytes of the input"});
  expect_refused("ubjson array of 2^31 trues", std::string("{i\x01", 3) + "a[$T#l" + be32(0x7fffffff) + "}", {"arrays of 'T' declare 2147483647"});
  // A few are fine.
  const std::string few = std::string("{i\x01", 3) + "a[$F#i\x03}";
  try {
    floresta::load_from_memory(few, "few.ubj");
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unrecognised model document"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- floresta JSON

json floresta_tree() { return floresta::test::minimal_floresta_tree(); }
json floresta_model() { return floresta::test::minimal_floresta_model(); }

TEST(DeclaredSizes, FlorestaFixturesLoad) { EXPECT_NO_THROW(floresta::load_from_memory(floresta_model().dump(), "fixture.json")); }

TEST(DeclaredSizes, FlorestaOutputs) {
  auto m = floresta_model();
  m["num_outputs"] = 1000000;
  expect_refused("floresta num_outputs=10^6", m.dump(), {"/base_margin", "has 1 entries, expected 1000000"});
  m["num_outputs"] = 2000000000;
  expect_refused("floresta num_outputs=2*10^9", m.dump(), {"/num_outputs", "2000000000 out of range [1, 10^6]"});
  auto v = floresta_model();
  v["num_outputs"] = 1000;
  v["leaf_width"] = 1000;
  v["base_margin"] = std::vector<double>(1000, 0.0);
  v["trees"][0]["leaf_vector"] = {1, 2, 3};
  expect_refused("floresta leaf_width=1000", v.dump(), {"/trees/0/leaf_vector", "has 3 entries, expected 3000"});
}

TEST(DeclaredSizes, FlorestaFeatures) {
  auto m = floresta_model();
  m["num_features"] = 268435455;
  expect_refused("floresta num_features=2^28-1", m.dump(), {"/features", "lists 2 features, num_features is 268435455"});
  m["num_features"] = 4294967296ll;
  expect_refused("floresta num_features=2^32", m.dump(), {"/num_features", "4294967296 out of range"});
}

TEST(DeclaredSizes, FlorestaCategoryCounts) {
  auto m = floresta_model();
  m["decision_rule"] = "sklearn_hist";
  m["features"][0]["type"] = "categorical";
  // Every node says it knows 2^24 codes: 2 MiB of bitset each once compiled.
  json tree = floresta_tree();
  std::vector<int> nodes, counts;
  json lists = json::array();
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(i);
    counts.push_back(1 << 24);
    lists.push_back({1});
  }
  tree["categorical"] = {{"nodes", nodes}, {"categories", lists}, {"category_counts", counts}};
  json trees = json::array();
  for (int t = 0; t < 20; ++t) trees.push_back(tree);
  m["trees"] = trees;
  expect_refused("floresta 60 category_counts=2^24", m.dump(), {"/trees/0/categorical/category_counts/1", "bitset words"});
  // Or lists one code, the largest there is.
  for (auto& t : m["trees"]) {
    t["categorical"]["category_counts"] = {0, 0, 0};
    t["categorical"]["categories"] = {{16777215}, {16777215}, {16777215}};
  }
  expect_refused("floresta 60 sets of code 2^24-1", m.dump(), {"category_counts", "bitset words"});
}

TEST(DeclaredSizes, FlorestaPreprocessing) {
  auto m = floresta_model();
  m["num_features"] = 268435455;
  m["preprocessing"] = {{"tables", {{{"values", {0, 1}}, {"unknown", 0}, {"missing", 0}}}},
                        {"columns", {{{"input", 0}, {"steps", json::array()}}, {{"input", 1}, {"steps", json::array()}}}}};
  expect_refused("floresta preprocessing, num_features=2^28-1", m.dump(), {"preprocessing makes 2 columns, the estimator takes 268435455"});
  auto p = floresta_model();
  p["preprocessing"] = {{"tables", json::array()},
                        {"columns", {{{"input", 2147483647}, {"steps", json::array()}}, {{"input", 1}, {"steps", json::array()}}}}};
  expect_refused("floresta preprocessing input 2^31-1", p.dump(), {"preprocessing column 0 reads input 2147483647 of 2"});
  p["preprocessing"]["columns"][0]["input"] = 0;
  p["preprocessing"]["columns"][0]["steps"] = {{{"kind", "lookup_code"}, {"table", 4000000000ll}}};
  expect_refused("floresta preprocessing table 4*10^9", p.dump(), {"/preprocessing/columns/0/steps/0/table", "no such lookup table"});
}

TEST(DeclaredSizes, FlorestaKMeans) {
  json m = {{"floresta_format", 1},
            {"task", "clustering"},
            {"decision_rule", "sklearn_tree"},
            {"link", "identity"},
            {"num_outputs", 2},
            {"base_margin", {0, 0}},
            {"num_features", 2},
            {"features", {{{"name", "a"}, {"type", "numeric"}}, {{"name", "b"}, {"type", "numeric"}}}},
            {"kmeans", {{"centers", {{0, 0}, {1, 1}}}}}};
  EXPECT_NO_THROW(floresta::load_from_memory(m.dump(), "fixture.json"));
  auto k = m;
  k["num_outputs"] = 1000000;
  expect_refused("floresta kmeans num_outputs=10^6", k.dump(), {"/base_margin", "expected 1000000"});
  k = m;
  k["num_outputs"] = 1000;
  k["base_margin"] = std::vector<double>(1000, 0.0);
  expect_refused("floresta kmeans 1000 centres declared, 2 given", k.dump(), {"/kmeans/centers", "has 2 centres, num_outputs is 1000"});
  k = m;
  k["num_features"] = 268435455;
  expect_refused("floresta kmeans num_features=2^28-1", k.dump(), {"/kmeans/centers/0", "has 2 entries, expected 268435455"});
}

TEST(DeclaredSizes, FlorestaEmbeddedEstimators) {
  auto x = xgb_model();
  x["learner"].erase("feature_names");
  x["learner"].erase("feature_types");
  xgb_params(x)["num_feature"] = "268435455";
  const json embedded_xgb = {{"floresta_format", 1}, {"num_features", 268435455}, {"estimator", {{"format", "xgboost"}, {"document", x}}}};
  expect_refused("floresta embedded xgboost num_feature", embedded_xgb.dump(), {"num_feature", "no feature_names"});
  const json embedded_lgb = {{"floresta_format", 1},
                             {"num_features", 2},
                             {"estimator", {{"format", "lightgbm-text"}, {"text", replace(lgb_text(), "num_leaves=3", "num_leaves=200000000")}}}};
  expect_refused("floresta embedded lightgbm num_leaves", embedded_lgb.dump(), {"num_leaves=200000000 but leaf_value"});
}

// ---------------------------------------------------------------- LightGBM JSON

json lgb_json() {
  return {{"num_class", 1},
          {"num_tree_per_iteration", 1},
          {"max_feature_idx", 1},
          {"objective", "regression"},
          {"feature_names", {"a", "b"}},
          {"tree_info",
           {{{"tree_structure",
              {{"split_feature", 0},
               {"threshold", 1.0},
               {"decision_type", "<="},
               {"default_left", true},
               {"missing_type", "None"},
               {"left_child", {{"leaf_value", 1}}},
               {"right_child", {{"leaf_value", 2}}}}}}}}};
}

TEST(DeclaredSizes, LightGBMJsonFixturesLoad) { EXPECT_NO_THROW(floresta::load_from_memory(lgb_json().dump(), "fixture.json")); }

TEST(DeclaredSizes, LightGBMJsonCounts) {
  auto m = lgb_json();
  m["num_tree_per_iteration"] = 1000000;
  expect_refused("lightgbm-json num_tree_per_iteration=10^6", m.dump(),
                 {"/num_tree_per_iteration", "1000000 out of range", "holds 1 trees in tree_info"});
  m = lgb_json();
  m["num_class"] = 1000000;
  m["num_tree_per_iteration"] = 1000000;
  m["objective"] = "multiclass num_class:1000000";
  expect_refused("lightgbm-json num_class=10^6", m.dump(), {"/num_tree_per_iteration", "out of range"});
  m = lgb_json();
  m["max_feature_idx"] = 268435454;
  expect_refused("lightgbm-json max_feature_idx, 2 names", m.dump(), {"/feature_names", "has 2 names for 268435455 features"});
  m.erase("feature_names");
  expect_refused("lightgbm-json max_feature_idx, no names", m.dump(), {"/max_feature_idx", "268435454 but the file has no feature_names"});
}

TEST(DeclaredSizes, LightGBMJsonCategories) {
  auto m = lgb_json();
  json node = {{"leaf_value", 0}};
  for (int i = 0; i < 40; ++i)
    node = {{"split_feature", 1}, {"threshold", "16777215"}, {"decision_type", "=="}, {"default_left", false},
            {"missing_type", "None"}, {"left_child", {{"leaf_value", i}}}, {"right_child", node}};
  m["tree_info"][0]["tree_structure"] = node;
  expect_refused("lightgbm-json 40 sets of code 2^24-1", m.dump(), {"/threshold", "bitset words"});
}

TEST(DeclaredSizes, LightGBMJsonDeepTree) {
  // A chain 1,080 splits deep ending in a full subtree of 10 levels: every node's JSON path
  // is ~13 KB long; kept for every node they took ~40 MB for a 230 KB file.
  std::function<json(int)> full = [&](int levels) -> json {
    if (levels == 0) return {{"leaf_value", 1}};
    return {{"split_feature", 0}, {"threshold", 1.0}, {"decision_type", "<="}, {"left_child", full(levels - 1)},
            {"right_child", full(levels - 1)}};
  };
  json node = full(10);
  for (int i = 0; i < 1080; ++i)
    node = {{"split_feature", 0}, {"threshold", 1.0}, {"decision_type", "<="}, {"left_child", {{"leaf_value", i}}}, {"right_child", node}};
  auto m = lgb_json();
  m["tree_info"][0]["tree_structure"] = node;
  expect_refused("lightgbm-json tree 1090 levels deep", m.dump(), {"tree 0: deeper than the limit of 1024 levels"});
}

// ---------------------------------------------------------------- compile

// ---------------------------------------------------------------- node covers (explanations)
// Each format's cover array is held to the tree's node count, declared or counted, before a
// model keeps it: a long array is refused, whatever the file claims elsewhere.

TEST(DeclaredSizes, XGBoostSumHessian) {
  auto m = xgb_model();
  xgb_tree(m)["sum_hessian"] = std::vector<double>(5, 1.0);
  EXPECT_NO_THROW(floresta::load_from_memory(m.dump(), "fixture.json"));
  xgb_tree(m)["sum_hessian"] = std::vector<double>(1000000, 1.0);
  expect_refused("xgboost-json sum_hessian of 10^6", m.dump(), {"/trees/0/sum_hessian", "has 1000000 entries, expected num_nodes = 5"});
  expect_refused("xgboost-ubjson sum_hessian of 10^6", ubj(m), {"/trees/0/sum_hessian", "expected num_nodes = 5"});
  xgb_tree(m)["sum_hessian"] = {1.0, 1.0};
  expect_refused("xgboost-json sum_hessian of 2", m.dump(), {"/trees/0/sum_hessian", "has 2 entries, expected num_nodes = 5"});
  // In UBJSON, the packed array of the two hessians made to claim 2^40 elements.
  std::string bytes = ubj(m);
  const std::string key = std::string("i\x0b", 2) + "sum_hessian";
  const std::size_t at = bytes.find(key);
  ASSERT_NE(at, std::string::npos);
  const std::string packed = std::string("[$D#i\x02", 6);
  ASSERT_EQ(bytes.compare(at + key.size(), packed.size(), packed), 0);
  bytes.replace(at + key.size(), packed.size(), "[$D#L" + be64(uint64_t(1) << 40));
  expect_refused("xgboost-ubjson sum_hessian claims 2^40", bytes, {"typed array runs past the end: 1099511627776 elements"});
}

TEST(DeclaredSizes, LightGBMTextCounts) {
  const std::string counts = "internal_count=10 6\nleaf_count=4 2 4\n";
  EXPECT_NO_THROW(floresta::load_from_memory(replace(lgb_text(), "is_linear=0", counts + "is_linear=0"), "fixture.txt"));
  std::string many = "leaf_count=";
  for (int i = 0; i < 300000; ++i) many += "1 ";
  expect_refused("lightgbm-text leaf_count of 300000",
                 replace(lgb_text(), "is_linear=0", "internal_count=10 6\n" + many + "\nis_linear=0"),
                 {"leaf_count has 300000 values, expected 3"});
  expect_refused("lightgbm-text internal_count of 1",
                 replace(lgb_text(), "is_linear=0", "internal_count=10\nleaf_count=4 2 4\nis_linear=0"),
                 {"internal_count has 1 values, expected 2"});
}

TEST(DeclaredSizes, FlorestaCover) {
  auto m = floresta_model();
  m["trees"][0]["cover"] = {3, 1, 2};
  EXPECT_NO_THROW(floresta::load_from_memory(m.dump(), "fixture.json"));
  m["trees"][0]["cover"] = std::vector<double>(1000000, 1.0);
  expect_refused("floresta cover of 10^6", m.dump(), {"/trees/0/cover", "has 1000000 entries, expected 3"});
  m["trees"][0]["cover"] = {3, 1};
  expect_refused("floresta cover of 2", m.dump(), {"/trees/0/cover", "has 2 entries, expected 3"});
}

TEST(DeclaredSizes, CompileRefusesTooManyOutputs) {
  floresta::ModelSpec spec;
  spec.source = "spec";
  spec.num_features = 1;
  spec.num_outputs = 2000000;
  spec.base_margin.assign(2000000, 0.0);
  spec.schema.features.resize(1);
  try {
    floresta::compile(spec);
    FAIL() << "no error";
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("2000000 outputs is more than floresta supports"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- the measurement itself

// A valid LightGBM tree of 100,000 leaves (balanced, so within the depth limit): the
// measurement sees its memory, and a real model of that size stays within the bound.
TEST(DeclaredSizes, MeasurementSeesARealLoad) {
  const int splits = 99999;
  std::string features = "split_feature=", thresholds = "threshold=", types = "decision_type=", lefts = "left_child=",
              rights = "right_child=", values = "leaf_value=";
  auto child = [&](int c) { return c < splits ? std::to_string(c) : std::to_string(~(c - splits)); };
  for (int i = 0; i < splits; ++i) {
    features += std::to_string(i % 2) + " ";
    thresholds += std::to_string(i) + " ";
    types += "2 ";
    lefts += child(2 * i + 1) + " ";
    rights += child(2 * i + 2) + " ";
  }
  for (int i = 0; i <= splits; ++i) values += std::to_string(i) + " ";
  const std::string tree = "Tree=0\nnum_leaves=" + std::to_string(splits + 1) + "\nnum_cat=0\n" + features + "\n" + thresholds + "\n" +
                           types + "\n" + lefts + "\n" + rights + "\n" + values + "\nis_linear=0\nshrinkage=1\n";
  const std::string text = lgb_text(tree);
  const Outcome o = load_in_child(text, "big.txt");
  EXPECT_TRUE(o.loaded) << o.message;
  expect_within_bound("lightgbm-text 100000 leaves (loads)", text.size(), o);
#ifdef FLORESTA_TEST_FORK
  EXPECT_GT(o.heap_peak, static_cast<long long>(text.size())) << "the operator-new count missed the load";
  EXPECT_GT(o.rss_growth, 0) << "VmHWM missed the load";
#endif
}

}  // namespace
