// src/engine/bitvector_bytes.hpp — one row through a forest's byte entries (Bitvector::rows ==
// kBytes, engine/bitvector.hpp): eight trees a block, a byte lane per tree and byte of its
// 32-bit word, listing the splits whose cleared leaves touch that byte. A unit is 32 lanes:
// one register on AVX2, two halves of sixteen (four trees each, each half its own chain) on
// the units whose instruction set has a byte shuffle but no AVX2: the x86-64-v2 kernel
// (SSSE3's pshufb, SSE4.1's blends) and the portable kernel on 64-bit ARM (NEON's tbl).
//
// A step looks up its lanes' bins among the row's first bin columns as bytes (^ 0x80: signed
// compares), in two tables of sixteen features in `row_features` order, compares them with
// the lanes' bounds and keeps a running AND of (true ? all : kept leaves). The instruction
// sets differ in the lookup only: pshufb reads sixteen bytes by the index's bits 0-3, so the
// lookup picks between the tables by the index's bit 4 (a blend), and only in the units that
// need the second table (Bitvector::row_mixed); NEON's tbl reads up to 64 bytes by the whole
// index, so the split's byte (position | column << 5) indexes the row's 32 feature bins
// directly. AVX2 has no byte shuffle across its 128-bit halves: the tables sit in both.
//
// Kernel code: included only through isa.hpp inside a kernel translation unit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "engine/bitvector.hpp"
#include "engine/forest.hpp"

#if defined(__SSSE3__) && defined(__SSE4_1__)
#include <smmintrin.h>
#include <tmmintrin.h>
#define FLORESTA_BYTES128 1
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define FLORESTA_BYTES128 1
#else
#define FLORESTA_BYTES128 0
#endif

#ifndef FLORESTA_ISA
#error "engine/bitvector_bytes.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

// One row through a forest's byte entries (eight trees a block): `block(steps, part, mixed,
// at)` writes the exit leaves of the eight trees whose words start at row_begin `part` (and
// whose second-table units start at row_mixed `mixed`) to at[0 .. 8). The exit leaves of
// kChunk trees are stored, then their values added to the row's accumulators `a` in a loop of
// their own, in file order: added in the loop of the steps, the sum shared their registers
// and GCC kept it in a general register, two moves longer a link of the sum's chain of
// dependent adds; adding after each block of eight or sixteen, the sum pinned to a vector
// register, was slower too (bench-predict/sse4-byte-entries).
template <class Rule, class Block>
FLORESTA_ALWAYS_INLINE void add_row_exits(const Forest<Rule>& forest, typename Rule::Accum* a, Block&& block) {
  using Value = typename Rule::Value;
  const auto& bv = forest.bitvector;
  const uint32_t* steps = bv.row_steps.data();
  const uint32_t* part = bv.row_begin.data();
  const uint32_t* mixed = bv.row_mixed.data();
  const std::size_t trees = forest.num_trees();
  const bool one_group = forest.num_groups == 1;
  const Value* values = bv.leaf_values.data();
  const uint32_t* first = bv.leaf_begin.data();
  constexpr std::size_t kChunk = 64;
  alignas(32) uint32_t at[kChunk];
  typename Rule::Accum sum = a[0];
  for (std::size_t t0 = 0; t0 < trees; t0 += kChunk) {
    const std::size_t end = std::min(trees, t0 + kChunk);
    for (std::size_t t = t0; t < end; t += 8, part += bv.row_parts, mixed += bv.row_parts) block(steps, part, mixed, at + (t - t0));
    if (one_group) {
      for (std::size_t t = t0; t < end; ++t) sum += values[first[t] + at[t - t0]];
    } else {
      for (std::size_t t = t0; t < end; ++t) a[forest.tree_group[t]] += values[first[t] + at[t - t0]];
    }
  }
  if (one_group) a[0] = sum;
}

