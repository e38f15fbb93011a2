// src/engine/bitvector_quads128.hpp — one row through a forest's quads (Bitvector::rows ==
// kQuadsCleared: the layout of bitvector_row_avx2 in bitvector_lanes.hpp, with the leaves a
// split clears in place of those it keeps) on 128-bit registers, for
// the units whose instruction set has a byte shuffle but no AVX2: the x86-64-v2 kernel (SSSE3's
// pshufb, SSE4.1's blends) and the portable kernel on 64-bit ARM (NEON's tbl). A unit of the
// quads holds eight trees; here they are two halves of four, each a chain of its own, so
// that the two halves' steps overlap.
//
// The two instruction sets differ in the table lookup only: pshufb reads sixteen bytes by the
// index's bits 0-3, so the lookup picks among tables by the index's bits 4 and 5 as AVX2's
// does (a blend each); NEON's tbl reads up to 64 bytes by the whole index, so the split's
// byte (feature | column << 5) indexes the row's 64 bins directly.
//
// Kernel code: included only through isa.hpp inside a kernel translation unit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/bitvector.hpp"
#include "engine/forest.hpp"

#if defined(__SSSE3__) && defined(__SSE4_1__)
#include <smmintrin.h>
#include <tmmintrin.h>
#define FLORESTA_QUADS128 1
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define FLORESTA_QUADS128 1
#else
#define FLORESTA_QUADS128 0
#endif

#ifndef FLORESTA_ISA
#error "engine/bitvector_quads128.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

#if FLORESTA_QUADS128
// The row's first bin columns as bytes ^ 0x80 (bitvector_row_avx2 says why): tables[0] and
// [1] hold features 0-15 and 16-31.
#if defined(__SSE4_1__)
struct Quads128 {
  using Bytes = __m128i;
  using Words = __m128i;

  FLORESTA_ALWAYS_INLINE static Bytes bytes(const uint32_t* at) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at)); }
  FLORESTA_ALWAYS_INLINE static Words ones() { return _mm_set1_epi32(-1); }
  FLORESTA_ALWAYS_INLINE static Words either(Words a, Words b) { return _mm_or_si128(a, b); }
  FLORESTA_ALWAYS_INLINE static Words clear(Words state, Words cleared) { return _mm_andnot_si128(cleared, state); }

  // Feature i's first column is bin 2i: four features a load, their first columns narrowed
  // with saturation (the leaf column's 0xFFFF to 255; packus_epi16 reads signed words, hence
  // the min first).
  FLORESTA_ALWAYS_INLINE static void tables(const uint16_t* bins, Bytes* t) {
    const __m128i low16 = _mm_set1_epi32(0xFFFF), most = _mm_set1_epi16(255);
    for (int half = 0; half < 2; ++half) {  // features 16 half .. 16 half + 15
      __m128i first[4];
      for (int k = 0; k < 4; ++k)
        first[k] = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bins + 32 * half + 8 * k)), low16);
      const __m128i a01 = _mm_min_epu16(_mm_packus_epi32(first[0], first[1]), most);
      const __m128i a23 = _mm_min_epu16(_mm_packus_epi32(first[2], first[3]), most);
      t[half] = _mm_xor_si128(_mm_packus_epi16(a01, a23), _mm_set1_epi8(static_cast<char>(0x80)));
    }
  }
  // The bins of sixteen splits as their steps compare them: pshufb reads bits 0-3 of each
  // index byte (bit 7 is clear); the 16-bit shift moves bit 4 to bit 7, which pblendvb reads.
  // A second column's byte is above 31: its compare's -1 takes one off the bin.
  template <int kFeatureTables>
  FLORESTA_ALWAYS_INLINE static Bytes bins(const Bytes* t, Bytes split) {
    __m128i bins = _mm_shuffle_epi8(t[0], split);
    if constexpr (kFeatureTables == 2) bins = _mm_blendv_epi8(bins, _mm_shuffle_epi8(t[1], split), _mm_slli_epi16(split, 3));
    return _mm_add_epi8(bins, _mm_cmpgt_epi8(split, _mm_set1_epi8(31)));
  }
  // 0xFF where a split is false (the bin greater than the bound).
  FLORESTA_ALWAYS_INLINE static Bytes false_splits(Bytes bins, const uint32_t* bounds) {
    return _mm_cmpgt_epi8(bins, _mm_load_si128(reinterpret_cast<const __m128i*>(bounds)));
  }
  // The leaves step s clears where its split is false: byte s of the lane spread over the
  // lane by pshufb and AND-ed with the step's cleared words (no blend, whose SSE form reads
  // its mask from xmm0 only). The layout is 64-byte aligned (Bitvector::row_steps), so the
  // loads fold into the operations.
  template <int kStep>
  FLORESTA_ALWAYS_INLINE static Words cleared(Bytes false_splits, const uint32_t* words) {
    const __m128i spread = _mm_setr_epi8(kStep, kStep, kStep, kStep, 4 + kStep, 4 + kStep, 4 + kStep, 4 + kStep, 8 + kStep,
                                         8 + kStep, 8 + kStep, 8 + kStep, 12 + kStep, 12 + kStep, 12 + kStep, 12 + kStep);
    return _mm_and_si128(_mm_shuffle_epi8(false_splits, spread), _mm_load_si128(reinterpret_cast<const __m128i*>(words)));
  }
  // Four lanes' exit leaves: the lowest set bit of the low word, else 32 + the high word's;
  // a bit's index read from the exponent of that power of two as a float (2^31 converts as
  // -2^31: the same exponent).
  template <std::size_t kParts>
  FLORESTA_ALWAYS_INLINE static void exits(const Words* words, uint32_t* out) {
    const auto lowest = [](__m128i x) {
      const __m128i low = _mm_and_si128(x, _mm_sub_epi32(_mm_setzero_si128(), x));
      const __m128i e = _mm_and_si128(_mm_srli_epi32(_mm_castps_si128(_mm_cvtepi32_ps(low)), 23), _mm_set1_epi32(0xFF));
      return _mm_sub_epi32(e, _mm_set1_epi32(127));
    };
    __m128i at = lowest(words[0]);
    if constexpr (kParts == 2)
      at = _mm_blendv_epi8(at, _mm_add_epi32(lowest(words[1]), _mm_set1_epi32(32)),
                           _mm_cmpeq_epi32(words[0], _mm_setzero_si128()));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), at);
  }
};
#else  // NEON
struct Quads128 {
  using Bytes = uint8x16_t;
  using Words = uint32x4_t;

