// src/record_encoding.hpp — how a model reads a record's named fields (record.hpp): the
// lookups built once from its schema when it is compiled, and used by Model::encode.
//
// Thread-safety: immutable after build_record_encoding.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "floresta/preprocess.hpp"
#include "floresta/schema.hpp"

namespace floresta::detail {

struct RecordEncoding {
  // Feature by name, string category -> code, numeric category -> code (for features whose
  // numbers are codes), and the code an unseen category gets.
  std::unordered_map<std::string, std::size_t> feature_index;
  std::vector<std::unordered_map<std::string, double>> string_codes;
  std::vector<std::unordered_map<double, double>> number_codes;
  std::vector<double> unknown_code;
  // Input rules (schema.hpp InputRule): per feature, each folded category and alias -> code,
  // and the code of `otherwise`. Empty maps for other features.
  struct InputLookup {
    std::unordered_map<std::string, double> codes;
    double otherwise = 0;
    bool has_otherwise = false;
  };
  std::vector<InputLookup> input_codes;
};

// The lookups of a schema (and the preprocessing that reads it), its input rules checked
// against the vocabularies: an Error naming `source` and the feature when a rule cannot
// hold (record.cpp).
RecordEncoding build_record_encoding(const Schema& schema, const Preprocessing& preprocessing, const std::string& source);

}  // namespace floresta::detail
