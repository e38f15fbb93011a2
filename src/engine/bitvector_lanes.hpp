// src/engine/bitvector_lanes.hpp — the bitvector plan's steps (plans/bitvector.hpp) for a
// group of sixteen rows, per instruction set, on leaf words of the instruction set's width
// (kWordBits: a tree of up to 64 leaves is kParts of them, at most kMostParts; bitvector.hpp):
//   Bin            the type of the bins the steps read (the block's 16-bit bins, widened to
//                  32 bits by the plan where Bin is uint32_t)
//   Words          one word of a tree for sixteen rows, in registers
//   start          every leaf set
//   clear_greater  a numeric split: `cleared`'s leaves cleared in the rows whose bin (the
//                  sixteen at `bins`) is greater than `bound`
//   clear_right    a categorical split: the same in the rows whose bin's bit is set in `set`
//                  (2^set_shift words)
//   exit_leaves    each row's exit leaf: the lowest set bit of its tree's words, word p
//                  holding leaves p kWordBits to (p + 1) kWordBits - 1
//   Sums, add_leaves  sixteen rows' sums in registers, each plus its exit leaf's value
//                  (values of the sums' own type, float or double), read from what
//                  tree_leaves makes of the tree's values (AVX-512: registers, picked
//                  by permutes; otherwise gathered from memory)
//
//   PortableBitvectorLanes  16-bit words, the bins compared as they are in two 128-bit
//                           vectors (GCC/Clang vector extensions: SSE2, NEON); a lane at a
//                           time elsewhere
//   Avx2BitvectorLanes      32-bit words in two registers; 32-bit bins (values below 2^16
//                           compare the same signed), each compare's operand read from
//                           memory; exit leaves read from the exponent of the lowest bit as
//                           a float
//   Avx512BitvectorLanes    32-bit words in one register; the sixteen 16-bit bins compared
//                           into a mask register (vpcmpuw), the leaves cleared under it;
//                           exit leaves as AVX2's
// isa.hpp gives each instruction set's traits its own (Isa::BitvectorLanes). One row, a
// tree per lane, through the forest's single-row layout (Bitvector::rows):
//   bitvector_row_avx512    the pairs: sixteen trees, 32 splits a 16-bit compare
//   (AVX2 and the 128-bit units: the byte entries, bitvector_bytes.hpp)
//
// Kernel code: included only through isa.hpp inside a kernel translation unit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "engine/bitvector.hpp"
#include "engine/forest.hpp"
#include "engine/quantized.hpp"
#if FLORESTA_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

#ifndef FLORESTA_ISA
#error "engine/bitvector_lanes.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

// The index of the lowest set bit of a word that is not 0.
template <class Word>
FLORESTA_ALWAYS_INLINE uint32_t lowest_bit(Word word) {
#if defined(__GNUC__) || defined(__clang__)
  if constexpr (sizeof(Word) == 8) return static_cast<uint32_t>(__builtin_ctzll(word));
  else return static_cast<uint32_t>(__builtin_ctz(word));
#else
  uint32_t k = 0;
  while (!((word >> k) & 1u)) ++k;
  return k;
#endif
}

struct PortableBitvectorLanes {
  using Bin = uint16_t;
  static constexpr uint32_t kWordBits = 16;
  static constexpr std::size_t kMostParts = 4;
  static constexpr std::size_t L = kQuantizedLanes;
#if defined(__GNUC__) || defined(__clang__)
  // Sixteen 16-bit lanes in two of the compiler's 128-bit vectors (SSE2's or NEON's registers;
  // GCC splits wider ones' operations but not their compares).
  typedef uint16_t Lanes8 __attribute__((vector_size(16)));
  typedef int16_t Signed8 __attribute__((vector_size(16)));
  struct Words {
    Lanes8 v[2];
    uint16_t lane(std::size_t l) const { return v[l / 8][l % 8]; }
  };
#else
  struct Words {
    uint16_t v[L];
    uint16_t lane(std::size_t l) const { return v[l]; }
  };
#endif
  template <class Value>
  struct Sums {
    Value v[L];
  };

