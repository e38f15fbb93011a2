// Quantization: the copy of a compiled forest whose nodes compare 16-bit bins (see
// engine/quantized.hpp), exact by construction.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_map>
#include <vector>

#include "compile/stages.hpp"
#include "engine/forest.hpp"
#include "engine/quantized.hpp"
#include "threads.hpp"

namespace floresta::detail {
namespace {

// One binned feature's split thresholds: the distinct values in ascending order, and the
// rank of each, found through an open-addressing table on the value's bits (-0.0 is read
// as 0.0, which compares equal to it). Trained models repeat few distinct thresholds many
// times (LightGBM: at most max_bin per feature), so this is faster than sorting them all.
template <class Value>
class ThresholdSet {
 public:
  explicit ThresholdSet(const std::vector<Value>& values) {
    resize(64);
    for (const Value value : values) {
      Slot& slot = find(value);
      if (slot.bits != kEmpty) continue;
      slot.bits = bits(value);
      distinct.push_back(value + Value(0));
      if (2 * distinct.size() > slots_.size()) resize(2 * slots_.size());
    }
    std::sort(distinct.begin(), distinct.end());
    for (std::size_t k = 0; k < distinct.size(); ++k) find(distinct[k]).rank = static_cast<uint32_t>(k);
  }
  // The rank of a value that was among those given.
  uint32_t rank(Value value) const { return slots_[slot_of(bits(value))].rank; }

  std::vector<Value> distinct;

 private:
  struct Slot {
    uint64_t bits;
    uint32_t rank;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // a NaN's bits: no threshold has them

  static uint64_t bits(Value value) {
    value += Value(0);  // -0.0 -> 0.0
    if constexpr (sizeof(Value) == 8) {
      uint64_t out;
      std::memcpy(&out, &value, 8);
      return out;
    } else {
      uint32_t out;
      std::memcpy(&out, &value, 4);
      return out;
    }
  }
  // The slot holding `key`, or the empty one where it would go (linear probing).
  std::size_t slot_of(uint64_t key) const {
    std::size_t i = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    while (slots_[i].bits != kEmpty && slots_[i].bits != key) i = (i + 1) & (slots_.size() - 1);
    return i;
  }
  Slot& find(Value value) { return slots_[slot_of(bits(value))]; }
  void resize(std::size_t size) {
    slots_.assign(size, Slot{kEmpty, 0});
    shift_ = 64;
    for (std::size_t s = size; s > 1; s /= 2) --shift_;
    for (const Value value : distinct) find(value).bits = bits(value);
  }

