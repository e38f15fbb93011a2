// phone_theft — the phone-theft model from the command line: one person in, the 10 places
// where a phone robbery or theft is most likely to happen to them out, most likely first.
//
//   phone_theft --model examples/models/phone_theft.json --person examples/models/phone_theft_person.json
//   phone_theft --model phone_theft.json --bairro REPUBLICA --marca Apple --dia SEXTA
//               --periodo NOITE --idade 23 --sexo MULHER [--json]
//
// The fields are the model's features (`--NAME VALUE` for each; on top of --person when both
// are given) and are checked exactly as the server checks them (scorer.hpp): the same rules,
// the same messages. --json prints the server's answer instead of the table.
#include "scorer.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "usage: phone_theft --model PATH [--person PERSON.json] [--FIELD VALUE ...] [--json]\n"
    "\n"
    "Prints the places where a phone robbery or theft is most likely, most likely first.\n"
    "  --model PATH      the model file (examples/models/phone_theft.json)\n"
    "  --person FILE     a JSON object with the fields, as POST /predict takes it\n"
    "  --FIELD VALUE     a field of the model (bairro, marca, dia, periodo, idade, sexo);\n"
    "                    numbers for numeric fields; null for a field not given\n"
    "  --json            print the answer as the server gives it\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "phone_theft: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// Display width of UTF-8 text (one column a code point: enough for Portuguese labels).
std::size_t columns(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, person_path;
  bool json_out = false;
  std::vector<std::pair<std::string, std::string>> fields;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (flag == "--json") {
      json_out = true;
      continue;
    }
    if (flag.rfind("--", 0) != 0 || flag.size() < 3) usage_error("unexpected argument '" + flag + "'");
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--model") model_path = value;
    else if (flag == "--person") person_path = value;
    else fields.emplace_back(flag.substr(2), value);
  }
  if (model_path.empty()) usage_error("--model PATH is required");

  try {
    const phone_theft::Scorer scorer(floresta::load(model_path));
    const floresta::Schema& schema = scorer.model().schema();

    nlohmann::json person = nlohmann::json::object();
    if (!person_path.empty()) {
      std::ifstream in(person_path);
      if (!in) throw floresta::Error(person_path + ": cannot open");
      try {
        person = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        throw floresta::Error(person_path + ": malformed JSON: " + e.what());
      }
      if (!person.is_object()) throw floresta::Error(person_path + ": a person is a JSON object");
    }
    for (const auto& [name, value] : fields) {
      const auto column = schema.index_of(name);
      if (!column) {
        std::string names;
        for (const auto& f : schema.features) names += (names.empty() ? "" : ", ") + f.name;
        usage_error("unknown option '--" + name + "' (the model's fields are " + names + ")");
      }
      const floresta::Feature& feature = schema.features[*column];
      const bool numeric = !feature.is_categorical() || !feature.number_categories.empty();
      if (value == "null") {
        person[name] = nullptr;  // not given
      } else if (numeric) {
        char* end = nullptr;
        const double number = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0') {
          std::fprintf(stderr, "phone_theft: field '%s' must be a number, got '%s'\n", name.c_str(), value.c_str());
          return 1;
        }
        if (number == static_cast<double>(static_cast<long long>(number)) && std::abs(number) < 1e15)
          person[name] = static_cast<long long>(number);  // 23, not 23.0, in messages
        else
          person[name] = number;
      } else {
        person[name] = value;
      }
    }

    std::vector<double> row(scorer.num_fields());
    phone_theft::Problem problem;
    if (!scorer.encode(person, row.data(), problem)) {
      std::fprintf(stderr, "phone_theft: %s\n", problem.message.c_str());
      return 1;
    }
    std::vector<double> proba(scorer.num_classes());
    scorer.score(row.data(), 1, proba.data());
    if (json_out) {
      std::string out;
      scorer.append_answer(proba.data(), out);
      std::printf("%s\n", out.c_str());
      return 0;
    }

    // The person as the model read them: display names ("Sé", "Sábado"), "not given".
    std::string described, few;
    for (std::size_t j = 0; j < schema.size(); ++j) {
      described += (described.empty() ? "" : ", ") + schema.features[j].name + "=" + scorer.shown(j, row[j]);
      if (scorer.few_reports(j, row[j])) few += (few.empty() ? "" : ", ") + scorer.shown(j, row[j]);
    }
    std::vector<std::size_t> order(scorer.num_classes());
    scorer.model().rank_order(proba.data(), order.data());
    const auto& labels = scorer.labels();
    const auto& average = scorer.city_average();
    const auto lift = [&](std::size_t c) {
      char text[48];
      std::snprintf(text, sizeof text, "%.1f× the city's average", proba[c] / average[c]);
      return std::string(text);
    };
    std::string who = person.contains("nome") && person["nome"].is_string() && !person["nome"].get<std::string>().empty()
                          ? person["nome"].get<std::string>() + ", the"
                          : "The";
    std::printf("Person: %s\n%s most likely place is %s (%.2f%%%s).\n", described.c_str(), who.c_str(),
                labels[order[0]].c_str(), 100 * proba[order[0]], average.empty() ? "" : (", " + lift(order[0])).c_str());
    std::printf("These are the shares of places among the phone thefts that happen to people like this one, "
                "not the chance of being robbed.\n");
    if (!few.empty()) std::printf("Few reports in %s: the answer there leans on the city's pattern.\n", few.c_str());
    std::printf("\n");
    std::size_t width = 0;
    for (const auto& label : labels) width = std::max(width, columns(label));
    for (std::size_t i = 0; i < order.size(); ++i) {
      const std::size_t c = order[i];
      const std::string pad(width - columns(labels[c]), ' ');
      const std::string bar(static_cast<std::size_t>(proba[c] * 30 + 0.5), '#');
      const std::string bar_pad(30 - std::min<std::size_t>(bar.size(), 30), ' ');
      std::printf("%2zu. %s%s  %6.2f%%  %s%s  %s\n", i + 1, labels[c].c_str(), pad.c_str(), 100 * proba[c], bar.c_str(),
                  bar_pad.c_str(), average.empty() ? "" : lift(c).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phone_theft: %s\n", e.what());
    return 1;
  }
  return 0;
}
