// Quantization: the copy of a compiled forest whose nodes compare 16-bit bins (see
// engine/quantized.hpp), exact by construction.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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

}  // namespace

// Builds the quantized copy of a compiled forest (see quantized.hpp), or leaves it empty
// when the forest has splits or leaves the quantized walk does not cover, or bins that do
// not fit in 16 bits. Threshold sets, nodes and top tables are built on n_threads.
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

template <class Rule>
void quantize(Forest<Rule>& forest, int n_threads) {
  using Value = typename Rule::Value;
  if (forest.has_linear || forest.leaf_width != 1) return;
  // Binned features: one per (input feature, zero-is-missing) pair that some split reads,
  // numbered in order of first use; looked up in a table (a hash map for huge inputs).
  constexpr uint64_t kTableKeys = uint64_t{1} << 20;
  // Keys of the features the splits read (not of every declared feature): the table is
  // sized by the forest's content.
  uint32_t features_used = 0;
  for (const auto& n : forest.nodes)
    if (!n.is_leaf()) features_used = std::max(features_used, n.feature() + 1);
  const uint64_t keys = 4 * uint64_t{features_used};  // key: feature << 2 | categorical << 1 | zero_missing
  constexpr uint32_t kNone = ~0u;
  std::vector<uint32_t> table(keys <= kTableKeys ? keys : 0, kNone);
  std::unordered_map<uint64_t, uint32_t> map;
  std::vector<uint64_t> binned;  // key of each binned feature
  std::vector<std::vector<Value>> thresholds;
  std::vector<uint32_t> node_feature(forest.nodes.size());  // each split's binned feature
  for (std::size_t i = 0; i < forest.nodes.size(); ++i) {
    const auto& n = forest.nodes[i];
    if (n.is_leaf()) continue;
    const bool categorical = (n.info & kCategoricalFlag) != 0;
    // The walks test missing before a categorical split's set, so zero-is-missing does not
    // reach one; the rewrite below would not know which to take.
    if (categorical && (n.info & kZeroMissingFlag)) return;
    if (!categorical && std::isnan(n.value)) return;
    // A feature's categorical splits are binned apart from its numeric ones.
    const uint64_t key = (uint64_t{n.feature()} << 2) | (categorical ? 2u : ((n.info & kZeroMissingFlag) ? 1u : 0u));
    uint32_t& index = table.empty() ? map.try_emplace(key, kNone).first->second : table[key];
    if (index == kNone) {
      index = static_cast<uint32_t>(thresholds.size());
      binned.push_back(key);
      thresholds.emplace_back();
    }
    if (!categorical) thresholds[index].push_back(n.value);
    node_feature[i] = index;
  }
  if (2 * thresholds.size() + 1 > kMaxQuantizedColumns) return;
  std::vector<uint32_t> categories(thresholds.size(), 0);  // per binned feature: N when categorical
  // Categorical splits: their sets as bins, deduplicated, `set_words` words apart.
  Quantization<Value> q;
  std::vector<uint32_t> node_set;  // per node: its set's index (categorical splits only)
  if (forest.has_categorical) {
    const CategoryClasses<Rule> go[2] = {CategoryClasses<Rule>(false), CategoryClasses<Rule>(true)};
    // Missing values in a default-left split's column take bin N, which must then go left.
    if (!go[0].valid || !go[1].valid || go[1].beyond) return;
    std::fill(categories.begin(), categories.end(), 0u);
    for (std::size_t j = 0; j < forest.nodes.size(); ++j) {
      const auto& n = forest.nodes[j];
      if (n.is_leaf() || !(n.info & kCategoricalFlag)) continue;
      uint32_t& largest = categories[node_feature[j]];
      largest = std::max(largest, category_span(forest.category_words.data() + n.bitset, go[(n.info & kDefaultLeftFlag) ? 1 : 0]));
    }
    uint32_t largest = 0;
    for (const uint32_t n_categories : categories) largest = std::max(largest, n_categories);
    if (largest > kMaxQuantizedCategories) return;
    uint32_t shift = 0;
    while ((std::size_t{32} << shift) < std::size_t{largest} + 2) ++shift;
    const std::size_t set_words = std::size_t{1} << shift;
    // Equal sets are stored once: an open-addressing table of set indices by content.
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
      category_bins<Rule>(forest.category_words.data() + n.bitset, go[(n.info & kDefaultLeftFlag) ? 1 : 0],
                          categories[node_feature[j]], words.data(), set_words);
      uint64_t hash = 0;
      for (const uint32_t w : words) hash = (hash ^ w) * 0x9E3779B97F4A7C15ull;
      std::size_t slot = static_cast<std::size_t>(hash >> 32) & (slots - 1);
      while (table_of_sets[slot] != kNone &&
             !std::equal(words.begin(), words.end(), q.category_sets.begin() + (std::ptrdiff_t{table_of_sets[slot]} << shift)))
        slot = (slot + 1) & (slots - 1);
      if (table_of_sets[slot] == kNone) {
        const std::size_t index = q.category_sets.size() >> shift;
        // The vector walks gather set words with signed 32-bit indices: every word below 2^31.
        if (index >= kMaxQuantizedSets || ((index + 1) << shift) > (std::size_t{1} << 31)) return;
        table_of_sets[slot] = static_cast<uint32_t>(index);
        q.category_sets.insert(q.category_sets.end(), words.begin(), words.end());
      }
      node_set[j] = table_of_sets[slot];
    }
    q.set_shift = shift;
    q.has_categorical = true;
  }
  std::vector<std::unique_ptr<ThresholdSet<Value>>> sets(thresholds.size());
  parallel_for(thresholds.size(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) sets[i] = std::make_unique<ThresholdSet<Value>>(thresholds[i]);
  }, 1);
  q.features.resize(thresholds.size());
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    const std::vector<Value>& t = sets[i]->distinct;
    if (t.size() + 1 >= kMissingRight) return;
    auto& f = q.features[i];
    f.feature = static_cast<uint32_t>(binned[i] >> 2);
    f.zero_missing = static_cast<uint32_t>(binned[i] & 1u);
    f.categorical = static_cast<uint32_t>((binned[i] >> 1) & 1u);
    f.categories = categories[i];
    f.begin = static_cast<uint32_t>(q.thresholds.size());
    q.thresholds.insert(q.thresholds.end(), t.begin(), t.end());
    f.end = static_cast<uint32_t>(q.thresholds.size());
    f.keys = static_cast<uint32_t>(q.keys.size());
    for (std::size_t k = Quantization<Value>::kKeyBlock; k <= t.size(); k += Quantization<Value>::kKeyBlock)
      q.keys.push_back(t[k - 1]);
  }
  q.width = static_cast<uint32_t>(2 * thresholds.size() + 1);
  const auto leaf_column = static_cast<uint16_t>(2 * thresholds.size());
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
  // Breadth-first tables of the first kTopLevels levels of every tree.
  q.top.assign(forest.num_trees() * kTopWords, 0u);
  parallel_for(forest.num_trees(), n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t first = Quantization<Value>::top_offset(t);
      constexpr std::size_t kSplits = (std::size_t{1} << kTopLevels) - 1;
      uint32_t slot_node[2 * kSplits + 1];
      slot_node[0] = forest.tree_begin[t];
      for (std::size_t s = 0; s < kSplits; ++s) {
        const uint32_t at = slot_node[s];
        const QuantizedNode& n = q.nodes[at];
        q.top[first + s] = n.word();
        const bool leaf = n.skip == ~0u;
        slot_node[2 * s + 1] = leaf ? at : at + 1;
        slot_node[2 * s + 2] = leaf ? at : at + n.skip + 1;
      }
      for (std::size_t s = 0; s <= kSplits; ++s) {
        const uint32_t at = slot_node[kSplits + s];
        q.top[first + kSplits + 1 + s] = at | (q.nodes[at].skip == ~0u ? kTopLeafFlag : 0u);
      }
    }
  }, kMinTreesPerThread);
  forest.quantized = std::move(q);
}

template void quantize(Forest<XGBoostRule>&, int);
template void quantize(Forest<LightGBMRule>&, int);
template void quantize(Forest<SkLearnHistRule>&, int);
template void quantize(Forest<SkLearnTreeRule>&, int);

}  // namespace floresta::detail
