#pragma once
// ReplyCache: the L1. A byte-bounded cache of upstream *replies* (raw RESP bytes), keyed by the
// normalised read command (see make_cache_key) and indexed by the Redis keys each reply depends
// on, so that invalidate_key(k) drops every reply cached for k (GET k, HGETALL k, MGET a k, ...).
//
// Each entry has a fresh TTL and a longer stale window: lookup reports Fresh while
// age < ttl, Stale while age < ttl + max_stale (served only while Redis is unavailable), and drops
// the entry after that.
//
// Layout. Two independent sharded tables, each shard with its own mutex; no call ever holds two
// locks at once, so there is no lock order to get wrong:
//   - entry shards, by hash of the cache key: an open-addressing table whose slots hold what a
//     renewal changes (times, reply hash, last use), beside entries that hold the bytes;
//   - index shards, by hash of a Redis key: hash of the Redis key -> {entry id, hash of its
//     cache key} references (no copies of strings).
// Every reply passing through is offered to the L1, so the common put (Redis returned what is
// cached) touches only the table: about one cache miss on a large keyspace. Eviction samples 16
// entries, as Redis does, rather than keeping a list whose every reordering touches two more
// entries, and takes the one the sketch counts least, the least recently used among equals
// (exact LRU in a shard of up to 16 entries read alike).
// A lookup takes one lock. invalidate_key(k) takes the lock of k's index shard and then one entry
// lock per reply cached for k (usually one or two), never a lock per shard. A multi-key entry
// (MGET, SUNION) simply has a reference in the index shard of each of its keys, so invalidation of
// any of them finds it. Sharding entries by their first Redis key instead would make lookups need
// that key too and would still need cross-shard references for the other keys.
//
// Races with writes. A read that was sent to Redis before a write to the same key may return
// after the write's invalidation; caching it would serve the old value for a whole TTL. Callers
// therefore take a ReadTicket before sending the read and pass it to put(): a put is refused
// (PutResult::Raced) when any of its keys, or the whole cache (clear), was invalidated after the
// ticket was taken. Invalidations are tracked per stripe of key hashes, so an unrelated key in the
// same stripe can cause a (harmless) refusal. put() publishes its index references before the
// entry and checks the stripes under the entry lock; invalidate_key() bumps the stripe before
// taking any lock. Either the put sees the bump and refuses, or the invalidation finds both the
// reference and the entry. A reference is removed only with its entry (matched by a unique entry
// id), never by an invalidation, so concurrent invalidations of one key all see every reference
// and none returns while an entry it should drop is still cached.
//
// Admission. A put of a reply not cached yet that would have to evict another one is admitted
// only if its cache key was seen more often lately than the entry it would evict
// (TinyLFU: one FrequencySketch per entry shard, counted at every put, under the shard's lock).
// While the shard has room everything is admitted, so the outage copies are what they were
// without the filter; under pressure the hot set stays and one-time reads are not stored (nor
// evict anything). Entries already cached are always renewed or replaced, and
// Admission::Always (written values, repairs) bypasses the filter.
//
// Ownership: owns copies of every key and reply; lookups copy the reply out, so nothing the cache
// returns refers into it.
// Thread safety: every member function may be called concurrently from any thread.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seawall::cache {

using Clock = std::chrono::steady_clock;

enum class Freshness : std::uint8_t { Miss, Fresh, Stale };

struct LookupResult {
  Freshness freshness = Freshness::Miss;
  // The epoch of the ticket the entry was filled with (the highest, when renewed); 0 for values
  // stored unverified (see put). Near mode serves an entry only when it was filled after its
  // tracking link subscribed (mark()).
  std::uint64_t filled = 0;
};

enum class PutResult : std::uint8_t {
  Stored,
  TooLarge,     // entry_cost() above max_entry_bytes (or above one shard's share of max_bytes)
  Raced,        // a key (or the whole cache) was invalidated after the ticket was taken
  NoLifetime,   // ttl + max_stale is zero: the entry would be dead on arrival
  NotAdmitted,  // Admission::TinyLfu: storing it would evict an entry read more often
};

// Whether a put may be refused to keep more frequently read entries (see the class comment).
enum class Admission : std::uint8_t {
  TinyLfu,  // replies passing through: admitted when there is room or when read more often
  Always,   // values written through seawall and repairs of them: the outage needs them
};

// Taken before the read is sent upstream; see the class comment.
struct ReadTicket {
  std::uint64_t epoch = 0;
};