  FLORESTA_ALWAYS_INLINE static void start(Words& words) {
#if defined(__GNUC__) || defined(__clang__)
    words.v[0] = words.v[1] = ~Lanes8{};
#else
    for (std::size_t l = 0; l < L; ++l) words.v[l] = 0xFFFF;
#endif
  }
  FLORESTA_ALWAYS_INLINE static void clear_greater(Words& words, const uint16_t* bins, uint32_t bound, uint32_t cleared) {
#if defined(__GNUC__) || defined(__clang__)
    // Unsigned 16-bit compares as signed ones on values offset by 2^15 (SSE2 has only the
    // signed compare): an XOR, a compare, an AND and an AND-NOT per register.
    for (std::size_t k = 0; k < 2; ++k) {
      Lanes8 x;
      std::memcpy(&x, bins + 8 * k, sizeof x);
      const auto greater = reinterpret_cast<Signed8>(x ^ uint16_t{0x8000}) > static_cast<int16_t>(bound ^ 0x8000u);
      words.v[k] &= ~(reinterpret_cast<Lanes8>(greater) & static_cast<uint16_t>(cleared));
    }
#else
    for (std::size_t l = 0; l < L; ++l)
      if (bins[l] > bound) words.v[l] = static_cast<uint16_t>(words.v[l] & ~cleared);
#endif
  }
  FLORESTA_ALWAYS_INLINE static void clear_right(Words& words, const uint16_t* bins, const uint32_t* set, uint32_t /*set_shift*/,
                                                 uint32_t cleared) {
    uint16_t right[L];
    for (std::size_t l = 0; l < L; ++l)
      right[l] = static_cast<uint16_t>(0u - ((set[bins[l] >> 5] >> (bins[l] & 31u)) & 1u));
#if defined(__GNUC__) || defined(__clang__)
    for (std::size_t k = 0; k < 2; ++k) {
      Lanes8 r;
      std::memcpy(&r, right + 8 * k, sizeof r);
      words.v[k] &= ~(r & static_cast<uint16_t>(cleared));
    }
#else
    for (std::size_t l = 0; l < L; ++l) words.v[l] = static_cast<uint16_t>(words.v[l] & ~(cleared & right[l]));
#endif
  }
  // Each row's exit leaf: the lowest set bit of its tree's words, word p holding leaves
  // 16 p to 16 p + 15.
  template <std::size_t kParts>
  FLORESTA_ALWAYS_INLINE static void exit_leaves(const Words* words, uint32_t* out) {
    static_assert(kParts >= 1 && kParts <= kMostParts);
    for (std::size_t l = 0; l < L; ++l) {
      uint64_t word = 0;
      for (std::size_t p = 0; p < kParts; ++p) word |= uint64_t{words[p].lane(l)} << (16 * p);
      out[l] = lowest_bit(word);
    }
  }
  template <class Value>
  FLORESTA_ALWAYS_INLINE static void load(Sums<Value>& sums, const Value* from) {
    for (std::size_t l = 0; l < L; ++l) sums.v[l] = from[l];
  }
  template <class Value>
  FLORESTA_ALWAYS_INLINE static void store(const Sums<Value>& sums, Value* to) {
    for (std::size_t l = 0; l < L; ++l) to[l] = sums.v[l];
  }
  // A tree's leaf values as add_leaves reads them (`available` readable at `leaves`).
  template <std::size_t kParts, class Value>
  FLORESTA_ALWAYS_INLINE static const Value* tree_leaves(const Value* leaves, std::size_t /*available*/) {
    return leaves;
  }
  template <std::size_t kParts, class Value>
  FLORESTA_ALWAYS_INLINE static void add_leaves(Sums<Value>& sums, const Value* leaves, const Words* words) {
    uint32_t at[L];
    exit_leaves<kParts>(words, at);
    for (std::size_t l = 0; l < L; ++l) sums.v[l] += leaves[at[l]];
  }
};

#if FLORESTA_ISA_LEVEL >= 1
struct Avx2BitvectorLanes {
  // Bins of 32 bits: a split's compare takes them straight from memory, where 16-bit ones
  // were widened first (docs/benchmarks.md, bench-predict/leaf-permutes item 6).
  using Bin = uint32_t;
  static constexpr uint32_t kWordBits = 32;
  static constexpr std::size_t kMostParts = 2;
  struct Words {
    __m256i v[2];
  };
  template <class Value>
  struct Sums {
    static constexpr std::size_t kCount = sizeof(Value) == 8 ? 4 : 2;
    std::conditional_t<sizeof(Value) == 8, __m256d, __m256> v[kCount];
  };

