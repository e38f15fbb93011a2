// What loaders call while building a spec (src/compile/spec_helpers.cpp): append_category_set.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

// append_category_set against the obvious bit-by-bit construction: unsorted and repeated
// codes, both the byte-flag path (small codes) and the direct path (codes past 8,192).
TEST(CategorySets, AppendBuildsExactBitsets) {
  std::mt19937 random(7);
  for (const int64_t range : std::initializer_list<int64_t>{1, 31, 32, 33, 1000, 8192, 8193, 100000, int64_t(1) << 24}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<int64_t> codes(random() % 300);
      for (auto& c : codes) c = static_cast<int64_t>(random() % static_cast<uint64_t>(range));
      std::vector<uint32_t> expected;
      for (int64_t c : codes) {
        const auto w = static_cast<std::size_t>(c / 32);
        if (expected.size() <= w) expected.resize(w + 1, 0u);
        expected[w] |= 1u << (c % 32);
      }
      std::vector<uint32_t> words{0xdeadbeefu};  // what was there before stays
      ASSERT_TRUE(floresta::append_category_set(words, codes.data(), codes.size()));
      expected.insert(expected.begin(), 0xdeadbeefu);
      EXPECT_EQ(words, expected) << "range " << range << ", " << codes.size() << " codes";
    }
  }
}
TEST(CategorySets, AppendRefusesCodesOutOfRange) {
  for (const int64_t bad : std::initializer_list<int64_t>{-1, int64_t(1) << 24, std::numeric_limits<int64_t>::min()}) {
    const int64_t codes[] = {3, bad, 5};
    std::vector<uint32_t> words{1u};
    EXPECT_FALSE(floresta::append_category_set(words, codes, 3)) << bad;
    EXPECT_EQ(words, std::vector<uint32_t>{1u}) << "nothing appended for " << bad;
  }
  std::vector<uint32_t> words;
  EXPECT_TRUE(floresta::append_category_set(words, static_cast<const int64_t*>(nullptr), 0));
  EXPECT_TRUE(words.empty());
}