// LRU order and the byte budget are per shard: each shard holds max_bytes / shards.
struct ReplyCacheOptions {
  std::size_t max_bytes = 64u * 1024 * 1024;   // bound on the sum of entry_cost() of all entries
  std::size_t max_entry_bytes = 1024u * 1024;  // entries costing more are not cached
  std::size_t shards = 16;                     // rounded up to a power of two, at least 1
};

struct ReplyCacheStats {
  std::uint64_t hits_fresh = 0;
  std::uint64_t hits_stale = 0;
  std::uint64_t misses = 0;         // includes lookups that found an entry past its stale window
  std::uint64_t inserts = 0;        // successful puts, overwrites and renewals included
  std::uint64_t evictions = 0;      // dropped to make room (LRU)
  std::uint64_t expirations = 0;    // dropped because older than ttl + max_stale
  std::uint64_t invalidations = 0;  // entries dropped by invalidate_key and clear
  std::uint64_t rejected_too_large = 0;
  std::uint64_t rejected_raced = 0;
  std::uint64_t rejected_admission = 0;  // PutResult::NotAdmitted
  std::uint64_t bytes = 0;               // current sum of entry_cost()
  std::uint64_t entries = 0;
};

class ReplyCache {
  struct Entry;

 public:
  // The copies a write's sending dropped (invalidate_key with a Withheld), kept aside until its
  // reply says whether Redis ran it: restore() puts them back when Redis refused it unrun
  // (-CLUSTERDOWN while another shard fails over, -LOADING ...), so the keys can still be read
  // from the L1 while Redis refuses their reads too.
  // Ownership: owns the entries until restore() takes them; clear() and the destructor free them.
  class Withheld {
   public:
    Withheld() = default;
    Withheld(const Withheld&) = delete;
    Withheld& operator=(const Withheld&) = delete;
    Withheld(Withheld&& other) noexcept : kept_(std::exchange(other.kept_, {})) {}
    Withheld& operator=(Withheld&& other) noexcept;
    ~Withheld() { clear(); }
    bool empty() const noexcept { return kept_.empty(); }
    void clear() noexcept;

   private:
    friend class ReplyCache;
    struct Kept {
      Entry* entry = nullptr;
      Clock::time_point fresh_until;
      Clock::time_point stale_until;
      std::uint32_t cost = 0;  // entry_cost(), which only the table slot kept
    };
    std::vector<Kept> kept_;
  };

  explicit ReplyCache(const ReplyCacheOptions& options);
  ~ReplyCache();
  ReplyCache(const ReplyCache&) = delete;
  ReplyCache& operator=(const ReplyCache&) = delete;

  ReadTicket begin_read() const noexcept;
  // Moves the epoch on without invalidating anything and returns it: tickets taken after the call
  // are at least that value, tickets taken before are below it.
  std::uint64_t mark() noexcept { return epoch_.fetch_add(1) + 1; }

  // On Fresh or Stale, assigns the reply to `reply_out` (reusing its capacity) and refreshes the
  // entry's LRU position. On Miss, `reply_out` is left untouched.
  LookupResult lookup(std::string_view cache_key, Clock::time_point now, std::string& reply_out);

  // Stores (or replaces) the reply for `cache_key`, which depends on `redis_keys` (may be empty:
  // then only clear() and the TTL drop it). Evicts least recently used entries of the same shard
  // to stay within budget, unless `admission` refuses a new entry (see the class comment).
  // `verified`: the reply is what Redis held after the ticket was taken (a read's reply); false
  // for values stored on other grounds (written values), which near mode never serves.
  PutResult put(ReadTicket ticket, std::string_view cache_key,
                std::span<const std::string_view> redis_keys, std::string_view reply,
                Clock::duration ttl, Clock::duration max_stale, Clock::time_point now,
                Admission admission = Admission::Always, bool verified = true);

  // Near mode: marks the entry of `cache_key` (depending on `redis_key`) as filled at `ticket`
  // and fresh until `fresh_until` (within its stale window), unless the key was invalidated after
  // the ticket was taken (the entry may then hold another value than the one `fresh_until` was
  // learned for). Returns whether it did. Puts with verified = false leave an entry's verification
  // and fresh time as they were when renewing it, so only this call extends what near mode trusts.
  bool verify(ReadTicket ticket, std::string_view cache_key, std::string_view redis_key,
              Clock::time_point fresh_until);

  // Starts loading what invalidate_key(redis_key) and a put or lookup of `cache_key` will touch
  // first (their table slots, which on a large keyspace are rarely in the CPU's cache), so that
  // the misses overlap the caller's work in between. Takes no lock and changes nothing.
  void prefetch(std::string_view redis_key, std::string_view cache_key) const noexcept;

