// src/engine/bitvector_lanes.hpp — the bitvector plan's steps (plans/bitvector.hpp) for a
// group of sixteen rows, per instruction set:
//   load_bins   a bin column's sixteen bins (once per column)
//   compare     which of them are greater than a bound (once per bound): the rows for which
//               the splits there are false
//   clear       a tree's sixteen leaf words (`state`, 64-byte aligned) with `cleared`'s
//               leaves cleared in the rows compare chose
//   add_leaves  each row's exit leaf (its word's lowest set bit) of every tree of a block,
//               its value added to the row's sum, tree by tree
//
//   PortableBitvectorLanes  a lane at a time; compilers vectorize the sixteen
//   Avx2BitvectorLanes      bins widened to the word's width and compared (values below 2^16
//                           compare the same signed): two registers of 32-bit words, four of
//                           64-bit
//   Avx512BitvectorLanes    the sixteen 16-bit bins compared into a mask register (vpcmpuw),
//                           the leaves cleared under it: one register of 32-bit words, two of
//                           64-bit; exit leaves from the exponent of the lowest bit as a
//                           float, leaf values gathered
// isa.hpp gives each instruction set's traits its own (Isa::BitvectorLanes<Word>).
//
// Kernel code: included only through isa.hpp inside a kernel translation unit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

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

template <class Word>
struct PortableBitvectorLanes {
  static constexpr std::size_t L = kQuantizedLanes;
  struct Bins {
    uint16_t v[L];
  };
  struct Compared {
    Word v[L];  // all ones where the bin is greater
  };
  FLORESTA_ALWAYS_INLINE static void load_bins(const uint16_t* bins, Bins& out) {
    for (std::size_t l = 0; l < L; ++l) out.v[l] = bins[l];
  }
  FLORESTA_ALWAYS_INLINE static void compare(const Bins& bins, uint32_t bound, Compared& out) {
    for (std::size_t l = 0; l < L; ++l) out.v[l] = Word{0} - static_cast<Word>(bins.v[l] > bound);
  }
  FLORESTA_ALWAYS_INLINE static void clear(Word* state, const Compared& greater, Word cleared) {
    for (std::size_t l = 0; l < L; ++l) state[l] &= ~(greater.v[l] & cleared);
  }
  // sums[l] += the value of row l's exit leaf of each of `trees` trees (tree i's words at
  // state + i * stride, its leaves at values + leaf_begin[i]), tree by tree: sixteen
  // independent sums in flight.
  template <class Value, class Accum>
  FLORESTA_ALWAYS_INLINE static void add_leaves(const Word* state, std::size_t stride, std::size_t trees,
                                                const Value* values, const uint32_t* leaf_begin, Accum* sums) {
    for (std::size_t i = 0; i < trees; ++i) {
      const Value* v = values + leaf_begin[i];
      for (std::size_t l = 0; l < L; ++l) sums[l] += v[lowest_bit(state[i * stride + l])];
    }
  }
};

#if FLORESTA_ISA_LEVEL >= 1
template <class Word>
struct Avx2BitvectorLanes : PortableBitvectorLanes<Word> {
  static constexpr std::size_t kRegisters = sizeof(Word) / 2;  // 16 rows x Word / 32 bytes
  static constexpr std::size_t kPerRegister = 16 / kRegisters;
  struct Bins {
    __m256i v[kRegisters];
  };
  struct Compared {
    __m256i v[kRegisters];
  };
  FLORESTA_ALWAYS_INLINE static __m256i broadcast(Word word) {
    if constexpr (sizeof(Word) == 8) return _mm256_set1_epi64x(static_cast<long long>(word));
    else return _mm256_set1_epi32(static_cast<int>(word));
  }
  FLORESTA_ALWAYS_INLINE static void load_bins(const uint16_t* bins, Bins& out) {
    for (std::size_t k = 0; k < kRegisters; ++k) {
      const __m128i part = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bins + k * kPerRegister));
      if constexpr (sizeof(Word) == 8) out.v[k] = _mm256_cvtepu16_epi64(part);
      else out.v[k] = _mm256_cvtepu16_epi32(part);
    }
  }
  FLORESTA_ALWAYS_INLINE static void compare(const Bins& bins, uint32_t bound, Compared& out) {
    const __m256i b = broadcast(static_cast<Word>(bound));
    for (std::size_t k = 0; k < kRegisters; ++k)
      out.v[k] = sizeof(Word) == 8 ? _mm256_cmpgt_epi64(bins.v[k], b) : _mm256_cmpgt_epi32(bins.v[k], b);
  }
  FLORESTA_ALWAYS_INLINE static void clear(Word* state, const Compared& greater, Word cleared) {
    const __m256i c = broadcast(cleared);
    auto* s = reinterpret_cast<__m256i*>(state);
    for (std::size_t k = 0; k < kRegisters; ++k)
      _mm256_store_si256(s + k, _mm256_andnot_si256(_mm256_and_si256(greater.v[k], c), _mm256_load_si256(s + k)));
  }
};
#endif

