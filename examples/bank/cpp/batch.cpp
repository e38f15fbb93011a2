// bank_batch — a day of bank transactions scored in batch from C++: the fraud alerts and the
// customers' segments, with floresta's public API only.
//
//   bank_batch --fraud-model examples/models/bank_fraud.json --transactions day.jsonl
//              [--segments-model examples/models/bank_segments.json --customers customers.jsonl]
//              [--top 15]
//
// Input: JSON Lines, one flat object a line. A transaction line holds the model's inputs
// (bank/features.json's fraud_features, as examples/bank/demo.py writes them beside the
// generator's fields); a customer line holds the segment features and `id_cliente`. Fields
// the model does not know (ids, labels) are ignored; each line becomes a floresta::Record,
// encoded with the vocabularies the model file carries, and the rows are scored in one call.
// The alert threshold, the class labels and the segment names come from the model files.
// A line that cannot be read or encoded, or lacks one of the model's features (null is
// allowed: a missing value), is reported with its number and skipped; a file with no line
// left to score is an error (exit status 1).
#include <floresta/floresta.hpp>
#include <nlohmann/json.hpp>

#include "flags.hpp"
#include "scorer.hpp"  // bank::alert_threshold, shared with the stream scorer

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "usage: bank_batch --fraud-model PATH --transactions FILE.jsonl [--segments-model PATH\n"
    "                  --customers FILE.jsonl] [--top N]\n"
    "\n"
    "Scores a batch of transactions with the fraud model (alerts above the threshold the model\n"
    "file carries) and, with --customers, assigns each customer a segment.\n"
    "  --fraud-model PATH     examples/models/bank_fraud.json\n"
    "  --transactions FILE    JSON Lines: the transaction fields and the model's features\n"
    "  --segments-model PATH  examples/models/bank_segments.json\n"
    "  --customers FILE       JSON Lines: id_cliente and the segment features\n"
    "  --top N                alerts to list, highest probability first (default 15)\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bank_batch: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// One input line that became a row: its encoded values and the fields shown in the report.
struct Row {
  std::size_t line = 0;
  nlohmann::json fields;
};

// The model's features a line lacks (a null value is present: a missing value by choice). A
// line without the features, such as the generator's own records, would otherwise be scored
// on NaNs.
std::string absent_features(const nlohmann::json& fields, const floresta::Model& model) {
  std::string absent;
  for (const std::string& name : model.feature_names())
    if (!fields.contains(name)) absent += (absent.empty() ? "" : ", ") + name;
  return absent;
}

// Reads `path` line by line into rows of `model`'s raw inputs (rows x num_features, NaN for
// missing). Lines that fail are reported on stderr and left out; a file with no row left is
// an error.
std::vector<double> read_rows(const std::string& path, const floresta::Model& model, std::vector<Row>& rows,
                              std::size_t& rejected) {
  std::ifstream in(path);
  if (!in) throw floresta::Error(path + ": cannot open");
  std::vector<double> values;
  std::string text;
  std::size_t line = 1;
  for (; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const floresta::Record record = floresta::Record::from_json(text);  // errors name the field
      Row r{line, nlohmann::json::parse(text)};
      const std::string absent = absent_features(r.fields, model);
      if (!absent.empty()) throw floresta::Error("lacks the model's feature(s) " + absent);
      const std::vector<double> row = model.encode(record);
      values.insert(values.end(), row.begin(), row.end());
      rows.push_back(std::move(r));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "bank_batch: %s: line %zu: %s\n", path.c_str(), line, error.what());
      ++rejected;
    }
  }
  if (in.bad() || (!in.eof() && in.fail())) throw floresta::Error(path + ": cannot be read (a directory?)");
  if (rows.empty())
    throw floresta::Error(path + ": no line could be scored (" + std::to_string(rejected) + " rejected of " +
                          std::to_string(line - 1) + " lines)");
  return values;
}

