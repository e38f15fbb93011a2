// src/engine/bitvector.hpp — a quantized forest as bitvectors (the QuickScorer family:
// Lucchese et al., SIGIR 2015; V-QuickScorer, SIGIR 2016; RapidScorer, KDD 2018): scored
// without walking a tree.
//
// A tree's leaves, numbered left to right, are the bits of a word (32 bits when every tree
// of the forest has at most 32 leaves, else 64; forests with a bigger tree get no
// bitvectors). A split is "false" for a row when the row goes right; it then clears the
// leaves of its left subtree. What is left of a tree's word once a row's false splits have
// cleared theirs keeps the row's exit leaf as its lowest set bit: a false split on the path
// sent the row right, past its left subtree, and a leaf left of the exit leaf is in the left
// subtree of the split where the two paths part, which sent the row right. floresta stores
// trees in pre-order, left child next, so the k-th leaf in node order is the k-th from the
// left.
//
// The tests are the quantized walk's (quantized.hpp): a split reads the bin column of its
// default direction and goes right iff bin > bound, so missing values need no list of their
// own (bin 0 in the first column, 0xFFFF in the second). Per bin column, a block's splits are
// grouped by bound, ascending (RapidScorer's equivalent nodes: one comparison serves every
// tree that splits there; floresta's bins make equal bounds equal thresholds), and within a
// bound one entry per tree, the leaves its splits there clear. A categorical column has a
// list per bin instead: per tree, the leaves cleared by its categorical splits on that column
// that send the bin right.
//
// Trees are cut into blocks (kBitvectorStateBytes of leaf words for kBitvectorRows rows stay
// in L1); every block keeps its own lists, and blocks follow file order, so a row still adds
// its trees' leaves in the training library's order (plans/bitvector.hpp).
//
// Built by compile (compile/bitvector.cpp) from Forest::quantized; immutable after.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/quantized.hpp"

namespace floresta::detail {

constexpr std::size_t kBitvectorMaxLeaves = 64;
constexpr std::size_t kBitvectorRows = 128;          // rows a batch pass scores against one block of trees
constexpr std::size_t kBitvectorStateBytes = 32768;  // per block: kBitvectorRows rows' leaf words of every tree

// One tree's split(s) at one bound of a column: the tree (within its block) and the leaves
// they clear when false.
template <class Word>
struct BitvectorEntry {
  uint32_t tree;
  Word cleared;
};

// A bound of a numeric column: its entries are [first, the next bound's first).
struct BitvectorBound {
  uint32_t bound;
  uint32_t first;
};

template <class Value>
struct Bitvector {
  // A bin column that some split of a block reads.
  struct Column {
    uint32_t column;       // bin column (quantized.hpp)
    uint32_t categorical;  // 1: a list per bin; 0: bounds
    // Numeric: bounds [begin, end) in `bounds`, then one more whose `first` ends the last.
    // Categorical: bin b's entries are [lists[begin + b], lists[begin + b + 1]), b <= end.
    uint32_t begin, end;
  };
  struct Block {
    uint32_t tree_begin, tree_end;        // trees [tree_begin, tree_end) of the forest
    uint32_t column_begin, column_end;    // its columns in `columns`
  };
  std::vector<Block> blocks;
  std::vector<Column> columns;
  std::vector<BitvectorBound> bounds;
  std::vector<uint32_t> lists;                      // categorical columns' lists, see Column
  std::vector<BitvectorEntry<uint32_t>> entries32;  // narrow forests (at most 32 leaves a tree)
  std::vector<BitvectorEntry<uint64_t>> entries64;  // wide forests
  std::vector<uint32_t> leaf_begin;                 // per tree: its first leaf in leaf_values
  std::vector<Value> leaf_values;                   // every tree's leaves, left to right
  bool wide = false;

  bool empty() const { return blocks.empty(); }
  // Trees a block holds: kBitvectorRows rows' words of each within kBitvectorStateBytes.
  std::size_t block_trees() const { return kBitvectorStateBytes / (kBitvectorRows * (wide ? 8 : 4)); }
};

}  // namespace floresta::detail
