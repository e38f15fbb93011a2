// flags.hpp — reading a whole-number flag value, shared by the bank programs (each reports a
// bad one in its own usage message).
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace bank {

// `value` as a whole number in [lowest, highest], or nullopt (empty, trailing text, out of range).
inline std::optional<long long> whole_number(const std::string& value, long long lowest, long long highest) {
  char* end = nullptr;
  const long long n = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < lowest || n > highest) return std::nullopt;
  return n;
}

}  // namespace bank