  std::vector<Slot> slots_;
  int shift_ = 64;
};

// What a categorical split sends right, per class of code (forest.hpp): listed, unlisted
// below n_bits, and invalid or at or beyond n_bits; decided by the rule itself on one-bit
// sets. Empty when invalid codes and codes beyond n_bits disagree (no rule does that).
template <class Rule>
struct CategoryClasses {
  bool listed, unlisted, beyond, valid = true;
  explicit CategoryClasses(bool default_left) {
    using Value = typename Rule::Value;
    const uint32_t listed_set[2] = {1u, 1u}, unlisted_set[2] = {1u, 0u};
    listed = !Rule::category_left(Value(0), listed_set, default_left);
    unlisted = !Rule::category_left(Value(0), unlisted_set, default_left);
    beyond = !Rule::category_left(Value(1), unlisted_set, default_left);
    valid = beyond == !Rule::category_left(Value(-2), unlisted_set, default_left);
  }
};

// The codes a categorical split tells apart from invalid ones: every code at or past the
// returned count decides as invalid codes do (those past n_bits always do).
template <class Rule>
uint32_t category_span(const uint32_t* set, const CategoryClasses<Rule>& go) {
  const uint32_t n_bits = set[0];
  if (go.listed != go.beyond && go.unlisted != go.beyond) return n_bits;
  if (go.listed == go.beyond && go.unlisted == go.beyond) return 0;
  // The last code of the class that differs: listed, or unlisted below n_bits.
  for (uint32_t w = (n_bits + 31) / 32; w-- > 0;) {
    const uint32_t inside = n_bits - 32 * w >= 32 ? ~0u : (1u << (n_bits - 32 * w)) - 1u;
    const uint32_t differs = (go.listed != go.beyond ? set[1 + w] : ~set[1 + w]) & inside;
    if (differs) return 32 * w + 32 - static_cast<uint32_t>(__builtin_clz(differs));
  }
  return 0;
}

// A categorical split's set as bins (quantized.hpp): `count` words, bit b set when bin b
// goes right, for a feature of N = `categories` (at least the split's category_span).
template <class Rule>
void category_bins(const uint32_t* set, const CategoryClasses<Rule>& go, uint32_t categories, uint32_t* words,
                   std::size_t count) {
  const uint32_t n_bits = set[0];
  for (std::size_t w = 0; w < count; ++w) {
    const std::size_t low = 32 * w;
    // Bits of this word below n_bits.
    const uint32_t inside = low >= n_bits ? 0u : (n_bits - low >= 32 ? ~0u : (1u << (n_bits - low)) - 1u);
    const uint32_t listed = inside ? set[1 + w] & inside : 0u;
    words[w] = (go.listed ? listed : 0u) | (go.unlisted ? inside & ~listed : 0u) | (go.beyond ? ~inside : 0u);
  }
  // Bins past N + 1 never occur (cleared, so that equal sets compare equal); N + 1 (missing,
  // read by splits whose default is right) goes right.
  const std::size_t last = categories + 1;
  words[last / 32] = (words[last / 32] & ((1u << (last % 32)) - 1u)) | (1u << (last % 32));
  std::fill(words + last / 32 + 1, words + count, 0u);
}

constexpr uint32_t kNone = ~0u;

// Binned features: one per (input feature, zero-is-missing) pair that some split reads (a
// feature's categorical splits are binned apart from its numeric ones), numbered in order of
// first use.
template <class Value>
struct Binning {
  std::vector<uint64_t> keys;  // per binned feature: feature << 2 | categorical << 1 | zero_missing
  std::vector<std::vector<Value>> thresholds;  // per binned feature: its numeric splits' thresholds
  std::vector<uint32_t> node_feature;          // per node: its binned feature (splits only)
};

// Bins the features the splits read; false when a split is one the quantized walk does not
// cover. Keys are looked up in a table (a hash map for huge inputs).
template <class Rule>
bool bin_features(const Forest<Rule>& forest, Binning<typename Rule::Value>& binning) {
  constexpr uint64_t kTableKeys = uint64_t{1} << 20;
  // Keys of the features the splits read (not of every declared feature): the table is
  // sized by the forest's content.
  uint32_t features_used = 0;
  for (const auto& n : forest.nodes)
    if (!n.is_leaf()) features_used = std::max(features_used, n.feature() + 1);
  const uint64_t keys = 4 * uint64_t{features_used};
  std::vector<uint32_t> table(keys <= kTableKeys ? keys : 0, kNone);
  std::unordered_map<uint64_t, uint32_t> map;
  binning.node_feature.assign(forest.nodes.size(), 0);
  for (std::size_t i = 0; i < forest.nodes.size(); ++i) {
    const auto& n = forest.nodes[i];
    if (n.is_leaf()) continue;
    const bool categorical = (n.info & kCategoricalFlag) != 0;
    // The walks test missing before a categorical split's set, so zero-is-missing does not
    // reach one; the rewrite below would not know which to take.
    if (categorical && (n.info & kZeroMissingFlag)) return false;
    if (!categorical && std::isnan(n.value)) return false;
    const uint64_t key = (uint64_t{n.feature()} << 2) | (categorical ? 2u : ((n.info & kZeroMissingFlag) ? 1u : 0u));
    uint32_t& index = table.empty() ? map.try_emplace(key, kNone).first->second : table[key];
    if (index == kNone) {
      index = static_cast<uint32_t>(binning.thresholds.size());
      binning.keys.push_back(key);
      binning.thresholds.emplace_back();
    }
    if (!categorical) binning.thresholds[index].push_back(n.value);
    binning.node_feature[i] = index;
  }
  return true;
}

// The bit of a categorical split's `info` that picks its CategoryClasses: default left or not.
inline int default_side(uint32_t info) { return (info & kDefaultLeftFlag) ? 1 : 0; }

// Per binned feature, N: the most codes a categorical split on it tells apart.
template <class Rule>
void count_categories(const Forest<Rule>& forest, const CategoryClasses<Rule> go[2], const std::vector<uint32_t>& node_feature,
                      std::vector<uint32_t>& categories) {
  for (std::size_t j = 0; j < forest.nodes.size(); ++j) {
    const auto& n = forest.nodes[j];
    if (n.is_leaf() || !(n.info & kCategoricalFlag)) continue;
    uint32_t& largest = categories[node_feature[j]];
    largest = std::max(largest, category_span(forest.category_words.data() + n.bitset, go[default_side(n.info)]));
  }
}

// The categorical splits' sets as bins in q.category_sets, `1 << shift` words apart, each
// distinct set once (an open-addressing table of set indices by content); node_set[j]: split
// j's set. False when the sets do not fit.
template <class Rule>
bool store_category_sets(const Forest<Rule>& forest, const CategoryClasses<Rule> go[2], const std::vector<uint32_t>& node_feature,
                         const std::vector<uint32_t>& categories, uint32_t shift, std::vector<uint32_t>& node_set,
                         Quantization<typename Rule::Value>& q) {
  const std::size_t set_words = std::size_t{1} << shift;
  std::size_t splits = 0;
  for (const auto& n : forest.nodes) splits += !n.is_leaf() && (n.info & kCategoricalFlag);
  std::size_t slots = 64;
  while (slots < 2 * splits) slots *= 2;
  std::vector<uint32_t> table_of_sets(slots, kNone);
  node_set.assign(forest.nodes.size(), 0);
  std::vector<uint32_t> words(set_words);
  for (std::size_t j = 0; j < forest.nodes.size(); ++j) {
    const auto& n = forest.nodes[j];
    if (n.is_leaf() || !(n.info & kCategoricalFlag)) continue;
    category_bins<Rule>(forest.category_words.data() + n.bitset, go[default_side(n.info)], categories[node_feature[j]], words.data(),
                        set_words);
    uint64_t hash = 0;
    for (const uint32_t w : words) hash = (hash ^ w) * 0x9E3779B97F4A7C15ull;
    std::size_t slot = static_cast<std::size_t>(hash >> 32) & (slots - 1);
    while (table_of_sets[slot] != kNone &&
           !std::equal(words.begin(), words.end(), q.category_sets.begin() + (std::ptrdiff_t{table_of_sets[slot]} << shift)))
      slot = (slot + 1) & (slots - 1);
    if (table_of_sets[slot] == kNone) {
      const std::size_t index = q.category_sets.size() >> shift;
      // The vector walks gather set words with signed 32-bit indices: every word below 2^31.
      if (index >= kMaxQuantizedSets || ((index + 1) << shift) > (std::size_t{1} << 31)) return false;
      table_of_sets[slot] = static_cast<uint32_t>(index);
      q.category_sets.insert(q.category_sets.end(), words.begin(), words.end());
    }
    node_set[j] = table_of_sets[slot];
  }
  return true;
}

// Categorical splits: `categories` (per binned feature, N when categorical), their sets as
// bins, and node_set (per node, its set's index). False when the rule or the sets do not
// fit the quantized walk.
template <class Rule>
bool quantize_category_sets(const Forest<Rule>& forest, const std::vector<uint32_t>& node_feature, std::vector<uint32_t>& categories,
                            std::vector<uint32_t>& node_set, Quantization<typename Rule::Value>& q) {
  const CategoryClasses<Rule> go[2] = {CategoryClasses<Rule>(false), CategoryClasses<Rule>(true)};
  // Missing values in a default-left split's column take bin N, which must then go left.
  if (!go[0].valid || !go[1].valid || go[1].beyond) return false;
  count_categories(forest, go, node_feature, categories);
  uint32_t largest = 0;
  for (const uint32_t n_categories : categories) largest = std::max(largest, n_categories);
  if (largest > kMaxQuantizedCategories) return false;
  uint32_t shift = 0;
  while ((std::size_t{32} << shift) < std::size_t{largest} + 2) ++shift;
  if (!store_category_sets(forest, go, node_feature, categories, shift, node_set, q)) return false;
  q.set_shift = shift;
  q.has_categorical = true;
  return true;
}

// Each binned feature's distinct thresholds, found on n_threads.
template <class Value>
std::vector<std::unique_ptr<ThresholdSet<Value>>> threshold_sets(const std::vector<std::vector<Value>>& thresholds, int n_threads) {
  std::vector<std::unique_ptr<ThresholdSet<Value>>> sets(thresholds.size());
  parallel_for(thresholds.size(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) sets[i] = std::make_unique<ThresholdSet<Value>>(thresholds[i]);
  }, 1);
  return sets;
}

// q.features with their thresholds and search keys; false when a feature has more
// thresholds than 16-bit bins hold.
template <class Value>
bool describe_features(const std::vector<uint64_t>& keys, const std::vector<std::unique_ptr<ThresholdSet<Value>>>& sets,
                       const std::vector<uint32_t>& categories, Quantization<Value>& q) {
  q.features.resize(sets.size());
  for (std::size_t i = 0; i < sets.size(); ++i) {
    const std::vector<Value>& t = sets[i]->distinct;
    if (t.size() + 1 >= kMissingRight) return false;
    auto& f = q.features[i];
    f.feature = static_cast<uint32_t>(keys[i] >> 2);
    f.zero_missing = static_cast<uint32_t>(keys[i] & 1u);
    f.categorical = static_cast<uint32_t>((keys[i] >> 1) & 1u);
    f.categories = categories[i];
    f.begin = static_cast<uint32_t>(q.thresholds.size());
    q.thresholds.insert(q.thresholds.end(), t.begin(), t.end());
    f.end = static_cast<uint32_t>(q.thresholds.size());
    f.keys = static_cast<uint32_t>(q.keys.size());
    for (std::size_t k = Quantization<Value>::kKeyBlock; k <= t.size(); k += Quantization<Value>::kKeyBlock)
      q.keys.push_back(t[k - 1]);
  }
  q.width = static_cast<uint32_t>(2 * sets.size() + 1);
  const std::size_t padded = (sets.size() + kQuantizedLanes - 1) / kQuantizedLanes * kQuantizedLanes;
  q.search_begin.assign(padded, 0u);
  q.search_count.assign(padded, 0u);
  q.search_zero_missing.assign(padded, 0u);
  uint32_t most = 0;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    const auto& f = q.features[i];
    if (f.categorical) continue;
    q.search_begin[i] = f.begin;
    q.search_count[i] = f.end - f.begin;
    q.search_zero_missing[i] = f.zero_missing;
    most = std::max(most, f.end - f.begin);
  }
  q.search_step = 0;
  for (uint32_t step = 1; step <= most; step *= 2) q.search_step = step;
  return true;
}

// q.nodes: every node of the forest as its bin comparison, on n_threads.
template <class Rule>
void quantize_nodes(const Forest<Rule>& forest, const std::vector<uint32_t>& node_feature, const std::vector<uint32_t>& node_set,
                    const std::vector<std::unique_ptr<ThresholdSet<typename Rule::Value>>>& sets, Quantization<typename Rule::Value>& q,
                    int n_threads) {
  const auto leaf_column = static_cast<uint16_t>(2 * sets.size());
  q.nodes.resize(forest.nodes.size());
  parallel_for(forest.nodes.size(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t j = begin; j < end; ++j) {
      const auto& n = forest.nodes[j];
      if (n.is_leaf()) {
        q.nodes[j] = {leaf_column, 0, ~0u};
        continue;
      }
      const uint32_t i = node_feature[j];
      const auto column = static_cast<uint16_t>(2 * i + ((n.info & kDefaultLeftFlag) ? 0 : 1));
      if (n.info & kCategoricalFlag) {
        const uint32_t word = column | kQuantizedCategorical | (node_set[j] << kQuantizedSetShift);
        q.nodes[j] = {static_cast<uint16_t>(word), static_cast<uint16_t>(word >> 16), n.right - 1};
        continue;
      }
      const std::size_t k = sets[i]->rank(n.value);
      q.nodes[j] = {column, static_cast<uint16_t>(k + 1), n.right - 1};
    }
  }, kMinRowsPerThread * 16);
}