double number_of(const nlohmann::json& fields, const char* name) {
  const auto it = fields.find(name);
  return it != fields.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string text_of(const nlohmann::json& fields, const char* name) {
  const auto it = fields.find(name);
  if (it == fields.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void score_transactions(const std::string& model_path, const std::string& path, std::size_t top) {
  const floresta::Model model = floresta::load(model_path);
  const double threshold = bank::alert_threshold(model, model_path);
  std::vector<Row> rows;
  std::size_t rejected = 0;
  const std::vector<double> X = read_rows(path, model, rows, rejected);
  const std::vector<double> proba = model.predict_proba(X.data(), rows.size(), model.num_features());
  // binary: [P(legítima), P(fraude)] per row; the fraud class is the last
  const std::size_t width = model.class_labels().size();
  std::vector<double> p_fraud(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) p_fraud[i] = proba[i * width + width - 1];

  std::vector<std::size_t> alerts;
  std::map<std::string, std::pair<int, int>> patterns;  // labelled pattern -> (transactions, alerted)
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool alert = p_fraud[i] > threshold;
    if (alert) alerts.push_back(i);
    const std::string pattern = text_of(rows[i].fields, "padrao_fraude");
    if (!pattern.empty()) {
      ++patterns[pattern].first;
      patterns[pattern].second += alert;
    }
  }
  std::stable_sort(alerts.begin(), alerts.end(), [&](std::size_t a, std::size_t b) {
    return p_fraud[a] > p_fraud[b];
  });
  std::printf("%zu transactions scored (%zu lines rejected), kernel %s; alert threshold %.6f (from the model file)\n",
              rows.size(), rejected, model.kernel().c_str(), threshold);
  std::printf("%zu alerts (%.2f%% of transactions)%s\n", alerts.size(),
              rows.empty() ? 0.0 : 100.0 * static_cast<double>(alerts.size()) / static_cast<double>(rows.size()),
              alerts.size() > top ? ", the first ones:" : ":");
  std::printf("  %-16s %-9s %-8s %-17s %10s %8s  %s\n", "transaction", "customer", "time", "type", "R$", "P(fraud)",
              "labelled pattern");
  for (std::size_t k = 0; k < alerts.size() && k < top; ++k) {
    const Row& r = rows[alerts[k]];
    const std::string pattern = text_of(r.fields, "padrao_fraude");
    std::printf("  %-16s %-9s %-8s %-17s %10.2f %8.4f  %s\n", text_of(r.fields, "id_transacao").c_str(),
                text_of(r.fields, "id_cliente").c_str(), text_of(r.fields, "horario").c_str(),
                text_of(r.fields, "transacao").c_str(), number_of(r.fields, "valor_transacao"),
                p_fraud[alerts[k]], pattern.empty() ? "(honest)" : pattern.c_str());
  }
  for (const auto& [pattern, counts] : patterns)
    std::printf("  %-18s %d of %d fraudulent transactions alerted\n", pattern.c_str(), counts.second, counts.first);
}

void score_customers(const std::string& model_path, const std::string& path) {
  const floresta::Model model = floresta::load(model_path);
  if (!model.is_clusterer()) throw floresta::Error(model_path + ": not a segmentation (k-means) model");
  std::vector<Row> rows;
  std::size_t rejected = 0;
  const std::vector<double> X = read_rows(path, model, rows, rejected);
  const std::vector<double> segment = model.predict(X.data(), rows.size(), model.num_features());
  const std::vector<std::string> names = model.class_labels();
  std::vector<std::size_t> sizes(names.size(), 0);
  for (double s : segment) ++sizes.at(static_cast<std::size_t>(s));
  std::printf("\n%zu customers segmented (%zu lines rejected):\n", rows.size(), rejected);
  for (std::size_t k = 0; k < names.size(); ++k)
    std::printf("  %zu  %-34s %6zu customers\n", k, names[k].c_str(), sizes[k]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string fraud_model, segments_model, transactions, customers;
  std::size_t top = 15;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--fraud-model") fraud_model = value;
    else if (flag == "--segments-model") segments_model = value;
    else if (flag == "--transactions") transactions = value;
    else if (flag == "--customers") customers = value;
    else if (flag == "--top") {
      const auto n = bank::whole_number(value, 0, 1'000'000'000);
      if (!n) usage_error("--top takes a count, not '" + value + "'");
      top = static_cast<std::size_t>(*n);
    } else usage_error("unknown flag " + flag);
  }
  if (fraud_model.empty() || transactions.empty()) usage_error("--fraud-model and --transactions are required");
  if (customers.empty() != segments_model.empty()) usage_error("--customers and --segments-model go together");
  try {
    score_transactions(fraud_model, transactions, top);
    if (!customers.empty()) score_customers(segments_model, customers);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bank_batch: %s\n", error.what());
    return 1;
  }
  return 0;
}