  FLORESTA_ALWAYS_INLINE static __m256i bins_of(const uint32_t* bins, std::size_t k) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bins + 8 * k));
  }
  FLORESTA_ALWAYS_INLINE static void start(Words& words) {
    for (auto& v : words.v) v = _mm256_set1_epi32(-1);
  }
  // A word keeps its leaves where the bin goes left (bound + 1 > bin) or the split does not
  // clear them: one compare (its bins from memory), an OR and an AND a register.
  FLORESTA_ALWAYS_INLINE static void clear_greater(Words& words, const uint32_t* bins, uint32_t bound, uint32_t cleared) {
    const __m256i above = _mm256_set1_epi32(static_cast<int>(bound + 1));
    const __m256i kept = _mm256_set1_epi32(static_cast<int>(~cleared));
    for (std::size_t k = 0; k < 2; ++k)
      words.v[k] = _mm256_and_si256(_mm256_or_si256(_mm256_cmpgt_epi32(above, bins_of(bins, k)), kept), words.v[k]);
  }
  // A set of at most eight words is read into a register once and its words picked by a
  // permute; a longer one is gathered.
  FLORESTA_ALWAYS_INLINE static void clear_right(Words& words, const uint32_t* bins, const uint32_t* set, uint32_t set_shift,
                                                 uint32_t cleared) {
    const __m256i c = _mm256_set1_epi32(static_cast<int>(cleared));
    const bool in_register = set_shift <= 3;
    __m256i held = _mm256_setzero_si256();
    if (in_register) {
      const __m256i present = _mm256_cmpgt_epi32(_mm256_set1_epi32(1 << set_shift), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      held = _mm256_maskload_epi32(reinterpret_cast<const int*>(set), present);
    }
    for (std::size_t k = 0; k < 2; ++k) {
      const __m256i x = bins_of(bins, k);
      const __m256i w = in_register ? _mm256_permutevar8x32_epi32(held, _mm256_srli_epi32(x, 5))
                                    : _mm256_i32gather_epi32(reinterpret_cast<const int*>(set), _mm256_srli_epi32(x, 5), 4);
      __m256i right = _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_and_si256(x, _mm256_set1_epi32(31))), _mm256_set1_epi32(1));
      right = _mm256_sub_epi32(_mm256_setzero_si256(), right);
      words.v[k] = _mm256_andnot_si256(_mm256_and_si256(right, c), words.v[k]);
    }
  }
  // Eight lanes' exit leaves from each word of their trees (word p in words[p]): in the low
  // word if any leaf is left there, else in the high word.
  template <std::size_t kParts>
  FLORESTA_ALWAYS_INLINE static __m256i exits(const __m256i* words) {
    static_assert(kParts >= 1 && kParts <= kMostParts);
    __m256i at = lowest_bits(words[0]);
    if constexpr (kParts == 2) {
      const __m256i in_high = _mm256_add_epi32(lowest_bits(words[1]), _mm256_set1_epi32(32));
      at = _mm256_blendv_epi8(at, in_high, _mm256_cmpeq_epi32(words[0], _mm256_setzero_si256()));
    }
    return at;
  }
  // Each row's exit leaf.
  template <std::size_t kParts>
  FLORESTA_ALWAYS_INLINE static void exit_leaves(const Words* words, uint32_t* out) {
    for (std::size_t k = 0; k < 2; ++k) {
      __m256i half[kParts];
      for (std::size_t p = 0; p < kParts; ++p) half[p] = words[p].v[k];
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * k), exits<kParts>(half));
    }
  }
  template <class Value>
  FLORESTA_ALWAYS_INLINE static void load(Sums<Value>& sums, const Value* from) {
    for (std::size_t k = 0; k < Sums<Value>::kCount; ++k) {
      if constexpr (sizeof(Value) == 8) sums.v[k] = _mm256_loadu_pd(from + 4 * k);
      else sums.v[k] = _mm256_loadu_ps(from + 8 * k);
    }
  }
  template <class Value>
  FLORESTA_ALWAYS_INLINE static void store(const Sums<Value>& sums, Value* to) {
    for (std::size_t k = 0; k < Sums<Value>::kCount; ++k) {
      if constexpr (sizeof(Value) == 8) _mm256_storeu_pd(to + 4 * k, sums.v[k]);
      else _mm256_storeu_ps(to + 8 * k, sums.v[k]);
    }
  }
  // A tree's leaf values as add_leaves reads them (`available` readable at `leaves`).
  template <std::size_t kParts, class Value>
  FLORESTA_ALWAYS_INLINE static const Value* tree_leaves(const Value* leaves, std::size_t /*available*/) {
    return leaves;
  }
  template <std::size_t kParts, class Value>
  FLORESTA_ALWAYS_INLINE static void add_leaves(Sums<Value>& sums, const Value* leaves, const Words* words) {
    alignas(32) uint32_t at[16];
    exit_leaves<kParts>(words, at);
    for (std::size_t k = 0; k < Sums<Value>::kCount; ++k) {
      if constexpr (sizeof(Value) == 8)
        sums.v[k] = _mm256_add_pd(sums.v[k], _mm256_i32gather_pd(leaves, _mm_load_si128(reinterpret_cast<const __m128i*>(at + 4 * k)), 8));
      else
        sums.v[k] = _mm256_add_ps(sums.v[k], _mm256_i32gather_ps(leaves, _mm256_load_si256(reinterpret_cast<const __m256i*>(at + 8 * k)), 4));
    }
  }

 private:
  // Each word's lowest set bit, read from the exponent of that power of two as a float (2^31
  // converts as -2^31: the same exponent); a word of 0 gives a negative index.
  FLORESTA_ALWAYS_INLINE static __m256i lowest_bits(__m256i x) {
    const __m256i low = _mm256_and_si256(x, _mm256_sub_epi32(_mm256_setzero_si256(), x));
    const __m256i e = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(low)), 23), _mm256_set1_epi32(0xFF));
    return _mm256_sub_epi32(e, _mm256_set1_epi32(127));
  }
};