#if FLORESTA_BYTES128
// The row's first bin columns as bytes ^ 0x80, in the order of Bitvector::row_features:
// tables[0] and [1] hold positions 0-15 and 16-31.
#if defined(__SSE4_1__)
struct Bytes128 {
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
struct Bytes128 {
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
FLORESTA_ALWAYS_INLINE Bytes128::Bytes bitvector_bytes128_half(const uint32_t* unit, int h, const Bytes128::Bytes* tables,
                                                               Bytes128::Bytes state) {
  using Q = Bytes128;
  const Q::Bytes bins = Q::bins<kTables, kMissing>(tables, Q::bytes(unit + 4 * h));
  return Q::keep(state, Q::true_splits(bins, unit + (kMissing ? 8 : 24) + 4 * h), unit + 16 + 4 * h);
}

// One word of eight trees for one row, the units in row_steps [at, end) (those from `mixed`
// on may read the second table), as two halves of four trees: `low` and `high`.
template <int kTables, bool kMissing>
FLORESTA_ALWAYS_INLINE void bitvector_bytes128_word(const uint32_t* steps, uint32_t at, uint32_t mixed, uint32_t end,
                                                    const Bytes128::Bytes* tables, Bytes128::Words& low_words,
                                                    Bytes128::Words& high_words) {
  using Q = Bytes128;
  constexpr uint32_t kUnit = Bitvector<double>::kRowByteWords;
  Q::Bytes low = Q::ones(), high = Q::ones();
  for (; at < mixed; at += kUnit) {
    low = bitvector_bytes128_half<1, kMissing>(steps + at, 0, tables, low);
    high = bitvector_bytes128_half<1, kMissing>(steps + at, 1, tables, high);
  }
  for (; at < end; at += kUnit) {
    low = bitvector_bytes128_half<kTables, kMissing>(steps + at, 0, tables, low);
    high = bitvector_bytes128_half<kTables, kMissing>(steps + at, 1, tables, high);
  }
  low_words = Q::words(low);
  high_words = Q::words(high);
}

template <int kTables, bool kMissing, class Rule>
void bitvector_bytes128(const Forest<Rule>& forest, const Bytes128::Bytes* tables, typename Rule::Accum* a) {
  const auto& bv = forest.bitvector;
  const bool wide = bv.row_parts == 2;
  add_row_exits(forest, a, [&](const uint32_t* steps, const uint32_t* part, const uint32_t* mixed, uint32_t* at) {
    Bytes128::Words low[2], high[2];
    bitvector_bytes128_word<kTables, kMissing>(steps, part[0], mixed[0], part[1], tables, low[0], high[0]);
    if (wide) {
      bitvector_bytes128_word<kTables, kMissing>(steps, part[1], mixed[1], part[2], tables, low[1], high[1]);
      Bytes128::exits<2>(low, at);
      Bytes128::exits<2>(high, at + 4);
    } else {
      Bytes128::exits<1>(low, at);
      Bytes128::exits<1>(high, at + 4);
    }
  });
}

// Calls rows(kTables, kMissing) as integral constants for one row of a forest's byte
// entries: as many tables as its features need (one up to 16), and the bins of second
// columns less one only where that matters (a missing value in a forest with such splits).
template <class Rule, class Rows>
FLORESTA_ALWAYS_INLINE void with_byte_steps(const Forest<Rule>& forest, const uint16_t* bins, Rows&& rows) {
  static_assert(kBitvectorRowColumns == 64, "32 features, two tables of sixteen");
  using One = std::integral_constant<int, 1>;
  using Two = std::integral_constant<int, 2>;
  const std::size_t features = forest.quantized.features.size();
  const bool one_table = features <= 16;
  if (forest.bitvector.row_second_columns && Bytes128::missing(bins, features))
    return one_table ? rows(One{}, std::true_type{}) : rows(Two{}, std::true_type{});
  return one_table ? rows(One{}, std::false_type{}) : rows(Two{}, std::false_type{});
}

// One row of at most kBitvectorRowColumns bin columns through a forest's byte entries on
// 128-bit registers.
template <class Rule>
void bitvector_row_bytes128(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
  Bytes128::Bytes tables[2];
  Bytes128::tables(bins, forest.bitvector.row_features.data(), tables);
  with_byte_steps(forest, bins, [&](auto tables_used, auto missing) {
    bitvector_bytes128<decltype(tables_used)::value, decltype(missing)::value>(forest, tables, a);
  });
}

#if defined(__AVX2__)
// AVX2 (this header compiled in the AVX2 unit: VEX encoding): a unit's 32 lanes in one
// register; vpshufb looks up within each 128-bit half, so the tables are the 128-bit ones in
// both halves.
template <int kTables, bool kMissing>
FLORESTA_ALWAYS_INLINE __m256i bitvector_bytes_avx2_word(const uint32_t* steps, uint32_t at, uint32_t mixed, uint32_t end,
                                                         const __m256i* tables) {
  constexpr uint32_t kUnit = Bitvector<double>::kRowByteWords;
  const auto step = [&](const uint32_t* unit, auto tables_used, __m256i state) {
    const __m256i split = _mm256_load_si256(reinterpret_cast<const __m256i*>(unit));
    __m256i bins = _mm256_shuffle_epi8(tables[0], split);
    if constexpr (decltype(tables_used)::value == 2)
      bins = _mm256_blendv_epi8(bins, _mm256_shuffle_epi8(tables[1], split), _mm256_slli_epi16(split, 3));
    if constexpr (kMissing) bins = _mm256_add_epi8(bins, _mm256_cmpgt_epi8(split, _mm256_set1_epi8(31)));
    const __m256i bounds = _mm256_load_si256(reinterpret_cast<const __m256i*>(unit + (kMissing ? 8 : 24)));
    const __m256i kept = _mm256_load_si256(reinterpret_cast<const __m256i*>(unit + 16));
    return _mm256_and_si256(state, _mm256_or_si256(_mm256_cmpgt_epi8(bounds, bins), kept));
  };
  __m256i state = _mm256_set1_epi32(-1);
  for (; at < mixed; at += kUnit) state = step(steps + at, std::integral_constant<int, 1>{}, state);
  for (; at < end; at += kUnit) state = step(steps + at, std::integral_constant<int, kTables>{}, state);
  return state;
}

template <int kTables, bool kMissing, class Rule>
void bitvector_bytes_avx2(const Forest<Rule>& forest, const __m256i* tables, typename Rule::Accum* a) {
  const auto& bv = forest.bitvector;
  const bool wide = bv.row_parts == 2;
  add_row_exits(forest, a, [&](const uint32_t* steps, const uint32_t* part, const uint32_t* mixed, uint32_t* at) {
    __m256i words[2];
    words[0] = bitvector_bytes_avx2_word<kTables, kMissing>(steps, part[0], mixed[0], part[1], tables);
    if (wide) words[1] = bitvector_bytes_avx2_word<kTables, kMissing>(steps, part[1], mixed[1], part[2], tables);
    const __m256i leaf = wide ? Avx2BitvectorLanes::exits<2>(words) : Avx2BitvectorLanes::exits<1>(words);
    _mm256_store_si256(reinterpret_cast<__m256i*>(at), leaf);
  });
}

template <class Rule>
void bitvector_row_bytes_avx2(const Forest<Rule>& forest, const uint16_t* bins, typename Rule::Accum* a) {
  Bytes128::Bytes t[2];
  Bytes128::tables(bins, forest.bitvector.row_features.data(), t);
  const __m256i tables[2] = {_mm256_broadcastsi128_si256(t[0]), _mm256_broadcastsi128_si256(t[1])};
  with_byte_steps(forest, bins, [&](auto tables_used, auto missing) {
    bitvector_bytes_avx2<decltype(tables_used)::value, decltype(missing)::value>(forest, tables, a);
  });
}
#endif
#endif

}  // namespace floresta::detail::FLORESTA_ISA
