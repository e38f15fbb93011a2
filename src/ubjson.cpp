// A UBJSON reader for model files. Structure (objects, strings, small arrays) becomes an
// ordinary nlohmann::json document; optimized arrays of one numeric type ("[$d#L<n>", which
// carry XGBoost's trees) are neither decoded nor copied: the document holds a binary value
// whose subtype is the type marker and whose bytes are a PackedView of the input, so
// millions of numbers are never turned into json values one by one. JsonCursor decodes
// them, which is why the input must outlive the document.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fail.hpp"
#include "floresta/error.hpp"
#include "json_document.hpp"

namespace floresta::detail {
namespace {

// What a packed array's binary value holds: where its big-endian numbers lie in the input.
struct PackedView {
  const uint8_t* data;
  std::size_t bytes;
};

PackedView view_of(const Json::binary_t& packed) {
  PackedView view;
  std::memcpy(&view, packed.data(), sizeof view);
  return view;
}

class UbjsonReader {
 public:
  UbjsonReader(std::string_view bytes, const std::string& source) : data_(bytes), source_(source) {}

  Json document() {
    Json root = value(next_marker(), 0);
    while (pos_ < data_.size() && data_[pos_] == 'N') ++pos_;
    if (pos_ != data_.size()) fail_here("unexpected bytes after the document");
    return root;
  }

