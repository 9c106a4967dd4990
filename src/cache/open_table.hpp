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

// A hash table of Values by 64-bit hash: open addressing with linear probing, each slot's hash
// beside its Value in one array, so that finding a value costs one cache miss (two lines for a
// probe run crossing into the next slot), where a node-based map chases bucket and node (and, for
// entries, an LRU list's neighbours). `Align` lets a slot of hash and Value fill exactly one cache
// line (ReplyCache's entry table). Equal hashes may hold several values; find's `match` tells them
// apart.
template <typename Value, std::size_t Align = alignof(std::uint64_t)>
class OpenTable {
 public:
  static constexpr std::size_t kNone = ~std::size_t{0};
  struct alignas(Align) Slot {
    std::uint64_t hash = kEmpty;
    Value value{};
  };

  OpenTable() { reset(); }

  std::size_t size() const noexcept { return size_; }
  Value& at(std::size_t slot) noexcept { return slots_[slot].value; }
  // The hash `slot` holds (as stored: a hash of 0 is held as 1).
  std::uint64_t hash_at(std::size_t slot) const noexcept { return slots_[slot].hash; }

  // The slot holding this hash whose Value satisfies `match`, or kNone.
  template <typename Match>
  std::size_t find(std::uint64_t hash, Match&& match) const noexcept {
    hash = stored(hash);
    for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.hash == kEmpty) {
        return kNone;
      }
      if (slot.hash == hash && match(slot.value)) {
        return i;
      }
    }
  }

  // Starts loading the home slot of `hash` without the shard's lock, from any thread: the table's
  // address and size come from relaxed atomics that a concurrent grow may change meanwhile, which
  // at worst prefetches a line of the old array (or none that is mapped: a prefetch never
  // faults).
  void prefetch(std::uint64_t hash) const noexcept {
    const std::uintptr_t i = home_at(stored(hash), hint_shift_.load(std::memory_order_relaxed));
    __builtin_prefetch(reinterpret_cast<const void*>(hint_slots_.load(std::memory_order_relaxed) +
                                                     i * sizeof(Slot)));
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
    for (std::size_t next = (hole + 1) & mask_; slots_[next].hash != kEmpty;
         next = (next + 1) & mask_) {
      const std::size_t want = home(slots_[next].hash);
      // The slot at `next` may move into the hole unless its home lies cyclically in
      // (hole, next]: the hole would then come before its home, where a probe never looks.
      const bool stays =
          hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
      if (!stays) {
        slots_[hole] = std::move(slots_[next]);
        hole = next;
      }
    }
    slots_[hole] = Slot{};
    --size_;
  }

  // The slot with the least `rank(hash, value)` among up to `samples` values, scanning from slot
  // `start`: the exact minimum while the table holds at most `samples` values, a sample's beyond.
  template <typename Rank>
  std::size_t least_of_sample(std::size_t start, std::size_t samples, Rank&& rank) const noexcept {
    std::size_t best = kNone;
    decltype(rank(std::uint64_t{}, slots_[0].value)) best_rank{};
    std::size_t seen = 0;
    for (std::size_t n = 0, i = start & mask_; n <= mask_ && seen < samples;
         ++n, i = (i + 1) & mask_) {
      if (slots_[i].hash == kEmpty) {
        continue;
      }
      ++seen;
      const auto r = rank(slots_[i].hash, slots_[i].value);
      if (best == kNone || r < best_rank) {
        best = i;
        best_rank = r;
      }
    }
    return best;
  }

  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& slot : slots_) {
      if (slot.hash != kEmpty) {
        f(slot.value);
      }
    }
  }

  void reset() {
    slots_ = std::vector<Slot>(kInitialSlots);
    mask_ = kInitialSlots - 1;
    shift_ = 64 - std::countr_zero(kInitialSlots);
    size_ = 0;
    publish_hints();
  }

 private:
  static constexpr std::size_t kInitialSlots = 16;
  static constexpr std::uint64_t kEmpty = 0;

  // A hash as held in a slot: 0 marks an empty slot, so a hash of 0 is held as 1 (and the two
  // then collide like any two equal hashes).
  static std::uint64_t stored(std::uint64_t hash) noexcept { return hash == kEmpty ? 1 : hash; }

  // Fibonacci hashing takes the top bits: the low bits of the hash picked the shard already.
  static std::size_t home_at(std::uint64_t hash, int shift) noexcept {
    return static_cast<std::size_t>((hash * 0x9e3779b97f4a7c15ull) >> shift);
  }
  std::size_t home(std::uint64_t hash) const noexcept { return home_at(hash, shift_); }
  void publish_hints() noexcept {
    hint_slots_.store(reinterpret_cast<std::uintptr_t>(slots_.data()), std::memory_order_relaxed);
    hint_shift_.store(shift_, std::memory_order_relaxed);
  }
  void place(std::uint64_t hash, Value&& value) noexcept {
    hash = stored(hash);
    std::size_t i = home(hash);
    while (slots_[i].hash != kEmpty) {
      i = (i + 1) & mask_;
    }
    slots_[i].hash = hash;
    slots_[i].value = std::move(value);
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const std::size_t count = old.size() * 2;
    slots_ = std::vector<Slot>(count);
    mask_ = count - 1;
    shift_ = 64 - std::countr_zero(count);
    for (Slot& slot : old) {
      if (slot.hash != kEmpty) {
        place(slot.hash, std::move(slot.value));
      }
    }
    publish_hints();
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  int shift_ = 64;
  std::size_t size_ = 0;
  // prefetch()'s copies of the array's address and shift_, readable without the lock.
  std::atomic<std::uintptr_t> hint_slots_{0};
  std::atomic<int> hint_shift_{63};
};

}  // namespace seawall::cache
