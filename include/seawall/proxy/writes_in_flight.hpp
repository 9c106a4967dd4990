#pragma once
// Which keys have a write sent to Redis whose outcome seawall does not know yet, and on which
// connection it went.
//
// Two uses:
// - A write's send drops the key's L1 copy (a read through Redis may see the new value at once),
//   so a read of the key that Redis then fails to answer (it stalled, died) finds no copy,
//   although the write is about to be acknowledged or journaled: such a read waits for that
//   outcome (see ParkedReads) and answers the written value instead of a miss.
// - Writes of one key keep the order seawall sent them in: Redis runs the commands of one
//   connection in order, but two writes of a key in flight on two connections may run in either
//   order, and then seawall cannot know which value Redis holds (no L1 copy may be kept, and
//   an outage that begins then leaves the key with nothing to answer). So a write whose key has
//   a write in flight on another connection (its `owner`) goes on that same connection when it
//   can, or waits for that write's outcome (see Session::write_order_wait).
//
// Per hash bucket, not per key: one 64-bit word holds the writes in flight (low kCountBits) and
// their owner (the rest; kMixed once two owners' writes share it). Keys sharing a bucket only
// make a degraded read or a write wait for the other key's write too (never longer than its
// outcome takes); marking costs one compare-and-swap per key, no allocation.
//
// Ownership: in SharedState. Thread safety: every worker thread.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace seawall::proxy {

class WritesInFlight {
 public:
  static constexpr std::size_t kBuckets = 65536;
  // Whoever sent a write: a shared upstream connection or a pinned link (its address, see
  // owner_of). 0 is nobody.
  using Owner = std::uint64_t;
  static constexpr unsigned kCountBits = 20;
  static constexpr Owner kMixed = (std::uint64_t{1} << (64 - kCountBits)) - 1;

  static Owner owner_of(const void* sender) {
    // Heap objects are 16-byte aligned: the low bits carry nothing, and 44 bits hold the rest.
    return (reinterpret_cast<std::uintptr_t>(sender) >> 4) & kMixed;
  }

  // Writes kept in order (seawall_writes_ordered_total): sent on the other sender's connection,
  // or after waiting for its outcome.
  std::atomic<std::uint64_t> moved{0};
  std::atomic<std::uint64_t> waited{0};

  WritesInFlight()
      : buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(kBuckets)),
        sent_(std::make_unique<std::atomic<std::uint64_t>[]>(kBuckets)) {}

  // A number no other write has (per thread, no shared counter to bounce between cores).
  static std::uint64_t next_write_id();

  // One write of `key` sent by `owner`; `write` its next_write_id(). True when it is ordered
  // after every write of the key still in flight (they all went through `owner`).
  bool mark(std::string_view key, Owner owner, std::uint64_t write = 0) {
    const std::size_t i = index(key);
    std::uint64_t v = buckets_[i].load(std::memory_order_relaxed);
    std::uint64_t next = 0;
    Owner now = 0;
    do {
      const std::uint64_t count = v & kCountMask;
      const Owner was = v >> kCountBits;
      now = count == 0 || was == owner ? owner : kMixed;
      next = (now << kCountBits) | (count + 1);
    } while (!buckets_[i].compare_exchange_weak(v, next, std::memory_order_relaxed));
    sent_[i].store(write, std::memory_order_relaxed);
    return now != kMixed;
  }
  // A write as marked: its id, and whether Redis runs it after every earlier write of its keys
  // still in flight (they all went through its owner).
  struct Marked {
    std::uint64_t id = 0;
    bool ordered = false;
  };
  // One write of every key in `keys` (strings or views) sent by `owner`; release_all after its
  // outcome.
  template <class Keys>
  Marked mark_all(const Keys& keys, Owner owner) {
    Marked m{next_write_id(), true};
    for (std::string_view key : keys) {
      m.ordered = mark(key, owner, m.id) && m.ordered;
    }
    return m;
  }
  template <class Keys>
  void release_all(const Keys& keys) {
    for (std::string_view key : keys) {
      release(key);
    }
  }
  // True while `write` is the last write of `key` sent (with a bucket's other keys: no write of
  // them either was sent since).
  bool last_sent(std::string_view key, std::uint64_t write) const {
    return write != 0 && sent_[index(key)].load(std::memory_order_relaxed) == write;
  }
  // After the write's outcome is in the L1 or the journal (release: a reader that sees the
  // count drop also sees that).
  void release(std::string_view key) { bucket(key).fetch_sub(1, std::memory_order_release); }
  bool any(std::string_view key) const {
    return (buckets_[index(key)].load(std::memory_order_acquire) & kCountMask) != 0;
  }
  // The owner of the writes of `key` in flight: 0 when none is, kMixed when several owners'.
  Owner owner(std::string_view key) const {
    const std::uint64_t v = buckets_[index(key)].load(std::memory_order_acquire);
    return (v & kCountMask) == 0 ? 0 : v >> kCountBits;
  }

 private:
  static constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
  static std::size_t index(std::string_view key) {
    return std::hash<std::string_view>{}(key) & (kBuckets - 1);
  }
  std::atomic<std::uint64_t>& bucket(std::string_view key) { return buckets_[index(key)]; }

  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> sent_;  // the last write marked, per bucket
};

}  // namespace seawall::proxy