 private:
  [[noreturn]] void fail_here(const std::string& rule) const {
    fail(source_, ": malformed or truncated UBJSON at byte ", pos_, ": ", rule);
  }
  uint8_t byte() {
    if (pos_ >= data_.size()) fail_here("unexpected end of input");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  char next_marker() {
    char m;
    do m = static_cast<char>(byte());
    while (m == 'N');
    return m;
  }
  template <class T>
  T big_endian() {
    if (data_.size() - pos_ < sizeof(T)) fail_here("unexpected end of input");
    uint8_t raw[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) raw[i] = static_cast<uint8_t>(data_[pos_ + sizeof(T) - 1 - i]);
    pos_ += sizeof(T);
    T value;
    std::memcpy(&value, raw, sizeof(T));
    return value;
  }
  int64_t integer(char marker) {
    switch (marker) {
      case 'i': return big_endian<int8_t>();
      case 'U': return big_endian<uint8_t>();
      case 'I': return big_endian<int16_t>();
      case 'l': return big_endian<int32_t>();
      case 'L': return big_endian<int64_t>();
      default: fail_here(std::string("expected an integer marker, found '") + marker + "'");
    }
  }
  // A declared length or count: never negative, and (every element taking at least one
  // byte) never more than the bytes left after it.
  std::size_t length(char marker, const char* what) {
    const int64_t n = integer(marker);
    if (n < 0) fail_here(std::string(what) + " " + std::to_string(n) + " is negative");
    if (static_cast<uint64_t>(n) > data_.size() - pos_)
      fail_here(std::string(what) + " " + std::to_string(n) + " runs past the end (" + std::to_string(data_.size() - pos_) +
                " bytes left)");
    return static_cast<std::size_t>(n);
  }
  std::string text(char length_marker) {
    const std::size_t n = length(length_marker, "string length");
    std::string out(data_.substr(pos_, n));
    pos_ += n;
    return out;
  }
  static std::size_t width(char marker) {
    switch (marker) {
      case 'i': case 'U': case 'C': return 1;
      case 'I': return 2;
      case 'l': case 'd': return 4;
      case 'L': case 'D': return 8;
      default: return 0;
    }
  }

  Json value(char marker, int depth) {
    switch (marker) {
      case 'Z': return nullptr;
      case 'T': return true;
      case 'F': return false;
      case 'i': case 'U': case 'I': case 'l': case 'L': return integer(marker);
      case 'd': return static_cast<double>(big_endian<float>());
      case 'D': return big_endian<double>();
      case 'C': return std::string(1, static_cast<char>(byte()));
      case 'S': case 'H': return text(next_marker());
      case '[': return array(depth + 1);
      case '{': return object(depth + 1);
      default: fail_here(std::string("unknown marker '") + marker + "'");
    }
  }

  // After '[' or '{': an optional "$<type>" and "#<count>". A count is a claim: it may not
  // exceed the bytes left, each element taking at least one byte — except in arrays typed
  // Z, T or F, whose elements take none: their counts, all arrays of the document together,
  // may not exceed the size of the input (so that a few bytes cannot ask for millions of
  // values).
  void header(char& type, int64_t& count, bool is_array) {
    type = 0;
    count = -1;
    const char* what = is_array ? "array count" : "object count";
    if (pos_ < data_.size() && data_[pos_] == '$') {
      ++pos_;
      type = static_cast<char>(byte());
      if (byte() != '#') fail_here("a typed container needs a count");
      const char marker = next_marker();
      if (is_array && width(type) > 0 && type != 'C') {  // packed numbers: checked by array()
        count = integer(marker);
        if (count < 0) fail_here("typed array count " + std::to_string(count) + " is negative");
        return;
      }
      if (is_array && (type == 'Z' || type == 'T' || type == 'F')) {
        count = integer(marker);
        if (count < 0) fail_here("array count " + std::to_string(count) + " is negative");
        empty_elements_ += static_cast<uint64_t>(count);
        if (static_cast<uint64_t>(count) > data_.size() || empty_elements_ > data_.size())
          fail_here("arrays of '" + std::string(1, type) + "' declare " + std::to_string(empty_elements_) +
                    " elements in all, more than the " + std::to_string(data_.size()) + " bytes of the input");
        return;
      }
      count = static_cast<int64_t>(length(marker, what));
    } else if (pos_ < data_.size() && data_[pos_] == '#') {
      ++pos_;
      count = static_cast<int64_t>(length(next_marker(), what));
    }
  }

  void enter(int depth) const {
    if (depth > kMaxJsonDepth) fail(source_, ": malformed UBJSON: nesting deeper than ", kMaxJsonDepth, " levels");
  }

  Json array(int depth) {
    enter(depth);
    char type;
    int64_t count;
    header(type, count, true);
    const std::size_t w = width(type);
    if (w > 0 && type != 'C') {  // packed numbers: point at the bytes
      const auto n = static_cast<uint64_t>(count);
      if (n > (data_.size() - pos_) / w)
        fail_here("typed array runs past the end: " + std::to_string(n) + " elements of " + std::to_string(w) + " bytes, " +
                  std::to_string(data_.size() - pos_) + " bytes left");
      const PackedView view{reinterpret_cast<const uint8_t*>(data_.data() + pos_), n * w};
      std::vector<uint8_t> payload(sizeof view);
      std::memcpy(payload.data(), &view, sizeof view);
      pos_ += n * w;
      return Json::binary(std::move(payload), static_cast<uint8_t>(type));
    }
    Json out = Json::array();
    if (count >= 0) {
      for (int64_t i = 0; i < count; ++i) out.push_back(value(type ? type : next_marker(), depth));
      return out;
    }
    for (char m = next_marker(); m != ']'; m = next_marker()) out.push_back(value(m, depth));
    return out;
  }

  Json object(int depth) {
    enter(depth);
    char type;
    int64_t count;
    header(type, count, false);
    Json out = Json::object();
    if (count >= 0) {
      for (int64_t i = 0; i < count; ++i) {
        std::string key = text(next_marker());
        out[std::move(key)] = value(type ? type : next_marker(), depth);
      }
      return out;
    }
    for (char m = next_marker(); m != '}'; m = next_marker()) {
      std::string key = text(m);
      out[std::move(key)] = value(next_marker(), depth);
    }
    return out;
  }

  std::string_view data_;
  const std::string& source_;
  std::size_t pos_ = 0;
  uint64_t empty_elements_ = 0;  // elements of Z/T/F-typed arrays so far (header())
};

}  // namespace

Json parse_ubjson(std::string_view bytes, const std::string& source) { return UbjsonReader(bytes, source).document(); }

namespace {
// Unsigned integers of each width, to byte-swap big-endian values whatever their type.
template <std::size_t kBytes> struct Bits;
template <> struct Bits<1> { using type = uint8_t; static uint8_t swap(uint8_t v) { return v; } };
template <> struct Bits<2> { using type = uint16_t; static uint16_t swap(uint16_t v) { return static_cast<uint16_t>(v << 8 | v >> 8); } };
template <> struct Bits<4> { using type = uint32_t; static uint32_t swap(uint32_t v) { return __builtin_bswap32(v); } };
template <> struct Bits<8> { using type = uint64_t; static uint64_t swap(uint64_t v) { return __builtin_bswap64(v); } };

// Big-endian T values to Out; written so that the compiler vectorizes it.
template <class T, class Out>
inline void decode_loop(const uint8_t* p, std::size_t n, Out* out) {
  using B = Bits<sizeof(T)>;
  for (std::size_t i = 0; i < n; ++i) {
    typename B::type raw;
    std::memcpy(&raw, p + i * sizeof(T), sizeof(T));
    raw = B::swap(raw);
    T v;
    std::memcpy(&v, &raw, sizeof(T));
    out[i] = static_cast<Out>(v);
  }
}

#ifdef FLORESTA_KERNEL_AVX2  // a build with the AVX2 kernel (FLORESTA_SIMD, x86-64)
// The same loop compiled for AVX2 (byte shuffles: baseline x86-64 swaps one value at a time).
template <class T, class Out>
__attribute__((target("avx2"))) void decode_loop_avx2(const uint8_t* p, std::size_t n, Out* out) {
  decode_loop<T>(p, n, out);
}
#endif

template <class T, class Out>
void decode_all(const uint8_t* p, std::size_t n, Out* out) {
#ifdef FLORESTA_KERNEL_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2") != 0;
  if (avx2) return decode_loop_avx2<T>(p, n, out);
#endif
  decode_loop<T>(p, n, out);
}
}  // namespace

template <class Out>
void packed_to(const Json::binary_t& packed, Out* out) {
  const std::size_t n = packed_size(packed);
  const uint8_t* data = view_of(packed).data;
  switch (static_cast<char>(packed.subtype())) {
    case 'i': return decode_all<int8_t>(data, n, out);
    case 'U': return decode_all<uint8_t>(data, n, out);
    case 'I': return decode_all<int16_t>(data, n, out);
    case 'l': return decode_all<int32_t>(data, n, out);
    case 'L': return decode_all<int64_t>(data, n, out);
    case 'd': return decode_all<float>(data, n, out);
    case 'D': return decode_all<double>(data, n, out);
  }
}

void packed_to_doubles(const Json::binary_t& packed, double* out) { packed_to(packed, out); }
void packed_to_ints(const Json::binary_t& packed, int64_t* out) { packed_to(packed, out); }

std::size_t packed_size(const Json::binary_t& packed) {
  const std::size_t bytes = view_of(packed).bytes;
  switch (static_cast<char>(packed.subtype())) {
    case 'i': case 'U': return bytes;
    case 'I': return bytes / 2;
    case 'l': case 'd': return bytes / 4;
    case 'L': case 'D': return bytes / 8;
  }
  return 0;
}

bool packed_is_integer(const Json::binary_t& packed) {
  const char t = static_cast<char>(packed.subtype());
  return t != 'd' && t != 'D';
}

}  // namespace floresta::detail
