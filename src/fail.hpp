// src/fail.hpp — detail::fail, the library's one way to throw floresta::Error with a
// message built from parts. Internal: hosts see only the Error type (floresta/error.hpp).
#pragma once

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

}  // namespace floresta::detail
