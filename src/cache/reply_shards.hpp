#pragma once
// ReplyCache's private types (cache/reply_cache.hpp): an entry and its bookkeeping, and the two
// kinds of shard, the entries' (an open-addressing table with the admission filter's sketch and
// sampled eviction) and the index's from Redis keys to entries. Only reply_cache.cpp uses them;
// they live here so that the cache's operations read apart from its layout.
// Thread safety: each shard's members under its own mutex, as ReplyCache takes it.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/open_table.hpp"
#include "seawall/cache/frequency_sketch.hpp"
#include "seawall/cache/reply_cache.hpp"

namespace seawall::cache {
namespace detail {

// An index reference: the entry's id and the hash of its cache key, which picks its entry shard
// and finds it there (EntryShard::by_key looks entries up by hash and id as well as by key), so
// a reference copies no string.
struct Ref {
  std::uint64_t id;
  std::uint64_t hash;
};

// The references of one Redis key: almost always one (GET k), so the first is held inline and
// only a key cached under several commands (GET k, HGETALL k, MGET a k) allocates the rest. 24
// bytes, so that an index slot (hash and Refs) is half a cache line and a probe that passes
// several slots reads few lines. Entry ids start at 1: an id of 0 marks "none".
class Refs {
 public:
  bool empty() const noexcept { return first_.id == 0; }
  void add(const Ref& ref) {
    if (empty()) {
      first_ = ref;
      return;
    }
    if (!rest_) {
      rest_ = std::make_unique<std::vector<Ref>>();
    }
    rest_->push_back(ref);
  }
  // Removes every reference to `id` (an entry lists a key twice for MGET a a).
  void remove(std::uint64_t id) {
    if (rest_) {
      std::erase_if(*rest_, [&](const Ref& ref) { return ref.id == id; });
    }
    if (first_.id == id) {
      if (rest_ && !rest_->empty()) {
        first_ = rest_->back();
        rest_->pop_back();
      } else {
        first_ = Ref{};
      }
    }
    if (rest_ && rest_->empty()) {
      rest_.reset();
    }
  }
  void copy_to(std::vector<Ref>& out) const {
    out.clear();
    if (!empty()) {
      out.push_back(first_);
      if (rest_) {
        out.insert(out.end(), rest_->begin(), rest_->end());
      }
    }
  }

 private:
  Ref first_{0, 0};
  std::unique_ptr<std::vector<Ref>> rest_;
};
static_assert(sizeof(Refs) == 24);

}  // namespace detail

// One cached reply: this header, followed in the same allocation by its bytes: the cache key,
// the reply, then each Redis key after its length (4 bytes, little-endian). The bytes never
// change once the entry is stored; what a renewal changes (times, LRU position) lives in the
// shard's table beside the hash (Meta), so that the common put touches no entry at all.
// Its id and cost are kept in its table slot only (Meta), which an invalidation reads anyway.
struct ReplyCache::Entry {
  std::uint64_t hash = 0;  // of cache_key
  std::uint32_t key_size = 0;
  std::uint32_t reply_size = 0;
  std::uint32_t data_size = 0;

  static Entry* create(std::string_view cache_key, std::string_view reply,
                       std::span<const std::string_view> redis_keys) {
    std::size_t total = cache_key.size() + reply.size();
    for (std::string_view key : redis_keys) {
      total += 4 + key.size();
    }
    auto* entry = new (::operator new(sizeof(Entry) + total)) Entry;
    char* p = std::copy(cache_key.begin(), cache_key.end(), entry->bytes());
    p = std::copy(reply.begin(), reply.end(), p);
    for (std::string_view key : redis_keys) {
      const auto n = static_cast<std::uint32_t>(key.size());
      for (int shift = 0; shift < 32; shift += 8) {
        *p++ = static_cast<char>((n >> shift) & 0xffu);
      }
      p = std::copy(key.begin(), key.end(), p);
    }
    entry->key_size = static_cast<std::uint32_t>(cache_key.size());
    entry->reply_size = static_cast<std::uint32_t>(reply.size());
    entry->data_size = static_cast<std::uint32_t>(total);
    return entry;
  }
  static void destroy(Entry* entry) noexcept {
    entry->~Entry();
    ::operator delete(entry);
  }

