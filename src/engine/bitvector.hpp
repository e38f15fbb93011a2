// src/engine/bitvector.hpp — a quantized forest as bitvectors (the QuickScorer family:
// Lucchese et al., SIGIR 2015; V-QuickScorer, SIGIR 2016; RapidScorer, KDD 2018): scored
// without walking a tree.
//
// A tree's leaves, numbered left to right, are the bits of a word (of up to 64 bits: forests
// with a bigger tree get no bitvectors). A split is "false" for a row when the row goes
// right; it then clears the leaves of its left subtree. What is left of a tree's word once a row's false splits have
// cleared theirs keeps the row's exit leaf as its lowest set bit: a false split on the path
// sent the row right, past its left subtree, and a leaf left of the exit leaf is in the left
// subtree of the split where the two paths part, which sent the row right. floresta stores
// trees in pre-order, left child next, so the k-th leaf in node order is the k-th from the
// left.
//
// The tests are the quantized walk's (quantized.hpp): a split reads the bin column of its
// default direction and goes right iff bin > bound (categorical splits: iff the bin's bit
// is set in the split's set), so missing values need nothing of their own (bin 0 in the
// first column, 0xFFFF in the second).
//
// QuickScorer visits splits feature by feature, so that a row reads only its false ones;
// with sixteen rows in vector lanes nearly every split is false for one of them, and its
// leaf words then live in memory, a load and a store per split. Here a tree's splits are
// listed together instead, so that sixteen rows' words of a tree stay in a register while
// every split of the tree is compared with their bins (one compare, one masked AND-NOT), and
// the exit leaves are read before the next tree: no stores, and trees in file order.
//
// The scoring steps work on words of the kernel's width (Kernel::bitvector_word_bits: 32 bits
// with AVX2 and AVX-512, 16 with the portable kernel, whose SSE2 or NEON lanes compare 16-bit
// bins as they are), so a tree's word is kept as `parts` words of that width, word p holding
// leaves [p w, p w + w). A split clears the leaves of one subtree, a contiguous run, so
// nearly every split clears leaves of one word only and is listed for that word (the few
// whose left subtree crosses a word's edge are listed for each word they clear): a tree of
// 64 leaves costs one narrow operation per split, not two or four.
//
// Built by compile (compile/bitvector.cpp) from Forest::quantized; immutable after.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "engine/quantized.hpp"

namespace floresta::detail {

// An allocator of kAlign-byte aligned storage.
template <class T, std::size_t kAlign>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kAlign})); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{kAlign}); }
  template <class U>
  bool operator==(const AlignedAllocator<U, kAlign>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U, kAlign>&) const noexcept { return false; }
};

constexpr std::size_t kBitvectorMaxLeaves = 64;
// Bin columns a single-row layout's step holds in registers (bitvector_lanes.hpp).
constexpr std::size_t kBitvectorRowColumns = 64;

// The single-row layouts, one per vector unit (Kernel::bitvector_rows; Bitvector::row_steps
// says how each is laid out): none (portable on x86 without SSE4), pairs of steps of sixteen
// trees with 16-bit bins (AVX-512), and byte entries of eight trees with byte bins (AVX2, and
// the 128-bit units: sse4, portable on 64-bit ARM).
enum class BitvectorRows : uint32_t { kNone, kPairs, kBytes };
// The most thresholds a feature may have for byte bins: its bins are then 0 .. 255 (a missing
// value's 0xFFFF read as 255, right of every bound), bounds below 255.
constexpr uint32_t kBitvectorByteThresholds = 254;

// What decides between the bitvector plan and the quantized walk for batches (plan.hpp,
// bitvector_preferred), per row of a forest: its trees; the leaf words its splits clear for
// every sixteen rows, in 32-bit words (a split listed for two words counts twice; a 16-bit
// word a half); and the quantized walk's steps (a unit per level of a row's path, half a
// unit more per level past its tables).
struct BitvectorCost {
  double trees = 0;
  double words = 0;
  double steps = 0;
};

// One split: its quantized node's first word (column | bound << 16, or on categorical
// splits column | kQuantizedCategorical | set index << kQuantizedSetShift) and the leaves
// it clears when false.
template <class Word>
struct BitvectorSplit {
  uint32_t word;
  Word cleared;
};

