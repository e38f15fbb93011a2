// phone_theft_bench_explain — what POST /predict?explain=1 adds to one person's answer, without
// HTTP: Scorer::answer (score, rank, write the 10 places) against Scorer::answer_explained (the
// same, then the first place's TreeSHAP contributions, sorted and written), on one person.
//
//   build/examples/phone_theft/phone_theft_bench_explain [--model examples/models/phone_theft.json]
//       [--person examples/models/phone_theft_person.json] [--calls 200000]
//
// Each call is timed on its own (steady_clock) and the two kinds alternate in blocks of 100, so
// both see the same machine state; prints p50, p90 and p99 per call of each kind, their p50
// difference, and Model::contributions_row alone. Not a test (it asserts no time): the numbers
// are in docs/benchmarks.md (bench-serve).
#include "scorer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double>& values, double q) {
  const std::size_t i = std::min(values.size() - 1, static_cast<std::size_t>(q * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(i), values.end());
  return values[i];
}

void report(const char* name, std::vector<double>& ns) {
  const double p50 = percentile(ns, 0.50), p90 = percentile(ns, 0.90), p99 = percentile(ns, 0.99);
  std::printf("%-34s p50 %8.2f us   p90 %8.2f us   p99 %8.2f us\n", name, p50 / 1e3, p90 / 1e3, p99 / 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path = "examples/models/phone_theft.json";
  std::string person_path = "examples/models/phone_theft_person.json";
  long calls = 200000;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 < argc && flag == "--model") model_path = argv[++i];
    else if (i + 1 < argc && flag == "--person") person_path = argv[++i];
    else if (i + 1 < argc && flag == "--calls") calls = std::max(1000L, std::atol(argv[++i]));
    else {
      std::fprintf(stderr, "usage: phone_theft_bench_explain [--model PATH] [--person FILE] [--calls N]\n");
      return 2;
    }
  }
  try {
    const phone_theft::Scorer scorer(floresta::load(model_path));
    std::ifstream in(person_path);
    if (!in) throw floresta::Error(person_path + ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    std::vector<double> row(scorer.num_fields());
    phone_theft::Problem problem;
    if (!scorer.encode(nlohmann::json::parse(text.str()), row.data(), problem))
      throw floresta::Error(person_path + ": " + problem.message);
    if (!scorer.can_explain()) throw floresta::Error(scorer.explain_refusal());
    std::vector<double> proba(scorer.num_classes());
    std::vector<std::size_t> order(scorer.num_classes());
    scorer.score(row.data(), 1, proba.data());
    scorer.model().rank_order(proba.data(), order.data());
    const std::size_t top = order[0];  // the class the answer's first place is

    std::vector<double> plain_ns, explained_ns, shap_ns;
    plain_ns.reserve(static_cast<std::size_t>(calls));
    explained_ns.reserve(static_cast<std::size_t>(calls));
    shap_ns.reserve(static_cast<std::size_t>(calls));
    std::vector<double> parts(scorer.num_fields() + 1);
    std::string out;
    out.reserve(4096);
    std::size_t bytes_plain = 0, bytes_explained = 0;
    constexpr long kBlock = 100;
    for (long done = 0; done < calls; done += kBlock) {
      for (long i = 0; i < kBlock; ++i) {  // as the service: a fresh answer string per request
        out.clear();
        const auto start = Clock::now();
        scorer.answer(row.data(), out);
        plain_ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
        bytes_plain = out.size();
      }
      for (long i = 0; i < kBlock; ++i) {
        out.clear();
        const auto start = Clock::now();
        scorer.answer_explained(row.data(), out);
        explained_ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
        bytes_explained = out.size();
      }
      for (long i = 0; i < kBlock; ++i) {
        const auto start = Clock::now();
        scorer.model().contributions_row(row.data(), row.size(), top, parts.data());
        shap_ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
      }
    }
    std::printf("model %s (%zu trees, plan %s, kernel %s), person %s, %ld calls of each\n", model_path.c_str(),
                scorer.model().num_trees(), scorer.model().plan().c_str(), scorer.model().kernel().c_str(),
                person_path.c_str(), static_cast<long>(plain_ns.size()));
    std::printf("first place %s; answer %zu bytes, explained %zu bytes\n", scorer.labels()[top].c_str(), bytes_plain,
                bytes_explained);
    std::vector<double> plain_copy = plain_ns, explained_copy = explained_ns;
    report("Scorer::answer", plain_ns);
    report("Scorer::answer_explained", explained_ns);
    report("Model::contributions_row (1 class)", shap_ns);
    std::printf("added at p50: %.2f us\n", (percentile(explained_copy, 0.5) - percentile(plain_copy, 0.5)) / 1e3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phone_theft_bench_explain: %s\n", e.what());
    return 1;
  }
  return 0;
}
