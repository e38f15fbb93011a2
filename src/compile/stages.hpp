// src/compile/stages.hpp — the stages compile() runs, one file each:
//   validate.cpp        validate(): every check a spec needs, once for every format
//   compile_forest.cpp  compile_forest<Rule>(): trees laid out as one flat node array
//   quantize.cpp        quantize<Rule>(): the 16-bit-bin copy the fast kernels walk
//   bitvector.cpp       build_bitvector<Rule>(): the quantized trees as leaf masks
//   compile.cpp         compile(): validate -> cut rounds -> compile -> choose the kernel
//   spec_helpers.cpp    what loaders call while building a spec (append_category_set)
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/forest.hpp"
#include "floresta/model.hpp"
#include "floresta/spec.hpp"
#include "limits.hpp"  // kMaxCategoryWords, kMaxOutputs

namespace floresta::detail {

// Throws floresta::Error naming the source and the rule a spec breaks.
void validate(const ModelSpec& spec, const LoadOptions& options);
void validate_kmeans(const ModelSpec& spec);
void validate_preprocessing(const ModelSpec& spec);

// A validated spec's trees compiled for one decision rule (then quantized when asked, with
// bitvectors of `bitvector_word_bits` and the single-row layout `bitvector_rows`: the
// kernel's, Kernel::bitvector_word_bits and bitvector_rows).
template <class Rule>
Forest<Rule> compile_forest(const ModelSpec& spec, const LoadOptions& options, uint32_t bitvector_word_bits = 32,
                            BitvectorRows bitvector_rows = BitvectorRows::kNone);

// Builds forest.quantized, or leaves it empty when the forest has what the quantized walk
// does not cover.
template <class Rule>
void quantize(Forest<Rule>& forest, int n_threads);

// Builds forest.bitvector from forest.quantized in words of `word_bits` (16 or 32), with the
// single-row layout `rows` where it takes the forest, or leaves it empty when a tree has
// more than kBitvectorMaxLeaves leaves.
template <class Rule>
void build_bitvector(Forest<Rule>& forest, uint32_t word_bits, BitvectorRows rows);

}  // namespace floresta::detail
