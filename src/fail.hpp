// src/fail.hpp — detail::fail, the library's one way to throw floresta::Error with a
// message built from parts. Internal: hosts see only the Error type (floresta/error.hpp).
#pragma once

#include <cstddef>
#include <sstream>
#include <string>
#include <utility>

#include "floresta/error.hpp"

namespace floresta::detail {

// Builds a message from any streamable parts: fail("tree ", 3, ": node ", 7, " ...").
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  throw Error(out.str());
}

// User text in a message (a field name, a category), clipped to about 80 bytes at a UTF-8
// character boundary: a 10 MB key must not make a 10 MB message, and the message must stay
// valid UTF-8 (Python turns it into a str).
inline std::string clipped(const std::string& text) {
  if (text.size() <= 80) return text;
  std::size_t end = 77;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

// Runs step() for row `row` of a batch of `rows`; an Error it throws (an encoder refusing a
// category) is thrown again naming the row when the batch has several, so a caller scoring
// many rows on many threads learns which one.
template <class Step>
void at_row(std::size_t row, std::size_t rows, Step&& step) {
  if (rows <= 1) {
    step();
    return;
  }
  try {
    step();
  } catch (const Error& error) {
    fail("row ", row, ": ", error.what());
  }
}

}  // namespace floresta::detail
