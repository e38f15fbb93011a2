// src/engine/bitvector_quads128.hpp — one row through a forest's quads (Bitvector::rows ==
// kQuadsCleared: AVX2's layout of bitvector_row_avx2 in bitvector_lanes.hpp, byte-sliced and
// with its features in table order, as engine/bitvector.hpp describes) on 128-bit registers,
// for the units whose instruction set has a byte shuffle but no AVX2: the x86-64-v2 kernel
// (SSSE3's pshufb, SSE4.1's blends) and the portable kernel on 64-bit ARM (NEON's tbl). A unit
// of the quads holds eight trees; here they are two halves of four, each its own chains, so
// that the two halves' steps overlap.
//
// The two instruction sets differ in the table lookup only: pshufb reads sixteen bytes by the
// index's bits 0-3, so the lookup picks between the tables by the index's bit 4 as AVX2's does
// (a blend), and only in the units that need the second table (Bitvector::row_mixed); NEON's
// tbl reads up to 64 bytes by the whole index, so the split's byte (position | column << 5)
// indexes the row's 32 feature bins directly.
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
// The row's first bin columns as bytes ^ 0x80 (bitvector_row_avx2 says why), in the order of
// Bitvector::row_features: tables[0] and [1] hold positions 0-15 and 16-31.
#if defined(__SSE4_1__)
struct Quads128 {
  using Bytes = __m128i;
  using Words = __m128i;

  FLORESTA_ALWAYS_INLINE static Bytes bytes(const uint32_t* at) { return _mm_load_si128(reinterpret_cast<const __m128i*>(at)); }
  FLORESTA_ALWAYS_INLINE static Words ones() { return _mm_set1_epi32(-1); }

