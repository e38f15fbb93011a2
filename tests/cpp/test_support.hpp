// Helpers shared by the C++ tests: reading committed test vectors and model bytes.
#pragma once

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace floresta::test {

inline std::string data_path(const std::string& name) { return std::string(FLORESTA_TEST_DATA) + "/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reference outputs written by tests/data/make_test_vectors.py: inputs, and any of
// raw / proba / value / decision / label, each rows x k, computed by the training library.
struct Vectors {
  std::string model, library;
  std::size_t rows = 0, cols = 0;
  std::vector<float> inputs;    // row-major, NaN for missing
  std::vector<double> inputs64;  // the same, in double
  std::map<std::string, std::vector<std::vector<double>>> outputs;
  std::vector<std::string> records;  // the rows as JSON objects of raw values, when present
};

inline Vectors read_vectors(const std::string& name) {
  const auto j = nlohmann::json::parse(read_file(data_path(name + ".vectors.json")));
  Vectors v;
  v.model = data_path(j.at("model").get<std::string>());
  v.library = j.at("library").get<std::string>();
  v.rows = j.at("inputs").size();
  v.cols = j.at("inputs").at(0).size();
  for (const auto& row : j.at("inputs"))
    for (const auto& x : row) {
      const double d = x.is_null() ? std::numeric_limits<double>::quiet_NaN() : x.get<double>();
      v.inputs64.push_back(d);
      v.inputs.push_back(static_cast<float>(d));
    }
  for (const char* key : {"raw", "proba", "value", "decision", "label", "distances"})
    if (j.contains(key)) v.outputs[key] = j.at(key).get<std::vector<std::vector<double>>>();
  if (j.contains("records"))
    for (const auto& record : j.at("records")) v.records.push_back(record.dump());
  return v;
}

}  // namespace floresta::test