#endif

#if FLORESTA_ISA_LEVEL >= 2
// Sixteen 32-bit words' lowest set bits: each isolated (x & -x), its index read from the
// exponent of that power of two as a float; a word of 0 gives a negative index.
FLORESTA_ALWAYS_INLINE __m512i lowest_bits_avx512(__m512i x) {
  const __m512i low = _mm512_and_si512(x, _mm512_sub_epi32(_mm512_setzero_si512(), x));
  const __m512i bits = _mm512_castps_si512(_mm512_cvtepu32_ps(low));
  return _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127));
}

struct Avx512BitvectorLanes {
  using Bin = uint16_t;
  static constexpr uint32_t kWordBits = 32;
  static constexpr std::size_t kMostParts = 2;
  struct Words {
    __m512i v;
  };
  template <class Value>
  struct Sums {
    static constexpr std::size_t kCount = sizeof(Value) == 8 ? 2 : 1;
    std::conditional_t<sizeof(Value) == 8, __m512d, __m512> v[kCount];
  };

  FLORESTA_ALWAYS_INLINE static void start(Words& words) { words.v = _mm512_set1_epi32(-1); }
  FLORESTA_ALWAYS_INLINE static void clear(Words& words, __mmask16 rows, uint32_t cleared) {
    words.v = _mm512_mask_andnot_epi32(words.v, rows, _mm512_set1_epi32(static_cast<int>(cleared)), words.v);
  }
  FLORESTA_ALWAYS_INLINE static void clear_greater(Words& words, const uint16_t* bins, uint32_t bound, uint32_t cleared) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bins));
    clear(words, _mm256_cmpgt_epu16_mask(x, _mm256_set1_epi16(static_cast<short>(bound))), cleared);
  }
  // A set of at most sixteen words (512 bins) is read into a register and its words picked
  // by a permute; a longer one is gathered (a gather costs about a load per lane).
  FLORESTA_ALWAYS_INLINE static void clear_right(Words& words, const uint16_t* bins, const uint32_t* set, uint32_t set_shift,
                                                 uint32_t cleared) {
    const __m512i x = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bins)));
    const __m512i at = _mm512_srli_epi32(x, 5);
    const __m512i w = set_shift <= 4
        ? _mm512_permutexvar_epi32(at, _mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << (1u << set_shift)) - 1u), set))
        : _mm512_i32gather_epi32(at, set, 4);
    const __m512i bit = _mm512_srlv_epi32(w, _mm512_and_si512(x, _mm512_set1_epi32(31)));
    clear(words, _mm512_test_epi32_mask(bit, _mm512_set1_epi32(1)), cleared);
  }
  // Each row's exit leaf: in its tree's low word if any is left there, else in its high word.
  template <std::size_t kParts>
  FLORESTA_ALWAYS_INLINE static __m512i exits(const Words* words) {
    static_assert(kParts >= 1 && kParts <= kMostParts);
    const __m512i low = lowest_bits_avx512(words[0].v);
    if constexpr (kParts == 1) {
      return low;
    } else {
      const __m512i in_high = _mm512_add_epi32(lowest_bits_avx512(words[1].v), _mm512_set1_epi32(32));
      return _mm512_mask_blend_epi32(_mm512_test_epi32_mask(words[0].v, words[0].v), in_high, low);
    }
  }
  template <std::size_t kParts>
  FLORESTA_ALWAYS_INLINE static void exit_leaves(const Words* words, uint32_t* out) {
    _mm512_storeu_si512(out, exits<kParts>(words));
  }
  template <class Value>
  FLORESTA_ALWAYS_INLINE static void load(Sums<Value>& sums, const Value* from) {
    if constexpr (sizeof(Value) == 8) {
      sums.v[0] = _mm512_loadu_pd(from);
      sums.v[1] = _mm512_loadu_pd(from + 8);
    } else {
      sums.v[0] = _mm512_loadu_ps(from);
    }
  }
  template <class Value>
  FLORESTA_ALWAYS_INLINE static void store(const Sums<Value>& sums, Value* to) {
    if constexpr (sizeof(Value) == 8) {
      _mm512_storeu_pd(to, sums.v[0]);
      _mm512_storeu_pd(to + 8, sums.v[1]);
    } else {
      _mm512_storeu_ps(to, sums.v[0]);
    }
  }
  // A tree's leaf values stay in registers (two to eight), read once for every group of a
  // pass, and each row's value is picked by permutes and blends instead of gathered (a gather
  // costs about a load per lane).
  template <class Value, std::size_t kParts>
  struct LeafTable {
    static constexpr std::size_t kPerRegister = 64 / sizeof(Value);
    static constexpr std::size_t kCount = 32 * kParts / kPerRegister;
    std::conditional_t<sizeof(Value) == 8, __m512d, __m512> v[kCount];
  };
  // A tree's leaf values as add_leaves reads them (`available` readable at `leaves`).
  template <std::size_t kParts, class Value>
  FLORESTA_ALWAYS_INLINE static LeafTable<Value, kParts> tree_leaves(const Value* leaves, std::size_t available) {
    using Table = LeafTable<Value, kParts>;
    constexpr std::size_t W = Table::kPerRegister;
    Table table;
    for (std::size_t k = 0; k < Table::kCount; ++k) {
      const std::size_t left = available > k * W ? std::min(available - k * W, W) : 0;
      const auto lanes = static_cast<__mmask16>((1u << left) - 1u);
      if constexpr (sizeof(Value) == 8) table.v[k] = _mm512_maskz_loadu_pd(static_cast<__mmask8>(lanes), leaves + k * W);
      else table.v[k] = _mm512_maskz_loadu_ps(lanes, leaves + k * W);
    }
    return table;
  }
  template <std::size_t kParts, class Value>
  FLORESTA_ALWAYS_INLINE static void add_leaves(Sums<Value>& sums, const LeafTable<Value, kParts>& table, const Words* words) {
    using Table = LeafTable<Value, kParts>;
    constexpr std::size_t kPicks = Table::kCount / 2;
    const __m512i at = exits<kParts>(words);
    if constexpr (sizeof(Value) == 8) {
      // Eight rows at a time: index bits 0-3 pick one of a register pair's sixteen values,
      // bits 4 and 5 the pair.
      for (std::size_t h = 0; h < 2; ++h) {
        const __m512i i = _mm512_cvtepu32_epi64(h == 0 ? _mm512_castsi512_si256(at) : _mm512_extracti64x4_epi64(at, 1));
        __m512d pick[kPicks];
        for (std::size_t k = 0; k < kPicks; ++k) pick[k] = _mm512_permutex2var_pd(table.v[2 * k], i, table.v[2 * k + 1]);
        for (std::size_t n = kPicks, bit = 16; n > 1; n /= 2, bit *= 2) {
          const __mmask8 upper = _mm512_test_epi64_mask(i, _mm512_set1_epi64(static_cast<long long>(bit)));
          for (std::size_t k = 0; k < n / 2; ++k) pick[k] = _mm512_mask_blend_pd(upper, pick[2 * k], pick[2 * k + 1]);
        }
        sums.v[h] = _mm512_add_pd(sums.v[h], pick[0]);
      }
    } else {
      // Index bits 0-4 pick one of a register pair's 32 values, bit 5 the pair.
      __m512 pick[kPicks];
      for (std::size_t k = 0; k < kPicks; ++k) pick[k] = _mm512_permutex2var_ps(table.v[2 * k], at, table.v[2 * k + 1]);
      if constexpr (kPicks == 2) pick[0] = _mm512_mask_blend_ps(_mm512_test_epi32_mask(at, _mm512_set1_epi32(32)), pick[0], pick[1]);
      sums.v[0] = _mm512_add_ps(sums.v[0], pick[0]);
    }
  }
};

