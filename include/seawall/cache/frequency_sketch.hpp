#pragma once
// FrequencySketch: how often a key was seen lately, approximately, in 4 bits. The L1's admission
// filter (TinyLFU): when a new reply would evict the least recently used one, it is stored only
// if its key was seen more often than the victim's, so a stream of one-time reads cannot push
// the hot set out of the cache (the copies an outage needs).
//
// A count-min sketch: every key has one 4-bit counter in each of 4 rows (64-bit words hold 16
// counters); increment() raises the smallest of the four (conservative update: fewer
// overestimates than raising all), frequency() is the smallest. A key's four counters lie in one
// 64-byte block of 8 words (two words per row), as in Caffeine: a count costs one cache miss
// instead of four, which matters because the L1 counts every reply it is offered. After 10
// increments per word the whole table is halved, so counts age: a key hot an hour ago does not stay
// hot forever.
//
// Ownership: owns its table (8 bytes per word; see the constructor).
// Thread safety: none; callers serialise (ReplyCache keeps one sketch per shard, used under the
// shard's lock, which every put already takes).
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace seawall::cache {

class FrequencySketch {
 public:
  static constexpr std::uint32_t kMaxCount = 15;

  // `words` 64-bit words (rounded up to a power of two, at least one block of 8): 16 counters
  // each. About one word per key the cache can hold keeps collisions rare.
  explicit FrequencySketch(std::size_t words);
  // Moving keeps table_ valid (a vector's move keeps its buffer); a copy would not.
  FrequencySketch(FrequencySketch&&) noexcept = default;
  FrequencySketch& operator=(FrequencySketch&&) noexcept = default;
  FrequencySketch(const FrequencySketch&) = delete;
  FrequencySketch& operator=(const FrequencySketch&) = delete;

  // Counts one access to the key with this hash (any well-mixed 64-bit hash).
  void increment(std::uint64_t hash) noexcept;

  // Accesses counted since the last halvings, 0 to kMaxCount; may overestimate, never
  // underestimates except through aging.
  std::uint32_t frequency(std::uint64_t hash) const noexcept;

  // Increments after which the table is halved (10 per word).
  std::size_t sample_size() const noexcept { return sample_size_; }
  std::size_t word_count() const noexcept { return (mask_ + 1) * kBlockWords; }

  // Brings the key's block into the cache ahead of a count, so that its miss overlaps others.
  void prefetch(std::uint64_t hash) const noexcept { __builtin_prefetch(block(hash)); }

 private:
  static constexpr std::size_t kBlockWords = 8;  // 64 bytes: one cache line
  struct Slot {
    std::uint64_t* word;
    unsigned shift;
  };
  std::uint64_t* block(std::uint64_t hash) const noexcept;
  // The key's counter in each row: all within block(hash).
  std::array<Slot, 4> slots(std::uint64_t hash) const noexcept;
  void halve() noexcept;

  // Holds the blocks, plus room to start them on a 64-byte boundary.
  std::vector<std::uint64_t> storage_;
  std::uint64_t* table_;  // first block, 64-byte aligned, inside storage_
  std::size_t mask_;      // blocks - 1
  std::size_t sample_size_;
  std::size_t additions_ = 0;
};

}  // namespace seawall::cache
