// The UBJSON reader (src/ubjson.cpp): truncated and malformed binary documents.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using namespace floresta::test;  // NOLINT: the shared fixtures and expect_*_error

TEST(Ubjson, TruncatedUbjson) {
  const std::string bytes = floresta::test::read_file(floresta::test::data_path("xgb_regression.ubj"));
  for (std::size_t cut : {std::size_t(3), std::size_t(100), bytes.size() / 2, bytes.size() - 1})
    expect_load_error(bytes.substr(0, cut), {"UBJSON"});
}
TEST(Ubjson, MalformedUbjson) {
  // "{", key "abc" (int8 length 3), then a value.
  const std::string key = std::string("{i\x03") + "abc";
  expect_load_error(key + "X", {"UBJSON at byte 7", "unknown marker 'X'"});
  expect_load_error(key + "[$l#i" + std::string("\x09\x00\x00", 3), {"typed array runs past the end"});
  expect_load_error(key + "[$l" + std::string(1, '\0'), {"a typed container needs a count"});
}

}  // namespace