// Tree t's breadth-first table of its first `levels` levels (Quantization::top) into
// `table`, 2^(levels + 1) words.
template <class Rule>
void fill_table(const Forest<Rule>& forest, const Quantization<typename Rule::Value>& q, std::size_t t, int levels,
                uint32_t* table) {
  const std::size_t splits = (std::size_t{1} << levels) - 1;
  uint32_t slot_node[2 * ((std::size_t{1} << kRowTopLevels) - 1) + 1];
  slot_node[0] = forest.tree_begin[t];
  for (std::size_t s = 0; s < splits; ++s) {
    const uint32_t at = slot_node[s];
    const QuantizedNode& n = q.nodes[at];
    table[s] = n.word();
    const bool leaf = n.skip == ~0u;
    slot_node[2 * s + 1] = leaf ? at : at + 1;
    slot_node[2 * s + 2] = leaf ? at : at + n.skip + 1;
  }
  table[splits] = 0;
  for (std::size_t s = 0; s <= splits; ++s) {
    const uint32_t at = slot_node[splits + s];
    table[splits + 1 + s] = at | (q.nodes[at].skip == ~0u ? kTopLeafFlag : 0u);
  }
}

// q.top and q.row_top: breadth-first tables of the first kTopLevels and kRowTopLevels
// levels of every tree, on n_threads; q.top_front from q.top.
template <class Rule>
void build_top_tables(const Forest<Rule>& forest, Quantization<typename Rule::Value>& q, int n_threads) {
  using Value = typename Rule::Value;
  static_assert(kTopWords == std::size_t{2} << kTopLevels && kRowTopWords == std::size_t{2} << kRowTopLevels,
                "a table holds its split words, one unused word and the next level's node indices");
  q.top.assign(forest.num_trees() * kTopWords, 0u);
  q.row_top.assign(forest.num_trees() * kRowTopWords, 0u);
  parallel_for(forest.num_trees(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      fill_table(forest, q, t, kTopLevels, q.top.data() + Quantization<Value>::top_offset(t));
      fill_table(forest, q, t, kRowTopLevels, q.row_top.data() + Quantization<Value>::row_top_offset(t));
    }
  }, kMinTreesPerThread);
  const std::size_t trees = forest.num_trees(), blocks = (trees + kQuantizedLanes - 1) / kQuantizedLanes;
  q.top_front.assign(blocks * kTopFrontSlots * kQuantizedLanes, 0u);
  for (std::size_t b = 0; b < blocks; ++b)
    for (std::size_t s = 0; s < kTopFrontSlots; ++s)
      for (std::size_t j = 0; j < kQuantizedLanes; ++j) {
        const std::size_t t = b * kQuantizedLanes + j < trees ? b * kQuantizedLanes + j : b * kQuantizedLanes;
        q.top_front[(b * kTopFrontSlots + s) * kQuantizedLanes + j] = q.top[Quantization<Value>::top_offset(t) + s];
      }
}

}  // namespace

