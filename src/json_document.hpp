// src/json_document.hpp — reading JSON and UBJSON model files safely, and walking them
// with error messages that name the JSON path. Private to the loaders.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace floresta::detail {

using Json = nlohmann::json;

// Deepest nesting a model file may use: XGBoost needs fewer than 10 levels; LightGBM's
// dump_model nests one level per tree level, and trees are limited to 1024 levels.
constexpr int kMaxJsonDepth = 1100;

enum class JsonEncoding { kText, kUbjson };

// Text JSON starts with '{' followed by white space, '"' or '}'; UBJSON's '{' is followed by
// a type marker. Only used on buffers whose first byte is '{'.
JsonEncoding sniff_json_encoding(std::string_view bytes);

// Parses JSON text or UBJSON with a nesting limit; errors name `source` and the byte offset.
// A UBJSON document refers to `bytes` (its packed arrays are not copied): keep them alive
// while the document is read.
Json parse_json_document(std::string_view bytes, JsonEncoding encoding, const std::string& source);

// XGBoost's JSON writer has emitted the non-standard tokens NaN, Infinity and -Infinity
// (1.6-2.1: a categorical node's split_conditions entry). This parses such text with each
// bare token (outside strings) turned into a marked string that only number accessors
// accept (as_double, double_array); as_string refuses it. Callers use it only for XGBoost
// documents, after the strict parse failed: floresta's own JSON stays strict.
Json parse_json_with_nonfinite_tokens(std::string_view text, const std::string& source);
// Whether text has a bare NaN / Infinity token outside strings (a scan of the whole text).
bool has_nonfinite_token(std::string_view text);

// UBJSON with packed numeric arrays (see ubjson.cpp) and their accessors.
Json parse_ubjson(std::string_view bytes, const std::string& source);
std::size_t packed_size(const Json::binary_t& packed);
bool packed_is_integer(const Json::binary_t& packed);
void packed_to_doubles(const Json::binary_t& packed, double* out);
void packed_to_ints(const Json::binary_t& packed, int64_t* out);  // integer subtypes only

// A position in a parsed document: every accessor names source and path when it fails.
class JsonCursor {
 public:
  JsonCursor(const Json& value, std::string source, std::string path)
      : value_(&value), source_(std::move(source)), path_(std::move(path)) {}

  const Json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  bool has(const char* key) const;
  JsonCursor at(const char* key) const;        // required object member
  JsonCursor at(std::size_t index) const;      // array element
  std::size_t size() const;                    // array length (error if not an array)
  bool is_array() const { return value_->is_array() || value_->is_binary(); }

  std::string as_string() const;
  int64_t as_int() const;             // JSON integer, or a string holding one
  double as_double() const;           // JSON number, or a string holding one
  std::vector<int64_t> int_array() const;
  std::vector<double> double_array() const;
  // 0/1 flags written as JSON booleans or integers (XGBoost wrote both for default_left).
  std::vector<uint8_t> flag_array() const;
  std::vector<std::string> string_array() const;

  [[noreturn]] void fail(const std::string& rule) const;

 private:
  const Json* value_;
  std::string source_;
  std::string path_;
};

// Parses a whole string as a number in the C locale ("5E-1", "-inf", "nan").
bool parse_double(std::string_view text, double& out);
bool parse_float(std::string_view text, float& out);

}  // namespace floresta::detail
