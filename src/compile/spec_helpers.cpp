// Helpers the loaders use to build a ModelSpec (declared in floresta/spec.hpp).
#include <cstdint>
#include <cstring>
#include <vector>

#include "floresta/spec.hpp"

namespace floresta {

bool append_category_set(std::vector<uint32_t>& words, const int64_t* codes, std::size_t n) {
  if (n == 0) return true;
  uint64_t any = 0;  // the OR of all codes: bounds them, and the compiler vectorizes it
  for (std::size_t k = 0; k < n; ++k) any |= static_cast<uint64_t>(codes[k]);
  if (any >= static_cast<uint64_t>(kMaxCategory)) return false;  // negative codes set the top bits
  const std::size_t first = words.size();
  std::size_t count = static_cast<std::size_t>(any) / 32 + 1;  // enough words, maybe too many
  words.resize(first + count, 0u);
  uint32_t* set = words.data() + first;
  constexpr std::size_t kFlagBytes = 8192;
  if (count * 32 > kFlagBytes) {
    for (std::size_t k = 0; k < n; ++k) set[codes[k] / 32] |= 1u << (codes[k] % 32);
  } else {
    // A byte per code, then eight bytes to eight bits by one multiply: independent stores
    // instead of a chain of read-modify-writes on the same few words (the categorical
    // XGBoost model of the benchmarks lists tens of millions of codes: docs/benchmarks.md,
    // compare/shape-a).
    alignas(8) uint8_t flags[kFlagBytes];
    std::memset(flags, 0, count * 32);
    for (std::size_t k = 0; k < n; ++k) flags[codes[k]] = 1;
    for (std::size_t w = 0; w < count; ++w) {
      uint32_t word = 0;
      for (std::size_t b = 0; b < 4; ++b) {
        uint64_t eight;
        std::memcpy(&eight, flags + 32 * w + 8 * b, 8);
        word |= static_cast<uint32_t>((eight * 0x0102040810204080ull) >> 56) << (8 * b);
      }
      set[w] = word;
    }
  }
  while (count > 0 && set[count - 1] == 0) --count;  // exactly the words the largest code needs
  words.resize(first + count);
  return true;
}

}  // namespace floresta
