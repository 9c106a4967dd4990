#pragma once
// OpenTable: the L1's hash tables (ReplyCache's entry and index shards), kept apart from the
// cache so that the probing, the backward-shift erase and the sampling are tested on their own.
// Thread safety: none; each shard's mutex guards its table.
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace seawall::cache {

// A hash table of Values by 64-bit hash: open addressing with linear probing, the hashes in one
// array and each slot's Value at the same index in another. A probe scans 8-byte hashes (eight
// per cache line) while the home slot's Value is prefetched, so finding a value costs about one
// cache miss, where a node-based map chases bucket and node (and, for entries, an LRU list's
// neighbours). Equal hashes may hold several values; find's `match` tells them apart.
template <typename Value>
class OpenTable {
 public:
  static constexpr std::size_t kNone = ~std::size_t{0};

  OpenTable() { reset(); }

  std::size_t size() const noexcept { return size_; }
  Value& at(std::size_t slot) noexcept { return values_[slot]; }

  // The slot holding this hash whose Value satisfies `match`, or kNone.
  template <typename Match>
  std::size_t find(std::uint64_t hash, Match&& match) const noexcept {
    hash = stored(hash);
    std::size_t i = home(hash);
    __builtin_prefetch(&values_[i]);
    for (;; i = (i + 1) & mask_) {
      if (hashes_[i] == kEmpty) {
        return kNone;
      }
      if (hashes_[i] == hash && match(values_[i])) {
        return i;
      }
    }
  }

  // Starts loading the home slot of `hash` (its hash and Value) without the shard's lock, from any
  // thread: the table's address and size come from relaxed atomics that a concurrent grow may
  // change meanwhile, which at worst prefetches a line of the old arrays (or none that is mapped:
  // a prefetch never faults).
  void prefetch(std::uint64_t hash) const noexcept {
    const std::uintptr_t i = home_at(stored(hash), hint_shift_.load(std::memory_order_relaxed));
    __builtin_prefetch(reinterpret_cast<const void*>(hint_hashes_.load(std::memory_order_relaxed) +
                                                     i * sizeof(std::uint64_t)));
    __builtin_prefetch(reinterpret_cast<const void*>(hint_values_.load(std::memory_order_relaxed) +
                                                     i * sizeof(Value)));
  }

  void insert(std::uint64_t hash, Value value) {
    if ((size_ + 1) * 4 > (mask_ + 1) * 3) {
      grow();
    }
    place(hash, std::move(value));
    ++size_;
  }

  // Empties `slot`, shifting later slots of its probe run back so that no tombstone is left.
  void erase(std::size_t hole) noexcept {
    for (std::size_t next = (hole + 1) & mask_; hashes_[next] != kEmpty;
         next = (next + 1) & mask_) {
      const std::size_t want = home(hashes_[next]);
      // The slot at `next` may move into the hole unless its home lies cyclically in
      // (hole, next]: the hole would then come before its home, where a probe never looks.
      const bool stays =
          hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
      if (!stays) {
        hashes_[hole] = hashes_[next];
        values_[hole] = std::move(values_[next]);
        hole = next;
      }
    }
    hashes_[hole] = kEmpty;
    values_[hole] = Value{};
    --size_;
  }

  // The slot with the least `rank(hash, value)` among up to `samples` values, scanning from slot
  // `start`: the exact minimum while the table holds at most `samples` values, a sample's beyond.
  template <typename Rank>
  std::size_t least_of_sample(std::size_t start, std::size_t samples, Rank&& rank) const noexcept {
    std::size_t best = kNone;
    decltype(rank(std::uint64_t{}, values_[0])) best_rank{};
    std::size_t seen = 0;
    for (std::size_t n = 0, i = start & mask_; n <= mask_ && seen < samples;
         ++n, i = (i + 1) & mask_) {
      if (hashes_[i] == kEmpty) {
        continue;
      }
      ++seen;
      const auto r = rank(hashes_[i], values_[i]);
      if (best == kNone || r < best_rank) {
        best = i;
        best_rank = r;
      }
    }
    return best;
  }

  template <typename F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < values_.size(); ++i) {
      if (hashes_[i] != kEmpty) {
        f(values_[i]);
      }
    }
  }

  void reset() {
    hashes_.assign(kInitialSlots, kEmpty);
    values_.assign(kInitialSlots, Value{});
    mask_ = kInitialSlots - 1;
    shift_ = 64 - std::countr_zero(kInitialSlots);
    size_ = 0;
    publish_hints();
  }

 private:
  static constexpr std::size_t kInitialSlots = 16;
  static constexpr std::uint64_t kEmpty = 0;

  // A hash as held in hashes_: 0 marks an empty slot, so a hash of 0 is held as 1 (and the two
  // then collide like any two equal hashes).
  static std::uint64_t stored(std::uint64_t hash) noexcept { return hash == kEmpty ? 1 : hash; }

  // Fibonacci hashing takes the top bits: the low bits of the hash picked the shard already.
  static std::size_t home_at(std::uint64_t hash, int shift) noexcept {
    return static_cast<std::size_t>((hash * 0x9e3779b97f4a7c15ull) >> shift);
  }
  std::size_t home(std::uint64_t hash) const noexcept { return home_at(hash, shift_); }
  void publish_hints() noexcept {
    hint_hashes_.store(reinterpret_cast<std::uintptr_t>(hashes_.data()), std::memory_order_relaxed);
    hint_values_.store(reinterpret_cast<std::uintptr_t>(values_.data()), std::memory_order_relaxed);
    hint_shift_.store(shift_, std::memory_order_relaxed);
  }
  void place(std::uint64_t hash, Value&& value) noexcept {
    hash = stored(hash);
    std::size_t i = home(hash);
    while (hashes_[i] != kEmpty) {
      i = (i + 1) & mask_;
    }
    hashes_[i] = hash;
    values_[i] = std::move(value);
  }
  void grow() {
    std::vector<std::uint64_t> old_hashes = std::move(hashes_);
    std::vector<Value> old_values = std::move(values_);
    const std::size_t slots = old_values.size() * 2;
    hashes_.assign(slots, kEmpty);
    values_.assign(slots, Value{});
    mask_ = slots - 1;
    shift_ = 64 - std::countr_zero(slots);
    for (std::size_t i = 0; i < old_values.size(); ++i) {
      if (old_hashes[i] != kEmpty) {
        place(old_hashes[i], std::move(old_values[i]));
      }
    }
    publish_hints();
  }

  std::vector<std::uint64_t> hashes_;
  std::vector<Value> values_;
  std::size_t mask_ = 0;
  int shift_ = 64;
  std::size_t size_ = 0;
  // prefetch()'s copies of the arrays' addresses and shift_, readable without the lock.
  std::atomic<std::uintptr_t> hint_hashes_{0};
  std::atomic<std::uintptr_t> hint_values_{0};
  std::atomic<int> hint_shift_{63};
};

}  // namespace seawall::cache
