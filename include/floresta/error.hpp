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

#include <stdexcept>
#include <string>
#include <utility>

namespace floresta {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A raw input value a model refuses (records, DataFrames): which field, and which rule it
// breaks — "type" (a string for a numeric field, a number for string categories),
// "vocabulary" (a category the model and its input rule do not know), "range" (outside the
// input rule's min..max). Services map it to a 422 naming both.
class InputError : public Error {
 public:
  InputError(std::string field, std::string rule, const std::string& message)
      : Error(message), field_(std::move(field)), rule_(std::move(rule)) {}
  const std::string& field() const { return field_; }
  const std::string& rule() const { return rule_; }

 private:
  std::string field_;
  std::string rule_;
};

}  // namespace floresta