template <class Value>
struct Bitvector {
  uint32_t word_bits = 32;  // the kernel's word width, 16 or 32
  uint32_t parts = 1;       // words per tree: the forest's most leaves / word_bits, rounded up
  // Per tree and word of it (index tree * parts + word), and one past the last: the splits
  // that clear leaves of that word, in `splits`, `cleared` shifted to the word's first leaf.
  std::vector<uint32_t> split_begin;
  std::vector<BitvectorSplit<uint32_t>> splits;
  std::vector<uint32_t> leaf_begin;  // per tree: its first leaf in leaf_values
  std::vector<Value> leaf_values;    // every tree's leaves, left to right
  // Single rows (32-bit words, row_parts a tree; built only when row_preferred), in the
  // layout `rows`, trees a vector lane each, each word of them in turn (part b * row_parts +
  // p: block of trees b, word p, from row_steps[row_begin[b * row_parts + p]]). Trees with fewer splits than the part's
  // most, and a last unit's missing steps, are padded with splits that clear nothing.
  //  - kPairs (AVX-512): sixteen trees a block, two steps a unit of kRowPairWords words: the
  //    16-bit bin columns of steps 2k and 2k + 1 (lane i: tree i of step 2k; lane 16 + i: of
  //    step 2k + 1; 32 uint16 in 16 words), their bounds alike, then the leaves each clears
  //    when false (16 words a step).
  //  - kBytes (AVX2 in one register, SSE4 and NEON in two halves; bitvector_bytes.hpp): byte
  //    entries. Eight trees a block; lane 4 i + k (tree i, byte k of its word: the lanes of a
  //    32-bit word are its tree's) lists the splits whose cleared leaves touch byte k, one a
  //    unit, so that a split touching one byte of its tree's word (most do: the deep ones
  //    clear few leaves) costs one byte lane, not four. A unit of kRowByteWords words: the 32
  //    lanes' bin columns as bytes (bytes 0-31: column 2 f + r as p | r << 5, p the feature's
  //    position in the row's tables), their bounds + 1 - r (bytes 32-63), byte k of the
  //    leaves each keeps (bytes 64-95), and their bounds + 1 (bytes 96-127), bounds as bytes
  //    ^ 0x80 (signed compares). A step tests bin < bound + 1 (true: all kept) and keeps a
  //    running AND of (true OR kept), which is the trees' words at the end. The steps read
  //    only the first columns' bins b (0 for a missing value, else 1 .. 255): rows with a
  //    missing value compare b - r (wrapping) with bytes 32-63, so that a missing value's
  //    0 - 1 = 255 goes right of a second column's split (r = 1) and a present one's b - 1
  //    < bound as b < bound + 1; rows without one (both columns agree) compare b with bytes
  //    96-127. A lane's list ends with the part's last unit (shorter ones start with padding:
  //    all kept), and its splits on second-table features come last, so that the units
  //    before `row_mixed` read the first table only; the sixteen features split on most are
  //    the first table (`row_features`: the feature at each of the 32 positions).
  //    `row_second_columns` says whether any split reads a second column: without one, rows
  //    with a missing value take bytes 96-127 too. Only forests whose features have at most
  //    kBitvectorByteThresholds thresholds.
  static constexpr std::size_t kRowPairWords = 64;
  static constexpr std::size_t kRowByteWords = 32;
  BitvectorRows rows = BitvectorRows::kNone;
  uint32_t row_parts = 1;  // 32-bit words per tree in the row layout (`parts` when word_bits is 32)
  std::vector<uint32_t> row_begin;  // per part, and one past the last
  std::vector<uint32_t> row_mixed;  // kBytes: per part, where its units that may read the second table begin
  std::array<uint8_t, 32> row_features{};  // kBytes: the feature at each position of the row's two tables
  bool row_second_columns = true;          // kBytes: some split reads a second bin column
  // 64-byte aligned (units are 256 or 128 bytes): the byte entries' steps read it with
  // aligned loads, which SSE folds into its operations (bitvector_bytes.hpp).
  std::vector<uint32_t, AlignedAllocator<uint32_t, 64>> row_steps;
  BitvectorCost cost;  // the choice of plan for batches (compile/bitvector.cpp)
  // Single rows: the row layout `rows` built (numeric splits, at most kBitvectorRowColumns
  // bin columns), expected faster than the quantized row walk.
  bool row_preferred = false;

  bool empty() const { return leaf_begin.empty(); }
  // A tree of more than 32 leaves (plan.hpp's bitvector_preferred).
  bool wide() const { return parts * word_bits > 32; }
};

}  // namespace floresta::detail