// One row through every tree of a forest, sixteen trees at a time, a tree per lane
// (Bitvector::row_begin): per pair of steps, the 32 splits' bins picked from the row's bins in
// two registers (vpermt2w: at most kBitvectorRowColumns bin columns) and compared with their
// bounds as 16-bit numbers (one compare for both steps), and each step's leaves cleared where
// the bin is greater; each word of the trees in turn (a wide forest's low, then high); then the
// trees' exit leaves' values added to the row's accumulators `a` tree by tree in file order.

// One word of sixteen trees for one row: the pairs of steps in row_steps [at, end).
FLORESTA_ALWAYS_INLINE __m512i bitvector_row_word(const uint32_t* steps, uint32_t at, uint32_t end, __m512i low,
                                                  __m512i high) {
  __m512i state = _mm512_set1_epi32(-1);
  for (; at < end; at += 64) {
    const __m512i bin = _mm512_permutex2var_epi16(low, _mm512_loadu_si512(steps + at), high);
    const __mmask32 greater = _mm512_cmpgt_epu16_mask(bin, _mm512_loadu_si512(steps + at + 16));
    state = _mm512_mask_andnot_epi32(state, static_cast<__mmask16>(greater), _mm512_loadu_si512(steps + at + 32), state);
    state = _mm512_mask_andnot_epi32(state, static_cast<__mmask16>(greater >> 16), _mm512_loadu_si512(steps + at + 48), state);
  }
  return state;
}