// Builds the quantized copy of a compiled forest (see quantized.hpp), or leaves it empty
// when the forest has splits or leaves the quantized walk does not cover, or bins that do
// not fit in 16 bits. Threshold sets, nodes and top tables are built on n_threads.
template <class Rule>
void quantize(Forest<Rule>& forest, int n_threads) {
  using Value = typename Rule::Value;
  if (forest.has_linear || forest.leaf_width != 1) return;
  Binning<Value> binning;
  if (!bin_features(forest, binning)) return;
  if (2 * binning.thresholds.size() + 1 > kMaxQuantizedColumns) return;
  std::vector<uint32_t> categories(binning.thresholds.size(), 0);  // per binned feature: N when categorical
  std::vector<uint32_t> node_set;                                   // per node: its set's index (categorical splits only)
  Quantization<Value> q;
  if (forest.has_categorical && !quantize_category_sets(forest, binning.node_feature, categories, node_set, q)) return;
  const auto sets = threshold_sets(binning.thresholds, n_threads);
  if (!describe_features(binning.keys, sets, categories, q)) return;
  quantize_nodes(forest, binning.node_feature, node_set, sets, q, n_threads);
  build_top_tables(forest, q, n_threads);
  forest.quantized = std::move(q);
}

template void quantize(Forest<XGBoostRule>&, int);
template void quantize(Forest<LightGBMRule>&, int);
template void quantize(Forest<SkLearnHistRule>&, int);
template void quantize(Forest<SkLearnTreeRule>&, int);

}  // namespace floresta::detail
