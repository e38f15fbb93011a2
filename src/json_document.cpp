#include "json_document.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "fail.hpp"
#include "floresta/error.hpp"

namespace floresta::detail {
namespace {

// Builds the DOM like nlohmann's own SAX DOM parser, refusing JSON text nested deeper than
// kMaxJsonDepth (the UBJSON reader in ubjson.cpp keeps its own limit).
class DepthLimitedSax : public nlohmann::detail::json_sax_dom_parser<Json> {
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;

 public:
  explicit DepthLimitedSax(Json& root) : Base(root, /*allow_exceptions=*/true) {}

  bool start_object(std::size_t n) {
    enter();
    return Base::start_object(n);
  }
  bool end_object() {
    --depth_;
    return Base::end_object();
  }
  bool start_array(std::size_t n) {
    enter();
    return Base::start_array(n);
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }

 private:
  void enter() {
    if (++depth_ > kMaxJsonDepth)
      throw Error("nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  int depth_ = 0;
};

// A bare non-finite token becomes this prefix + the token, as a JSON string ("\u0001NaN"):
// a control character no model file puts at the start of a name.
constexpr char kNonFiniteMark = '\x01';

bool nonfinite_value(const std::string& s, double& out) {
  if (s.size() < 2 || s[0] != kNonFiniteMark) return false;
  const std::string_view token = std::string_view(s).substr(1);
  if (token == "NaN" || token == "-NaN") out = std::numeric_limits<double>::quiet_NaN();
  else if (token == "Infinity") out = std::numeric_limits<double>::infinity();
  else if (token == "-Infinity") out = -std::numeric_limits<double>::infinity();
  else return false;
  return true;
}

// Calls found(begin, length) for each bare token outside strings; returns false if none.
template <class Found>
bool scan_nonfinite_tokens(std::string_view text, Found&& found) {
  static constexpr std::string_view kTokens[] = {"-Infinity", "Infinity", "-NaN", "NaN"};
  bool any = false;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != 'N' && c != 'I' && c != '-') continue;
    for (std::string_view token : kTokens)
      if (text.substr(i, token.size()) == token) {
        found(i, token.size());
        any = true;
        i += token.size() - 1;
        break;
      }
  }
  return any;
}

Json parse_text(std::string_view bytes, const std::string& source) {
  Json root;
  DepthLimitedSax sax(root);
  try {
    const char* first = bytes.data();
    if (!Json::sax_parse(first, first + bytes.size(), &sax, Json::input_format_t::json, /*strict=*/true))
      fail(source, ": malformed JSON");
  } catch (const Error& e) {
    fail(source, ": malformed JSON: ", e.what());
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": malformed or truncated JSON: ", e.what());
  }
  return root;
}

}  // namespace

bool has_nonfinite_token(std::string_view text) {
  return scan_nonfinite_tokens(text, [](std::size_t, std::size_t) {});
}

Json parse_json_with_nonfinite_tokens(std::string_view text, const std::string& source) {
  std::string rewritten;
  rewritten.reserve(text.size() + text.size() / 16);
  std::size_t copied = 0;
  scan_nonfinite_tokens(text, [&](std::size_t at, std::size_t length) {
    rewritten.append(text.substr(copied, at - copied));
    rewritten += "\"\\u0001";  // kNonFiniteMark, escaped as JSON requires
    rewritten.append(text.substr(at, length));
    rewritten += '"';
    copied = at + length;
  });
  rewritten.append(text.substr(copied));
  return parse_text(rewritten, source);
}

JsonEncoding sniff_json_encoding(std::string_view bytes) {
  if (bytes.size() < 2) return JsonEncoding::kText;
  const char next = bytes[1];
  if (next == '"' || next == '}' || next == ' ' || next == '\n' || next == '\r' || next == '\t')
    return JsonEncoding::kText;
  return JsonEncoding::kUbjson;
}

Json parse_json_document(std::string_view bytes, JsonEncoding encoding, const std::string& source) {
  if (encoding == JsonEncoding::kUbjson) return parse_ubjson(bytes, source);
  return parse_text(bytes, source);
}

bool JsonCursor::has(const char* key) const {
  return value_->is_object() && value_->contains(key);
}

void JsonCursor::fail(const std::string& rule) const {
  detail::fail(source_, ": ", path_.empty() ? "/" : path_, ": ", rule);
}

JsonCursor JsonCursor::at(const char* key) const {
  if (!value_->is_object()) fail("expected an object");
  auto it = value_->find(key);
  if (it == value_->end()) fail(std::string("missing field '") + key + "'");
  return JsonCursor(*it, source_, path_ + "/" + key);
}

