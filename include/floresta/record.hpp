// floresta/record.hpp — raw records: named values (numbers, strings, missing) to score.
//
//   floresta::Record r;
//   r.set("bairro", "REPUBLICA").set("idade", 23.0).set("sexo", floresta::missing);
//   auto proba = model.predict_proba(r);                 // category codes exactly as in training
//   auto same  = model.predict_proba(floresta::Record::from_json(R"({"bairro": "SE", "idade": 40})"));
//
// Policies (RecordOptions), identical from C++ and Python:
//   - a missing field, or a null/None value, is a missing value (NaN);
//   - an unseen category is treated as the training library treats it: missing for tree
//     models' native categorical splits, the encoder's unknown handling inside a pipeline;
//     UnknownCategory::kError reports it instead;
//   - a field the model does not know is ignored, or an error with ExtraFields::kError;
//   - a value of the wrong type (a string for a numeric feature, a number for a feature whose
//     categories are strings) is always an error naming the field;
//   - a feature with an input rule (schema.hpp InputRule, the model file's `input`) reads a
//     text through it (folded, aliases, leading words, otherwise) and refuses what it does
//     not take, and refuses numbers outside its range, whatever the options say.
// Refused values raise floresta::InputError (field, rule, message).
//
// Thread-safety: Record is a plain value; encoding is const on the model.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace floresta {

using Missing = std::monostate;
inline constexpr Missing missing{};
using Value = std::variant<Missing, double, std::string>;

struct Record {
  std::vector<std::pair<std::string, Value>> fields;

  Record& set(std::string name, Value value) {
    fields.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  // Exact overloads, so that a double never converts to int on the way (and strings stay strings).
  Record& set(std::string name, double value) { return set(std::move(name), Value(value)); }
  Record& set(std::string name, int value) { return set(std::move(name), Value(static_cast<double>(value))); }
  Record& set(std::string name, const char* value) { return set(std::move(name), Value(std::string(value))); }
  Record& set(std::string name, std::string value) { return set(std::move(name), Value(std::move(value))); }
  Record& set(std::string name, Missing) { return set(std::move(name), Value(missing)); }

  // A flat JSON object: numbers, strings, booleans (as 0/1) and null. Errors name the field.
  static Record from_json(const std::string& json_object);
};

// Folds a text as an input rule does: `accents` maps letters with diacritics (Latin-1
// Supplement and Latin Extended-A: "ã" -> "a", "Ç" -> "C", "ß" -> "ss", "æ" -> "ae"), the
// ordinal indicators ("4º" -> "4o") and typographic apostrophes (’ ‘ ` ´) to plain ASCII; `letter_case` upper-cases ASCII, Latin-1
// and Latin Extended-A letters; `spaces` trims white space (ASCII and no-break space) and
// collapses runs of it to one space. Other characters pass unchanged; invalid UTF-8 bytes too.
std::string fold_text(std::string_view text, bool letter_case, bool accents, bool spaces);

enum class UnknownCategory { kAsTrained, kError };
enum class ExtraFields { kIgnore, kError };

struct RecordOptions {
  UnknownCategory unknown_category = UnknownCategory::kAsTrained;
  ExtraFields extra_fields = ExtraFields::kIgnore;
};

}  // namespace floresta
