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
// Per hash bucket, not per key: one 64-bit word holds the writes in flight, a tag of their key and
// their owner (kMixed once two owners' writes share it). Two keys in flight in one bucket at once
// only make a degraded read or a write wait for the other key's write too (never longer than its
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
  static constexpr std::size_t kBuckets = 32768;
  // Whoever sent a write: a shared upstream connection or a pinned link (a hash of its address,
  // see owner_of). 0 is nobody.
  using Owner = std::uint32_t;
  static constexpr Owner kMixed = 0xffffffffu;

  static Owner owner_of(const void* sender) {
    // Two live heap objects start at least 8 bytes apart (jemalloc's smallest size class; glibc
    // keeps 16), so the low 3 bits carry nothing. Two live senders whose hashes collide would
    // only be taken for one (their writes left unordered, as before).
    const auto p = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(sender) >> 3);
    const auto owner = static_cast<Owner>(p ^ (p >> 32));
    return owner == 0 ? 1 : (owner == kMixed ? kMixed - 1 : owner);
  }

  // Writes kept in order (seawall_writes_ordered_total): sent on the other sender's connection,
  // or after waiting for its outcome.
  std::atomic<std::uint64_t> moved{0};
  std::atomic<std::uint64_t> waited{0};

  WritesInFlight() : buckets_(std::make_unique<Bucket[]>(kBuckets)) {}

  // A number no other write has (per thread, no shared counter to bounce between cores).
  static std::uint64_t next_write_id();

  // One write of `key` sent by `owner`; `write` its next_write_id(). True when it is ordered
  // after every write of the key still in flight (they all went through `owner`).
  bool mark(std::string_view key, Owner owner, std::uint64_t write = 0) {
    const Hashed h(key);
    Bucket& b = buckets_[h.index];
    std::uint64_t v = b.state.load(std::memory_order_relaxed);
    std::uint64_t next = 0;
    Owner now = 0;
    do {
      const std::uint64_t count = v & kCountMask;
      const std::uint32_t tag = count == 0 || tag_of(v) == h.tag ? h.tag : kManyKeys;
      now = count == 0 || owner_of_state(v) == owner ? owner : kMixed;
      next = pack(count + 1, tag, now);
    } while (!b.state.compare_exchange_weak(v, next, std::memory_order_relaxed));
    b.sent.store(write, std::memory_order_relaxed);
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
    return write != 0 && buckets_[Hashed(key).index].sent.load(std::memory_order_relaxed) == write;
  }
  // After the write's outcome is in the L1 or the journal (release: a reader that sees the
  // count drop also sees that).
  void release(std::string_view key) {
    buckets_[Hashed(key).index].state.fetch_sub(1, std::memory_order_release);
  }
  bool any(std::string_view key) const {
    const Hashed h(key);
    const std::uint64_t v = buckets_[h.index].state.load(std::memory_order_acquire);
    return (v & kCountMask) != 0 && (tag_of(v) == h.tag || tag_of(v) == kManyKeys);
  }
  // Which bucket `key` falls in (keys of one bucket share its state).
  static std::size_t bucket_of(std::string_view key) { return Hashed(key).index; }
  // Starts loading `key`'s bucket (see ReplyCache::prefetch).
  void prefetch(std::string_view key) const noexcept {
    __builtin_prefetch(&buckets_[Hashed(key).index]);
  }
  // The owner of the writes of `key` in flight: 0 when none is, kMixed when several owners'.
  Owner owner(std::string_view key) const {
    const Hashed h(key);
    const std::uint64_t v = buckets_[h.index].state.load(std::memory_order_acquire);
    if ((v & kCountMask) == 0 || (tag_of(v) != h.tag && tag_of(v) != kManyKeys)) {
      return 0;
    }
    return owner_of_state(v);
  }

 private:
  // A bucket's state: the writes in flight (low kCountBits), a tag of the key they write (the
  // next kTagBits; kManyKeys when writes of two keys share the bucket), their owner (the top 32
  // bits), so that another key sharing the bucket seldom makes a write wait. Beside it, in the
  // same cache line, the id of the last write marked.
  static constexpr unsigned kCountBits = 20;
  static constexpr unsigned kTagBits = 12;
  static constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
  static constexpr std::uint32_t kManyKeys = 0;
  struct alignas(16) Bucket {
    std::atomic<std::uint64_t> state{0};
    std::atomic<std::uint64_t> sent{0};
  };
  struct Hashed {
    explicit Hashed(std::string_view key) {
      const std::uint64_t h = std::hash<std::string_view>{}(key);
      index = static_cast<std::size_t>(h & (kBuckets - 1));
      tag = static_cast<std::uint32_t>(h >> (64 - kTagBits));
      tag = tag == kManyKeys ? 1 : tag;
    }
    std::size_t index = 0;
    std::uint32_t tag = 0;
  };
  static std::uint32_t tag_of(std::uint64_t state) {
    return static_cast<std::uint32_t>((state >> kCountBits) & ((1u << kTagBits) - 1));
  }
  static Owner owner_of_state(std::uint64_t state) { return static_cast<Owner>(state >> 32); }
  static std::uint64_t pack(std::uint64_t count, std::uint32_t tag, Owner owner) {
    return (std::uint64_t{owner} << 32) | (std::uint64_t{tag} << kCountBits) | count;
  }

  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace seawall::proxy
