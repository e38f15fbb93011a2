// floresta/error.hpp — the one exception type floresta throws.
//
// Every failure a caller can cause (a malformed or truncated model file, a field of the
// wrong type, an index out of range, a wrong column count at predict time, an unknown
// category under a strict policy) is reported as floresta::Error. Its message names where
// the problem is (file, JSON path, tree and node, column) and the rule that was broken.
// The Python binding maps it to ValueError in exactly one place.
//
// Thread-safety: immutable value type.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace floresta {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {

// Builds a message from any streamable parts: fail("tree ", 3, ": node ", 7, " ...").
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  throw Error(out.str());
}

}  // namespace detail
}  // namespace floresta