#if FLORESTA_ISA_LEVEL >= 2
template <class Word>
struct Avx512BitvectorLanes : PortableBitvectorLanes<Word> {
  struct Bins {
    __m256i v;
  };
  struct Compared {
    __mmask16 k;
  };
  FLORESTA_ALWAYS_INLINE static void load_bins(const uint16_t* bins, Bins& out) {
    out.v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bins));
  }
  FLORESTA_ALWAYS_INLINE static void compare(const Bins& bins, uint32_t bound, Compared& out) {
    out.k = _mm256_cmpgt_epu16_mask(bins.v, _mm256_set1_epi16(static_cast<short>(bound)));
  }
  // An AND-NOT of a zero-masked broadcast, so that the words are stored whole: a masked
  // store (what GCC makes of a merge-masked AND) does not forward to the next load of the
  // same tree's words.
  FLORESTA_ALWAYS_INLINE static void clear(Word* state, const Compared& greater, Word cleared) {
    if constexpr (sizeof(Word) == 8) {
      const auto c = static_cast<long long>(cleared);
      _mm512_store_si512(state, _mm512_andnot_si512(_mm512_maskz_set1_epi64(static_cast<__mmask8>(greater.k), c),
                                                    _mm512_load_si512(state)));
      _mm512_store_si512(state + 8, _mm512_andnot_si512(_mm512_maskz_set1_epi64(static_cast<__mmask8>(greater.k >> 8), c),
                                                        _mm512_load_si512(state + 8)));
    } else {
      _mm512_store_si512(state, _mm512_andnot_si512(_mm512_maskz_set1_epi32(greater.k, static_cast<int>(cleared)),
                                                    _mm512_load_si512(state)));
    }
  }
  // As PortableBitvectorLanes::add_leaves, sixteen rows in registers: each word's lowest
  // set bit isolated (x & -x), its index read from the exponent of that power of two as a
  // float (a double for 64-bit words), the leaf values gathered. Leaves summed in their own
  // type (float or double); others take the portable loop.
  template <class Value, class Accum>
  FLORESTA_ALWAYS_INLINE static void add_leaves(const Word* state, std::size_t stride, std::size_t trees,
                                                const Value* values, const uint32_t* leaf_begin, Accum* sums) {
    if constexpr (!std::is_same_v<Value, Accum>) {
      PortableBitvectorLanes<Word>::add_leaves(state, stride, trees, values, leaf_begin, sums);
    } else if constexpr (std::is_same_v<Value, float>) {
      __m512 sum = _mm512_loadu_ps(sums);
      for (std::size_t i = 0; i < trees; ++i)
        sum = _mm512_add_ps(sum, _mm512_i32gather_ps(exit_leaves(state + i * stride, leaf_begin[i]), values, 4));
      _mm512_storeu_ps(sums, sum);
    } else {
      __m512d low = _mm512_loadu_pd(sums), high = _mm512_loadu_pd(sums + 8);
      for (std::size_t i = 0; i < trees; ++i) {
        const __m512i at = exit_leaves(state + i * stride, leaf_begin[i]);
        low = _mm512_add_pd(low, _mm512_i32gather_pd(_mm512_castsi512_si256(at), values, 8));
        high = _mm512_add_pd(high, _mm512_i32gather_pd(_mm512_extracti64x4_epi64(at, 1), values, 8));
      }
      _mm512_storeu_pd(sums, low);
      _mm512_storeu_pd(sums + 8, high);
    }
  }

 private:
  // base + the exit leaf of each of sixteen words.
  FLORESTA_ALWAYS_INLINE static __m512i exit_leaves(const Word* words, uint32_t base) {
    if constexpr (sizeof(Word) == 8) {
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(low_bit_exponents(words)), low_bit_exponents(words + 8), 1);
      return _mm512_add_epi32(both, _mm512_set1_epi32(static_cast<int>(base) - 1023));
    } else {
      const __m512i x = _mm512_load_si512(words);
      const __m512i low = _mm512_and_si512(x, _mm512_sub_epi32(_mm512_setzero_si512(), x));
      const __m512i bits = _mm512_castps_si512(_mm512_cvtepu32_ps(low));
      return _mm512_add_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(static_cast<int>(base) - 127));
    }
  }
  // Eight 64-bit words' lowest set bits as doubles' biased exponents, in 32-bit lanes.
  FLORESTA_ALWAYS_INLINE static __m256i low_bit_exponents(const Word* words) {
    const __m512i x = _mm512_load_si512(words);
    const __m512i low = _mm512_and_si512(x, _mm512_sub_epi64(_mm512_setzero_si512(), x));
    const __m512i bits = _mm512_castpd_si512(_mm512_cvtepu64_pd(low));
    return _mm512_cvtepi64_epi32(_mm512_srli_epi64(bits, 52));
  }
};
#endif

}  // namespace floresta::detail::FLORESTA_ISA