  char* bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
  const char* bytes() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  std::string_view cache_key() const noexcept { return {bytes(), key_size}; }
  std::string_view reply() const noexcept { return {bytes() + key_size, reply_size}; }
  template <typename F>
  void for_each_redis_key(F&& f) const {
    const std::string_view data(bytes(), data_size);
    std::size_t at = std::size_t{key_size} + reply_size;
    while (at + 4 <= data.size()) {
      std::uint32_t n = 0;
      for (std::size_t i = 0; i < 4; ++i) {
        n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + i])) << (8 * i);
      }
      f(data.substr(at + 4, n));
      at += 4 + n;
    }
  }
};

// Entries unlinked under a shard's lock, destroyed by the caller after releasing it (their
// index references are removed first, outside any entry lock). Each is kept with its id and, when
// the unlinking caller knew it, the hash of its only Redis key, so that removing its references
// need not read the entry (on a large keyspace, a cache miss per write).
class ReplyCache::Dropped {
 public:
  struct Record {
    Entry* entry;
    std::uint64_t id;
    std::uint64_t only_key_hash;  // meaningful when has_key_hash
    bool has_key_hash;
  };

  Dropped() = default;
  Dropped(const Dropped&) = delete;
  Dropped& operator=(const Dropped&) = delete;
  ~Dropped() {
    for (const Record& record : records_) {
      Entry::destroy(record.entry);
    }
  }
  void add(const Record& record) { records_.push_back(record); }
  // Hands each entry to `take` in the order added; they are the taker's to destroy.
  template <typename F>
  void release_into(F&& take) {
    for (const Record& record : records_) {
      take(record.entry);
    }
    records_.clear();
  }
  std::span<const Record> records() const noexcept { return records_; }
  std::size_t size() const noexcept { return records_.size(); }

 private:
  std::vector<Record> records_;
};

// What changes about a stored entry, kept in its shard's table rather than in the entry, with
// what an invalidation needs to find and unlink it (id, cost, whether it has one Redis key), so
// that a write touches the table and the index but not the entry. With its hash, one cache line
// (EntryShard::Table).
struct ReplyCache::Meta {
  Entry* entry = nullptr;
  std::uint64_t id = 0;  // what index references name the entry by (unique, unlike its address)
  std::uint64_t reply_hash = 0;  // hash_of(entry->reply()): a renewal compares this, not bytes
  Clock::time_point fresh_until;
  Clock::time_point stale_until;
  std::uint64_t filled = 0;  // LookupResult::filled
  // The shard's use count at the last put or hit, in 32 bits: LRU order compares ages
  // (EntryShard::victim), which stay right for entries unused for fewer than 2^32 uses.
  std::uint32_t last_used = 0;
  std::uint32_t cost : 31 = 0;       // entry_cost() (below 2 GiB: see max_entry_bytes_)
  std::uint32_t single_key : 1 = 0;  // the entry depends on exactly one Redis key
};
// Shards sit on their own cache lines so that threads hitting different shards do not contend.
struct alignas(64) ReplyCache::EntryShard {
  using Slot = std::size_t;
  // Entries sampled for the least recently used one when the shard must make room.
  static constexpr std::size_t kEvictionSamples = 16;
  using Table = OpenTable<Meta, 64>;
  static_assert(sizeof(Table::Slot) == 64, "an entry's slot is one cache line");
  static constexpr Slot kNone = Table::kNone;