  // Drops every reply that depends on `redis_key`; returns how many. Call it when a write to the
  // key is sent and again when its reply arrives.
  std::size_t invalidate_key(std::string_view redis_key) {
    return invalidate_key(redis_key, nullptr);
  }
  // The same, handing the dropped entries to `withheld` instead of freeing them (at a write's
  // sending; see Withheld).
  std::size_t invalidate_key(std::string_view redis_key, Withheld* withheld);
  // Redis refused the write unrun: puts back what its sending withheld, with the times they had
  // and unverified (near mode fetches them again), unless a key of theirs was invalidated after
  // `ticket` (taken after that sending: another write was sent, or one sent before was answered)
  // or a newer copy was stored meanwhile. Empties `withheld`; returns how many went back.
  std::size_t restore(ReadTicket ticket, Withheld& withheld);

  // Drops everything (FLUSHALL, FLUSHDB, SWAPDB, config reload). Reads ticketed before the call
  // will not be stored.
  void clear();

  // Sums the shards' counters; each shard is read consistently, the total is not a snapshot.
  ReplyCacheStats stats() const;

  // The bytes an entry is charged: its cache key, reply and Redis keys plus bookkeeping.
  static std::size_t entry_cost(std::string_view cache_key,
                                std::span<const std::string_view> redis_keys,
                                std::size_t reply_size) noexcept;

  std::size_t shard_count() const noexcept { return shard_mask_ + 1; }

 private:
  struct Meta;
  class Dropped;
  struct EntryShard;
  struct IndexShard;

  std::atomic<std::uint64_t>& stripe_of(std::uint64_t key_hash) const noexcept;
  // References entry `id` (whose cache key hashes to `hash`) under each Redis key; `key_hashes`:
  // hash_of each Redis key of the put, computed once by put().
  void add_refs(std::span<const std::uint64_t> key_hashes, std::uint64_t id, std::uint64_t hash);
  // Removes the reference to entry `id` under the Redis key hashed `key_hash`.
  void remove_ref(std::uint64_t key_hash, std::uint64_t id);
  // Removes the references to entry `id`, found through its Redis keys.
  void remove_refs(const Entry& entry, std::uint64_t id);
  // Removes the index references of entries already unlinked from their shard.
  void remove_refs_of(const Dropped& dropped);
  bool invalidated_since(ReadTicket ticket, std::span<const std::uint64_t> key_hashes) noexcept;
  // Links `entry` (described by `meta`, whose cost the caller set) into its shard and the index,
  // evicting to make room, unless a key was invalidated after `ticket` (or, with `keep_newer`, the
  // shard already holds an entry for its cache key): then frees it and returns false.
  bool link(Entry* entry, Meta meta, std::span<const std::uint64_t> key_hashes, ReadTicket ticket,
            bool keep_newer);
  enum class Renewal : std::uint8_t { Renewed, Store, NotAdmitted };
  // put()'s first step, under the shard's lock: counts the key in the sketch, renews an entry
  // holding the same reply (by hash) with `renewed`'s times (Renewed), or decides whether a new
  // entry may be stored.
  Renewal renew_or_admit(EntryShard& shard, std::uint64_t hash, ReadTicket ticket,
                         std::span<const std::uint64_t> key_hashes, const Meta& renewed,
                         std::size_t cost, Admission admission);

  std::size_t shard_mask_;
  std::size_t shard_budget_;  // max_bytes / shards
  std::size_t max_entry_bytes_;
  std::unique_ptr<EntryShard[]> entry_shards_;
  std::unique_ptr<IndexShard[]> index_shards_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> stripes_;  // last invalidation epoch per stripe
  std::atomic<std::uint64_t> epoch_{1};          // bumped by every invalidation; 0 is "unverified"
  std::atomic<std::uint64_t> cleared_epoch_{0};  // epoch of the last clear()
  std::atomic<std::uint64_t> next_id_{1};        // entry ids; 0 means none (detail::Refs)
  std::atomic<std::uint64_t> rejected_too_large_{0};
  std::atomic<std::uint64_t> rejected_raced_{0};
  std::atomic<std::uint64_t> rejected_admission_{0};
};

// The cache key of a command: the name lowercased, then every argument, each preceded by its
// length, so ("get", "a b") and ("get a", "b") differ. `out` is cleared first and its capacity
// reused, so a per-session buffer makes this allocation-free in steady state.
void make_cache_key(std::span<const std::string_view> args, std::string& out);
std::string make_cache_key(std::span<const std::string_view> args);

}  // namespace seawall::cache