  // Feature i's first column is bin 2i: four features a load, their first columns narrowed
  // with saturation (the leaf column's 0xFFFF to 255; packus_epi16 reads signed words, hence
  // the min first); then put in table order: a position's feature f is byte f of the first
  // natural table (f + 0x70 keeps bits 0-3 and sets bit 7 from 16 on: pshufb's zero) or
  // f - 16 of the second (below 16 it wraps to bit 7 set).
  FLORESTA_ALWAYS_INLINE static void tables(const uint16_t* bins, const uint8_t* features, Bytes* t) {
    const __m128i low16 = _mm_set1_epi32(0xFFFF), most = _mm_set1_epi16(255);
    __m128i natural[2];
    for (int half = 0; half < 2; ++half) {  // features 16 half .. 16 half + 15
      __m128i first[4];
      for (int k = 0; k < 4; ++k)
        first[k] = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bins + 32 * half + 8 * k)), low16);
      const __m128i a01 = _mm_min_epu16(_mm_packus_epi32(first[0], first[1]), most);
      const __m128i a23 = _mm_min_epu16(_mm_packus_epi32(first[2], first[3]), most);
      natural[half] = _mm_xor_si128(_mm_packus_epi16(a01, a23), _mm_set1_epi8(static_cast<char>(0x80)));
    }
    for (int half = 0; half < 2; ++half) {
      const __m128i f = _mm_loadu_si128(reinterpret_cast<const __m128i*>(features + 16 * half));
      t[half] = _mm_or_si128(_mm_shuffle_epi8(natural[0], _mm_add_epi8(f, _mm_set1_epi8(0x70))),
                             _mm_shuffle_epi8(natural[1], _mm_sub_epi8(f, _mm_set1_epi8(16))));
    }
  }
  // The bins of sixteen splits as their steps compare them: pshufb reads bits 0-3 of each
  // index byte (bit 7 is clear); with two tables, the 16-bit shift moves bit 4 to bit 7, which
  // pblendvb reads. A second column's byte is above 31: its compare's -1 takes one off the bin.
  template <int kTables, bool kMissing>
  FLORESTA_ALWAYS_INLINE static Bytes bins(const Bytes* t, Bytes split) {
    __m128i bins = _mm_shuffle_epi8(t[0], split);
    if constexpr (kTables == 2) bins = _mm_blendv_epi8(bins, _mm_shuffle_epi8(t[1], split), _mm_slli_epi16(split, 3));
    if constexpr (kMissing) bins = _mm_add_epi8(bins, _mm_cmpgt_epi8(split, _mm_set1_epi8(31)));
    return bins;
  }
  // 0xFF where a split is true (the bin below the bound stored one more).
  FLORESTA_ALWAYS_INLINE static Bytes true_splits(Bytes bins, const uint32_t* bounds) {
    return _mm_cmpgt_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(bounds)), bins);
  }
  // A running AND of the leaves the splits keep: all where true, a slice of the kept ones where
  // false. The layout is 64-byte aligned (Bitvector::row_steps), so SSE may fold its loads.
  FLORESTA_ALWAYS_INLINE static Bytes keep(Bytes state, Bytes true_splits, const uint32_t* kept) {
    return _mm_and_si128(state, _mm_or_si128(true_splits, _mm_load_si128(reinterpret_cast<const __m128i*>(kept))));
  }
  // Whether one of the first `features` features is missing: its two columns differ (0 and
  // 0xFFFF; they agree for a present value, quantized.hpp).
  FLORESTA_ALWAYS_INLINE static bool missing(const uint16_t* bins, std::size_t features) {
    int differ = 0;
    for (int k = 0; k < 8; ++k) {  // features 4k .. 4k + 3
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bins + 8 * k));
      const __m128i same = _mm_cmpeq_epi16(_mm_slli_epi32(x, 16), _mm_and_si128(x, _mm_set1_epi32(~0xFFFF)));
      differ |= (~_mm_movemask_ps(_mm_castsi128_ps(same)) & 0xF) << (4 * k);
    }
    return (static_cast<uint32_t>(differ) & (features >= 32 ? ~0u : (1u << features) - 1)) != 0;
  }
  FLORESTA_ALWAYS_INLINE static Words words(Bytes bytes) { return bytes; }
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
  FLORESTA_ALWAYS_INLINE static Bytes ones() { return vdupq_n_u8(0xFF); }

  // vld2 splits feature i's columns 2i and 2i + 1 apart; vqmovn narrows the first with
  // saturation (the leaf column's 0xFFFF to 255); tbl puts them in table order.
  FLORESTA_ALWAYS_INLINE static void tables(const uint16_t* bins, const uint8_t* features, Bytes* t) {
    uint8x16x2_t natural;
    for (int half = 0; half < 2; ++half) {
      const uint16x8x2_t a = vld2q_u16(bins + 32 * half), b = vld2q_u16(bins + 32 * half + 16);
      natural.val[half] = veorq_u8(vcombine_u8(vqmovn_u16(a.val[0]), vqmovn_u16(b.val[0])), vdupq_n_u8(0x80));
    }
    t[0] = vqtbl2q_u8(natural, vld1q_u8(features));
    t[1] = vqtbl2q_u8(natural, vld1q_u8(features + 16));
  }
  // tbl reads 16 bytes a register, one or two registers, by the whole index (0 past them):
  // the column bit masked off, then taken off the bin.
  template <int kTables, bool kMissing>
  FLORESTA_ALWAYS_INLINE static Bytes bins(const Bytes* t, Bytes split) {
    uint8x16_t bins;
    if constexpr (kTables == 1) {
      bins = vqtbl1q_u8(t[0], vandq_u8(split, vdupq_n_u8(0x0F)));
    } else {
      const uint8x16x2_t both = {{t[0], t[1]}};
      bins = vqtbl2q_u8(both, vandq_u8(split, vdupq_n_u8(0x1F)));
    }
    if constexpr (kMissing) bins = vsubq_u8(bins, vshrq_n_u8(split, 5));
    return bins;
  }
  // 0xFF where a split is true (the bin below the bound stored one more).
  FLORESTA_ALWAYS_INLINE static Bytes true_splits(Bytes bins, const uint32_t* bounds) {
    return vcgtq_s8(vreinterpretq_s8_u8(bytes(bounds)), vreinterpretq_s8_u8(bins));
  }
  FLORESTA_ALWAYS_INLINE static Bytes keep(Bytes state, Bytes true_splits, const uint32_t* kept) {
    return vandq_u8(state, vorrq_u8(true_splits, bytes(kept)));
  }
  FLORESTA_ALWAYS_INLINE static bool missing(const uint16_t* bins, std::size_t features) {
    static const uint16_t index[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    uint16x8_t differ = vdupq_n_u16(0);
    for (int k = 0; k < 4; ++k) {  // features 8k .. 8k + 7
      const uint16x8x2_t x = vld2q_u16(bins + 16 * k);
      const uint16x8_t present = vcltq_u16(vaddq_u16(vld1q_u16(index), vdupq_n_u16(static_cast<uint16_t>(8 * k))),
                                           vdupq_n_u16(static_cast<uint16_t>(features)));
      differ = vorrq_u16(differ, vandq_u16(vmvnq_u16(vceqq_u16(x.val[0], x.val[1])), present));
    }
    return vmaxvq_u16(differ) != 0;
  }
  FLORESTA_ALWAYS_INLINE static Words words(Bytes bytes) { return vreinterpretq_u32_u8(bytes); }
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

// One unit's sixteen lanes of half h (bytes 16 h .. 16 h + 15 of each of its regions) into
// the half's running AND. With kMissing (a row with a missing value, in a forest with splits
// on second columns), the bins less one on second columns, against the bounds stored for
// them; else the bounds as they are.
template <int kTables, bool kMissing>
FLORESTA_ALWAYS_INLINE Quads128::Bytes bitvector_quads128_half(const uint32_t* unit, int h, const Quads128::Bytes* tables,
                                                               Quads128::Bytes state) {
  using Q = Quads128;
  const Q::Bytes bins = Q::bins<kTables, kMissing>(tables, Q::bytes(unit + 4 * h));
  return Q::keep(state, Q::true_splits(bins, unit + (kMissing ? 8 : 24) + 4 * h), unit + 16 + 4 * h);
}

// One word of eight trees for one row, the units in row_steps [at, end) (those from `mixed`
// on may read the second table), as two halves of four trees: words[0] and words[1].
template <int kTables, bool kMissing>
FLORESTA_ALWAYS_INLINE void bitvector_quads128_word(const uint32_t* steps, uint32_t at, uint32_t mixed, uint32_t end,
                                                    const Quads128::Bytes* tables, Quads128::Words* words) {
  using Q = Quads128;
  constexpr uint32_t kUnit = Bitvector<double>::kRowQuad128Words;
  Q::Bytes low = Q::ones(), high = Q::ones();
  for (; at < mixed; at += kUnit) {
    low = bitvector_quads128_half<1, kMissing>(steps + at, 0, tables, low);
    high = bitvector_quads128_half<1, kMissing>(steps + at, 1, tables, high);
  }
  for (; at < end; at += kUnit) {
    low = bitvector_quads128_half<kTables, kMissing>(steps + at, 0, tables, low);
    high = bitvector_quads128_half<kTables, kMissing>(steps + at, 1, tables, high);
  }
  words[0] = Q::words(low);
  words[1] = Q::words(high);
}

template <int kTables, bool kMissing, class Rule>
void bitvector_quads128(const Forest<Rule>& forest, const Quads128::Bytes* tables, typename Rule::Accum* a) {
  const auto& bv = forest.bitvector;
  const bool wide = bv.row_parts == 2;
  add_quads_exits(forest, a, [&](const uint32_t* steps, const uint32_t* part, uint32_t* at) {
    const uint32_t* mixed = bv.row_mixed.data() + (part - bv.row_begin.data());
    Quads128::Words low[2], high[2], halves[2];
    bitvector_quads128_word<kTables, kMissing>(steps, part[0], mixed[0], part[1], tables, halves);
    low[0] = halves[0];
    high[0] = halves[1];
    if (wide) {
      bitvector_quads128_word<kTables, kMissing>(steps, part[1], mixed[1], part[2], tables, halves);
      low[1] = halves[0];
      high[1] = halves[1];
      Quads128::exits<2>(low, at);
      Quads128::exits<2>(high, at + 4);
    } else {
      Quads128::exits<1>(low, at);
      Quads128::exits<1>(high, at + 4);
    }
  });
}

// One row of at most kBitvectorRowColumns bin columns through a forest's quads: the row's
// tables, then as many of them as its features need, with the bins of second columns less
// one only where that matters.
template <class Rule>
void bitvector_row_quads128(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
  static_assert(kBitvectorRowColumns == 64, "32 features, two tables of sixteen");
  const auto& bv = forest.bitvector;
  const std::size_t features = forest.quantized.features.size();
  Quads128::Bytes tables[2];
  Quads128::tables(bins, bv.row_features.data(), tables);
  const bool one_table = features <= 16;
  if (bv.row_second_columns && Quads128::missing(bins, features))
    return one_table ? bitvector_quads128<1, true>(forest, tables, a) : bitvector_quads128<2, true>(forest, tables, a);
  return one_table ? bitvector_quads128<1, false>(forest, tables, a) : bitvector_quads128<2, false>(forest, tables, a);
}
#endif

}  // namespace floresta::detail::FLORESTA_ISA