  std::mutex mutex;
  Table table;
  FrequencySketch sketch{0};  // sized by ReplyCache's constructor
  std::uint64_t uses = 0;     // puts and hits so far: Meta::last_used (its low 32 bits)
  std::uint64_t sample_seed = 0x2545f4914f6cdd1dull;
  std::size_t bytes = 0;
  std::uint64_t hits_fresh = 0;
  std::uint64_t hits_stale = 0;
  std::uint64_t misses = 0;
  std::uint64_t inserts = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  std::uint64_t invalidations = 0;

  EntryShard() = default;
  EntryShard(const EntryShard&) = delete;
  EntryShard& operator=(const EntryShard&) = delete;
  ~EntryShard() {
    table.for_each([](const Meta& meta) { Entry::destroy(meta.entry); });
  }

  Slot find(std::string_view cache_key, std::uint64_t hash) const noexcept {
    return table.find(hash, [&](const Meta& m) { return m.entry->cache_key() == cache_key; });
  }
  // For a renewal: the hash alone identifies the entry. Two cache keys with one 64-bit hash
  // (about 1e-9 for 150,000 keys) would at worst renew the other key's entry, and only when its
  // reply hashes alike too; it never serves one key's reply for another (lookups compare keys).
  Slot find_hash(std::uint64_t hash) const noexcept {
    return table.find(hash, [](const Meta&) { return true; });
  }
  Slot find_id(std::uint64_t hash, std::uint64_t id) const noexcept {
    return table.find(hash, [&](const Meta& m) { return m.id == id; });
  }
  Meta& meta(Slot slot) noexcept { return table.at(slot); }

  // The entry to evict next (kNone when empty): of the sampled entries, the one read least often
  // lately by the sketch, the least recently used among equals. Ranking by frequency first keeps
  // more of a skewed (Zipf) hot set than LRU alone, which is what an outage reads.
  Slot victim() noexcept {
    sample_seed ^= sample_seed << 13;
    sample_seed ^= sample_seed >> 7;
    sample_seed ^= sample_seed << 17;
    if (table.size() == 0) {
      return kNone;
    }
    // last_used - (uses + 1) mod 2^32 is 2^32 - 1 - age: the oldest ranks least.
    return table.least_of_sample(
        sample_seed, kEvictionSamples, [this](std::uint64_t hash, const Meta& m) {
          return std::pair{sketch.frequency(hash),
                           static_cast<std::uint32_t>(m.last_used - (uses + 1))};
        });
  }
  // Stamps a use of `meta` (LRU order).
  void touch(Meta& meta) noexcept { meta.last_used = static_cast<std::uint32_t>(++uses); }
  void insert(Entry* entry, const Meta& meta) {
    table.insert(entry->hash, meta);
    bytes += meta.cost;
  }
  // Unlinks the entry at `slot` into `dropped`, which the caller destroys after releasing the
  // lock. `key_hash`: the hash of a Redis key the caller found the entry by (its only one, if it
  // has one), or nullptr.
  void unlink(Slot slot, Dropped& dropped, const std::uint64_t* key_hash = nullptr) {
    const Meta& meta = table.at(slot);
    const bool known = key_hash != nullptr && meta.single_key;
    dropped.add({meta.entry, meta.id, known ? *key_hash : 0, known});
    bytes -= meta.cost;
    table.erase(slot);
  }
  std::size_t size() const noexcept { return table.size(); }
};

struct alignas(64) ReplyCache::IndexShard {
  std::mutex mutex;
  // By hash_of(Redis key), one slot per hash, not by a copy of the key: two keys with the same
  // 64-bit hash share their references, and writing one then drops the other's copies too, which
  // is harmless (and rare: 100,000 keys collide with probability ~3e-10).
  OpenTable<detail::Refs> refs;

  detail::Refs* find(std::uint64_t key_hash) noexcept {
    const std::size_t slot = refs.find(key_hash, [](const detail::Refs&) { return true; });
    return slot == OpenTable<detail::Refs>::kNone ? nullptr : &refs.at(slot);
  }
};

}  // namespace seawall::cache
