// Helpers shared by the C++ tests: reading committed test vectors and model bytes.
#pragma once

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace floresta::test {

inline std::string data_path(const std::string& name) { return std::string(FLORESTA_TEST_DATA) + "/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reference outputs written by tests/data/make_test_vectors.py.
struct Vectors {
  std::string model;
  std::size_t rows = 0, cols = 0;
  std::vector<float> inputs;  // row-major, NaN for missing
  std::vector<std::vector<double>> raw, predict;
};

inline Vectors read_vectors(const std::string& name) {
  const auto j = nlohmann::json::parse(read_file(data_path(name + ".vectors.json")));
  Vectors v;
  v.model = data_path(j.at("model").get<std::string>());
  v.rows = j.at("inputs").size();
  v.cols = j.at("inputs").at(0).size();
  for (const auto& row : j.at("inputs"))
    for (const auto& x : row)
      v.inputs.push_back(x.is_null() ? std::numeric_limits<float>::quiet_NaN() : x.get<float>());
  v.raw = j.at("raw").get<std::vector<std::vector<double>>>();
  v.predict = j.at("predict").get<std::vector<std::vector<double>>>();
  return v;
}

}  // namespace floresta::test
