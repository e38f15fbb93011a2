// fold_text (record.hpp): the one text folding of input rules, for C++ and Python alike.
// Written out for the Latin letters Portuguese, Spanish, French, German and the other
// Western and Central European languages use, so that it needs no Unicode library and reads
// the same everywhere; other characters pass unchanged.
#include <cstdint>
#include <string>
#include <string_view>

#include "floresta/record.hpp"

namespace floresta {
namespace {

// Base letters of U+00C0..U+017F, case kept ("" where the code point is not a letter
// with a diacritic: × and ÷). Multi-letter entries are the ligatures and thorn.
constexpr const char* kBase[] = {
    // U+00C0 À Á Â Ã Ä Å Æ Ç È É Ê Ë Ì Í Î Ï
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    // U+00D0 Ð Ñ Ò Ó Ô Õ Ö × Ø Ù Ú Û Ü Ý Þ ß
    "D", "N", "O", "O", "O", "O", "O", "", "O", "U", "U", "U", "U", "Y", "TH", "ss",
    // U+00E0 à á â ã ä å æ ç è é ê ë ì í î ï
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    // U+00F0 ð ñ ò ó ô õ ö ÷ ø ù ú û ü ý þ ÿ
    "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
    // U+0100 Ā ā Ă ă Ą ą Ć ć Ĉ ĉ Ċ ċ Č č Ď ď
    "A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c", "C", "c", "D", "d",
    // U+0110 Đ đ Ē ē Ĕ ĕ Ė ė Ę ę Ě ě Ĝ ĝ Ğ ğ
    "D", "d", "E", "e", "E", "e", "E", "e", "E", "e", "E", "e", "G", "g", "G", "g",
    // U+0120 Ġ ġ Ģ ģ Ĥ ĥ Ħ ħ Ĩ ĩ Ī ī Ĭ ĭ Į į
    "G", "g", "G", "g", "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i",
    // U+0130 İ ı Ĳ ĳ Ĵ ĵ Ķ ķ ĸ Ĺ ĺ Ļ ļ Ľ ľ Ŀ
    "I", "i", "IJ", "ij", "J", "j", "K", "k", "k", "L", "l", "L", "l", "L", "l", "L",
    // U+0140 ŀ Ł ł Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ Ō ō Ŏ ŏ
    "l", "L", "l", "N", "n", "N", "n", "N", "n", "'n", "N", "n", "O", "o", "O", "o",
    // U+0150 Ő ő Œ œ Ŕ ŕ Ŗ ŗ Ř ř Ś ś Ŝ ŝ Ş ş
    "O", "o", "OE", "oe", "R", "r", "R", "r", "R", "r", "S", "s", "S", "s", "S", "s",
    // U+0160 Š š Ţ ţ Ť ť Ŧ ŧ Ũ ũ Ū ū Ŭ ŭ Ů ů
    "S", "s", "T", "t", "T", "t", "T", "t", "U", "u", "U", "u", "U", "u", "U", "u",
    // U+0170 Ű ű Ų ų Ŵ ŵ Ŷ ŷ Ÿ Ź ź Ż ż Ž ž ſ
    "U", "u", "U", "u", "W", "w", "Y", "y", "Y", "Z", "z", "Z", "z", "Z", "z", "s",
};
static_assert(sizeof kBase / sizeof kBase[0] == 0x180 - 0xC0);

// The upper-case code point of a Latin-1 or Latin Extended-A letter (itself when none).
uint32_t upper(uint32_t cp) {
  if (cp >= 'a' && cp <= 'z') return cp - 32;
  if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 0x20;
  if (cp == 0xFF) return 0x178;
  if (cp == 0x131) return 'I';
  if (cp == 0x17F) return 'S';
  if (cp < 0x100 || cp > 0x17E || cp == 0x138 || cp == 0x149 || cp == 0x178) return cp;
  // Pairs: upper then lower, the upper on even code points except in U+0139..U+0148 and
  // U+0179..U+017E, where it is odd.
  const bool odd_upper = (cp >= 0x139 && cp <= 0x148) || cp >= 0x179;
  const bool is_lower = odd_upper ? (cp % 2 == 0) : (cp % 2 == 1);
  return is_lower ? cp - 1 : cp;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes one UTF-8 sequence at text[i]; returns its length, or 0 when the bytes are not
// well-formed UTF-8 (the caller then copies one byte as it is).
std::size_t decode(std::string_view text, std::size_t i, uint32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t length = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 && b0 < 0xE0 ? 2 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  cp = b0 & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  const uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
  if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

bool is_space(uint32_t cp) { return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' || cp == 0xA0; }

}  // namespace

std::string fold_text(std::string_view text, bool letter_case, bool accents, bool spaces) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;  // a run of white space seen since the last character written
  for (std::size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const std::size_t length = decode(text, i, cp);
    if (length == 0) {  // not UTF-8: the byte as it is
      if (pending_space && !out.empty()) out += ' ';
      pending_space = false;
      out += text[i++];
      continue;
    }
    i += length;
    if (spaces && is_space(cp)) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    if (accents && (cp == 0x2018 || cp == 0x2019 || cp == '`' || cp == 0xB4)) {
      out += '\'';
    } else if (accents && (cp == 0xAA || cp == 0xBA)) {  // ordinal indicators: "1ª" -> "1a", "4º" -> "4o"
      out += static_cast<char>(cp == 0xAA ? (letter_case ? 'A' : 'a') : (letter_case ? 'O' : 'o'));
    } else if (accents && cp >= 0xC0 && cp < 0x180 && kBase[cp - 0xC0][0] != '\0') {
      for (const char* c = kBase[cp - 0xC0]; *c; ++c) out += letter_case && *c >= 'a' && *c <= 'z' ? static_cast<char>(*c - 32) : *c;
    } else {
      append_utf8(letter_case ? upper(cp) : cp, out);
    }
  }
  return out;
}

}  // namespace floresta