  FLORESTA_ALWAYS_INLINE static Bytes bytes(const uint32_t* at) { return vld1q_u8(reinterpret_cast<const uint8_t*>(at)); }
  FLORESTA_ALWAYS_INLINE static Words ones() { return vdupq_n_u32(~0u); }
  FLORESTA_ALWAYS_INLINE static Words either(Words a, Words b) { return vorrq_u32(a, b); }
  FLORESTA_ALWAYS_INLINE static Words clear(Words state, Words cleared) { return vbicq_u32(state, cleared); }

  // vld2 splits feature i's columns 2i and 2i + 1 apart; vqmovn narrows the first with
  // saturation (the leaf column's 0xFFFF to 255).
  FLORESTA_ALWAYS_INLINE static void tables(const uint16_t* bins, Bytes* t) {
    for (int half = 0; half < 2; ++half) {
      const uint16x8x2_t a = vld2q_u16(bins + 32 * half), b = vld2q_u16(bins + 32 * half + 16);
      t[half] = veorq_u8(vcombine_u8(vqmovn_u16(a.val[0]), vqmovn_u16(b.val[0])), vdupq_n_u8(0x80));
    }
  }
  // tbl reads 16 bytes a register, one or two registers, by the whole index (0 past them):
  // the column bit masked off, then taken off the bin.
  template <int kFeatureTables>
  FLORESTA_ALWAYS_INLINE static Bytes bins(const Bytes* t, Bytes split) {
    uint8x16_t bins;
    if constexpr (kFeatureTables == 1) {
      bins = vqtbl1q_u8(t[0], vandq_u8(split, vdupq_n_u8(0x0F)));
    } else {
      const uint8x16x2_t both = {{t[0], t[1]}};
      bins = vqtbl2q_u8(both, vandq_u8(split, vdupq_n_u8(0x1F)));
    }
    return vsubq_u8(bins, vshrq_n_u8(split, 5));
  }
  // 0xFF where a split is false (the bin greater than the bound).
  FLORESTA_ALWAYS_INLINE static Bytes false_splits(Bytes bins, const uint32_t* bounds) {
    return vcgtq_s8(vreinterpretq_s8_u8(bins), vreinterpretq_s8_u8(bytes(bounds)));
  }
  // The leaves step s clears where its split is false: byte s spread over its lane by tbl.
  template <int kStep>
  FLORESTA_ALWAYS_INLINE static Words cleared(Bytes false_splits, const uint32_t* words) {
    static const uint8_t spread[16] = {kStep,     kStep,     kStep,     kStep,     4 + kStep,  4 + kStep,  4 + kStep,  4 + kStep,
                                       8 + kStep, 8 + kStep, 8 + kStep, 8 + kStep, 12 + kStep, 12 + kStep, 12 + kStep, 12 + kStep};
    return vandq_u32(vreinterpretq_u32_u8(vqtbl1q_u8(false_splits, vld1q_u8(spread))), vld1q_u32(words));
  }
  // Four lanes' exit leaves: 31 - the leading zeros of the lowest set bit.
  template <std::size_t kParts>
  FLORESTA_ALWAYS_INLINE static void exits(const Words* words, uint32_t* out) {
    const auto lowest = [](uint32x4_t x) {
      const uint32x4_t low = vandq_u32(x, vreinterpretq_u32_s32(vnegq_s32(vreinterpretq_s32_u32(x))));
      return vsubq_u32(vdupq_n_u32(31), vclzq_u32(low));
    };
    uint32x4_t at = lowest(words[0]);
    if constexpr (kParts == 2)
      at = vbslq_u32(vceqzq_u32(words[0]), vaddq_u32(lowest(words[1]), vdupq_n_u32(32)), at);
    vst1q_u32(out, at);
  }
};
#endif

