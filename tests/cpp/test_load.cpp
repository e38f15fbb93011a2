// Reading model bytes and detecting the format (src/load.cpp): empty input, unknown formats and documents, files on disk.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "floresta/floresta.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using namespace floresta::test;  // NOLINT: the shared fixtures and expect_*_error

TEST(Load, EmptyInput) { expect_load_error(std::string("  \n"), {"crafted.json", "empty"}); }
TEST(Load, UnknownFormat) { expect_load_error(std::string("model\nversion=v4\n"), {"unrecognised model format"}); }
TEST(Load, UnknownDocument) { expect_load_error(json{{"trees", 1}}, {"unrecognised model document"}); }
TEST(Load, MissingFileNamesThePath) {
  try {
    floresta::load("/nonexistent/model.json");
    FAIL();
  } catch (const floresta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.json: cannot open"), std::string::npos);
  }
}

// load(path) maps regular files; what is not one takes the stream path, with the same errors.
TEST(Files, DirectoriesAndEmptyFilesAreRefused) {
  expect_file_error("/tmp", {"/tmp: cannot open model file (a directory)"});
  const std::string empty = testing::TempDir() + "floresta_empty_model.json";
  { std::ofstream(empty, std::ios::trunc); }
  expect_file_error(empty, {"empty model file"});
  expect_file_error("/dev/null", {"/dev/null: empty model file"});
}
TEST(Files, TruncatedFileOnDisk) {
  const std::string text = minimal_xgboost_model().dump();
  const std::string path = testing::TempDir() + "floresta_truncated_model.json";
  std::ofstream(path, std::ios::trunc) << text.substr(0, text.size() / 2);
  expect_file_error(path, {"malformed or truncated JSON"});
}

}  // namespace
