// src/fail.hpp — detail::fail, the library's one way to throw floresta::Error with a
// message built from parts. Internal: hosts see only the Error type (floresta/error.hpp).
#pragma once

#include <cstddef>
#include <sstream>
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