template <class Rule>
void bitvector_row_avx512(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
  using Value = typename Rule::Value;
  using Accum = typename Rule::Accum;
  const auto& bv = forest.bitvector;
  const __m512i low = _mm512_loadu_si512(bins), high = _mm512_loadu_si512(bins + 32);
  static_assert(Bitvector<typename Rule::Value>::kRowPairWords == 64, "the steps' layout above");
  const uint32_t* steps = bv.row_steps.data();
  const uint32_t* part = bv.row_begin.data();
  const std::size_t trees = forest.num_trees();
  const bool one_group = forest.num_groups == 1;
  Accum sum = a[0];
  for (std::size_t t = 0; t < trees; t += 16) {
    __m512i leaf;
    const Avx512BitvectorLanes::Words first{bitvector_row_word(steps, part[0], part[1], low, high)};
    if (bv.row_parts == 2) {
      const Avx512BitvectorLanes::Words both[2] = {first, {bitvector_row_word(steps, part[1], part[2], low, high)}};
      leaf = Avx512BitvectorLanes::exits<2>(both);
    } else {
      leaf = Avx512BitvectorLanes::exits<1>(&first);
    }
    part += bv.row_parts;
    const std::size_t count = std::min<std::size_t>(16, trees - t);
    const auto lanes = static_cast<__mmask16>((1u << count) - 1u);
    alignas(64) uint32_t at[16];
    _mm512_store_si512(at, _mm512_add_epi32(leaf, _mm512_maskz_loadu_epi32(lanes, bv.leaf_begin.data() + t)));
    const Value* values = bv.leaf_values.data();
    if (one_group) {
      for (std::size_t i = 0; i < count; ++i) sum += values[at[i]];
    } else {
      for (std::size_t i = 0; i < count; ++i) a[forest.tree_group[t + i]] += values[at[i]];
    }
  }
  if (one_group) a[0] = sum;
}
#endif

}  // namespace floresta::detail::FLORESTA_ISA
