// bank_stream_scorer — scores bank transactions as they arrive: features from each customer's
// state by the one definition (features.json), the fraud model by floresta, an alert at the
// model file's threshold.
//
//   bank_stream_scorer --stdin --fraud-model examples/models/bank_fraud.json < transactions.jsonl
//
// --stdin reads JSON Lines (the generator's records, in time order) and writes one scored
// record per line to stdout; a line that cannot be scored goes to stderr as
// {"entry", "id_transacao", "error"} and the stream goes on. At the end a summary goes to stderr.
// (The Redis Streams mode of issue 21 is not built yet: see examples/bank/README.md.)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "scorer.hpp"

namespace {

const char* const kUsage =
    "usage: bank_stream_scorer --stdin --fraud-model PATH [--batch N] [--emit-features]\n"
    "                          [--load-state FILE] [--save-state FILE]\n"
    "\n"
    "Scores transactions (JSON Lines on stdin, in time order) with the fraud model: one record a\n"
    "line on stdout: entry (\"line N\"), id_transacao, id_cliente, fraud_probability, alert.\n"
    "  --stdin            read JSON Lines on stdin, write scored JSON Lines on stdout\n"
    "  --fraud-model PATH examples/models/bank_fraud.json (its metadata holds the alert threshold)\n"
    "  --batch N          micro-batch size: rows scored per model call (default 256)\n"
    "  --emit-features    add the model's computed inputs to each record (\"features\")\n"
    "  --load-state FILE  start from the customers' states saved by --save-state\n"
    "  --save-state FILE  at the end, save every customer's state (JSON Lines) for the next run\n"
    "Records that cannot be scored go to stderr as {\"entry\", \"id_transacao\", \"error\"}.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bank_stream_scorer: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

struct Options {
  std::string fraud_model, load_state, save_state;
  bool stdin_mode = false, emit_features = false;
  std::size_t batch = 256;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--stdin") o.stdin_mode = true;
    else if (flag == "--emit-features") o.emit_features = true;
    else if (flag == "--fraud-model" || flag == "--batch" || flag == "--load-state" || flag == "--save-state") {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      const std::string value = argv[++i];
      if (flag == "--fraud-model") o.fraud_model = value;
      else if (flag == "--load-state") o.load_state = value;
      else if (flag == "--save-state") o.save_state = value;
      else {
        char* end = nullptr;
        const long n = std::strtol(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || n < 1 || n > 1'000'000) usage_error("--batch takes a count in [1, 10^6], not '" + value + "'");
        o.batch = static_cast<std::size_t>(n);
      }
    } else usage_error("unknown flag " + flag);
  }
  if (o.fraud_model.empty()) usage_error("--fraud-model is required");
  if (!o.stdin_mode) usage_error("only --stdin is available in this build (the Redis Streams mode is not built yet)");
  return o;
}

void reject(const std::string& entry, const nlohmann::json& record, const std::string& reason) {
  nlohmann::json error = {{"entry", entry}, {"error", reason}};
  const auto id = record.is_object() ? record.find("id_transacao") : record.end();
  error["id_transacao"] = record.is_object() && id != record.end() ? *id : nlohmann::json();
  std::cerr << error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

// Written to a temporary name, then renamed: a crash leaves the old file or the new one.
void save_state(const bank::FeatureState& state, const std::string& path) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!out) throw std::runtime_error(temporary + ": cannot write");
    state.save(out);
    out.flush();
    if (!out) throw std::runtime_error(temporary + ": write failed");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) throw std::runtime_error(path + ": cannot rename into place");
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::ios::sync_with_stdio(false);  // iostreams synchronised with stdio read a character at a time
  try {
    bank::FraudScorer scorer(options.fraud_model);
    if (!options.load_state.empty()) {
      std::ifstream saved(options.load_state);
      if (!saved) throw std::runtime_error(options.load_state + ": cannot open");
      scorer.state().load(saved, options.load_state);
    }
    const bank::FeatureDefinition& definition = bank::FeatureDefinition::built_in();
    std::size_t in = 0, scored = 0, rejected = 0, alerts = 0;
    const auto start = std::chrono::steady_clock::now();
    auto flush = [&] {
      for (const bank::Scored& s : scorer.score()) {
        std::cout << bank::to_json(s, definition, options.emit_features).dump() << '\n';
        ++scored;
        alerts += s.alert;
      }
    };
    std::string line;
    for (std::size_t number = 1; std::getline(std::cin, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      ++in;
      const std::string entry = "line " + std::to_string(number);
      nlohmann::json record;
      try {
        record = nlohmann::json::parse(line);
        scorer.add(entry, record);
      } catch (const std::exception& error) {
        reject(entry, record, error.what());
        ++rejected;
        continue;
      }
      if (scorer.pending() >= options.batch) flush();
    }
    flush();
    std::cout.flush();
    if (!options.save_state.empty()) save_state(scorer.state(), options.save_state);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "bank_stream_scorer: records in %zu, scored %zu, rejected %zu, alerts %zu, %.0f records/s\n", in,
                 scored, rejected, alerts, seconds > 0 ? static_cast<double>(in) / seconds : 0.0);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bank_stream_scorer: %s\n", error.what());
    return 1;
  }
  return 0;
}