// One word of eight trees for one row, the units in row_steps [at, end), as two halves of
// four trees (bytes 0-15 and 16-31 of a unit's splits and bounds, words 0-3 and 4-7 of its
// cleared words): state[0] and state[1]. A unit's four steps' cleared leaves are OR-ed, then
// cleared from the trees' word at once.
template <int kFeatureTables>
FLORESTA_ALWAYS_INLINE void bitvector_quads128_word(const uint32_t* steps, uint32_t at, uint32_t end,
                                                    const Quads128::Bytes* tables, Quads128::Words* state) {
  using Q = Quads128;
  Q::Words low = Q::ones(), high = Q::ones();
  for (; at < end; at += 48) {
    const uint32_t* unit = steps + at;
    const auto half = [&](int h) {
      const Q::Bytes false_splits = Q::false_splits(Q::bins<kFeatureTables>(tables, Q::bytes(unit + 4 * h)), unit + 8 + 4 * h);
      const uint32_t* words = unit + 16 + 4 * h;
      return Q::either(Q::either(Q::cleared<0>(false_splits, words), Q::cleared<1>(false_splits, words + 8)),
                       Q::either(Q::cleared<2>(false_splits, words + 16), Q::cleared<3>(false_splits, words + 24)));
    };
    low = Q::clear(low, half(0));
    high = Q::clear(high, half(1));
  }
  state[0] = low;
  state[1] = high;
}

template <int kFeatureTables, class Rule>
void bitvector_quads128(const Forest<Rule>& forest, const Quads128::Bytes* tables, typename Rule::Accum* a) {
  const bool wide = forest.bitvector.row_parts == 2;
  add_quads_exits(forest, a, [&](const uint32_t* steps, const uint32_t* part, uint32_t* at) {
    Quads128::Words low[2], high[2], state[2];
    bitvector_quads128_word<kFeatureTables>(steps, part[0], part[1], tables, state);
    low[0] = state[0];
    high[0] = state[1];
    if (wide) {
      bitvector_quads128_word<kFeatureTables>(steps, part[1], part[2], tables, state);
      low[1] = state[0];
      high[1] = state[1];
      Quads128::exits<2>(low, at);
      Quads128::exits<2>(high, at + 4);
    } else {
      Quads128::exits<1>(low, at);
      Quads128::exits<1>(high, at + 4);
    }
  });
}

// One row of at most kBitvectorRowColumns bin columns through a forest's quads: the row's
// tables, then as many of them as its features need.
template <class Rule>
void bitvector_row_quads128(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
  static_assert(kBitvectorRowColumns == 64, "32 features, two tables of sixteen");
  Quads128::Bytes tables[2];
  Quads128::tables(bins, tables);
  if (forest.quantized.features.size() <= 16) return bitvector_quads128<1>(forest, tables, a);
  return bitvector_quads128<2>(forest, tables, a);
}
#endif

}  // namespace floresta::detail::FLORESTA_ISA