JsonCursor JsonCursor::at(std::size_t index) const {
  if (value_->is_binary()) fail("element " + std::to_string(index) + " of a packed array has no position of its own");
  if (!value_->is_array()) fail("expected an array");
  if (index >= value_->size()) fail("index " + std::to_string(index) + " out of range");
  return JsonCursor((*value_)[index], source_, path_ + "/" + std::to_string(index));
}

std::size_t JsonCursor::size() const {
  if (value_->is_binary()) return packed_size(value_->get_binary());
  if (!value_->is_array()) fail("expected an array");
  return value_->size();
}

std::string JsonCursor::as_string() const {
  if (!value_->is_string()) fail("expected a string");
  std::string s = value_->get<std::string>();
  if (!s.empty() && s[0] == kNonFiniteMark) fail("expected a string, found the bare token " + s.substr(1));
  return s;
}

bool parse_double(std::string_view text, double& out) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') ++first;
  auto [end, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && end == last;
}

bool parse_float(std::string_view text, float& out) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') ++first;
  auto [end, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && end == last;
}

int64_t JsonCursor::as_int() const {
  if (value_->is_number_integer()) return value_->get<int64_t>();
  if (value_->is_number_float()) {
    const double d = value_->get<double>();
    if (std::floor(d) == d && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    fail("expected an integer, found " + value_->dump());
  }
  if (value_->is_string()) {
    const std::string s = value_->get<std::string>();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) return v;
    fail("expected an integer, found \"" + s + "\"");
  }
  fail("expected an integer, found " + std::string(value_->type_name()));
}

double JsonCursor::as_double() const {
  if (value_->is_number()) return value_->get<double>();
  if (value_->is_string()) {
    double v = 0;
    if (parse_double(value_->get<std::string>(), v) || nonfinite_value(value_->get<std::string>(), v)) return v;
    fail("expected a number, found \"" + value_->get<std::string>() + "\"");
  }
  fail("expected a number, found " + std::string(value_->type_name()));
}

std::vector<int64_t> JsonCursor::int_array() const {
  const std::size_t n = size();
  std::vector<int64_t> out(n);
  if (value_->is_binary()) {
    const auto& packed = value_->get_binary();
    if (packed_is_integer(packed)) {
      packed_to_ints(packed, out.data());
      return out;
    }
    std::vector<double> decoded(n);
    packed_to_doubles(packed, decoded.data());
    for (std::size_t i = 0; i < n; ++i) {
      const double v = decoded[i];
      if (std::floor(v) != v || std::fabs(v) >= 9.0e15) fail("entry " + std::to_string(i) + " is not an integer");
      out[i] = static_cast<int64_t>(v);
    }
    return out;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Json& v = (*value_)[i];
    if (v.is_number_integer()) out[i] = v.get<int64_t>();
    else out[i] = at(i).as_int();
  }
  return out;
}

std::vector<double> JsonCursor::double_array() const {
  const std::size_t n = size();
  std::vector<double> out(n);
  if (value_->is_binary()) {
    packed_to_doubles(value_->get_binary(), out.data());
    return out;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Json& v = (*value_)[i];
    if (v.is_number()) out[i] = v.get<double>();
    else out[i] = at(i).as_double();
  }
  return out;
}

std::vector<uint8_t> JsonCursor::flag_array() const {
  const std::size_t n = size();
  std::vector<uint8_t> out(n);
  if (!value_->is_binary())
    for (std::size_t i = 0; i < n; ++i) {
      const Json& v = (*value_)[i];
      if (v.is_boolean()) {
        out[i] = v.get<bool>() ? 1 : 0;
        continue;
      }
      const int64_t flag = v.is_number_integer() ? v.get<int64_t>() : at(i).as_int();
      if (flag != 0 && flag != 1) fail("entry " + std::to_string(i) + " must be 0 or 1 (or a boolean)");
      out[i] = static_cast<uint8_t>(flag);
    }
  else {
    const std::vector<int64_t> flags = int_array();
    for (std::size_t i = 0; i < n; ++i) {
      if (flags[i] != 0 && flags[i] != 1) fail("entry " + std::to_string(i) + " must be 0 or 1 (or a boolean)");
      out[i] = static_cast<uint8_t>(flags[i]);
    }
  }
  return out;
}

std::vector<std::string> JsonCursor::string_array() const {
  const std::size_t n = size();
  std::vector<std::string> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = at(i).as_string();
  return out;
}

}  // namespace floresta::detail
