#include "seawall/cache/reply_cache.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "seawall/cache/frequency_sketch.hpp"

namespace seawall::cache {
namespace {

// Invalidation stripes: 8192 epochs (64 KiB). More stripes mean fewer puts refused because an
// unrelated key hashing to the same stripe was written while the read was in flight.
constexpr std::size_t kStripes = 8192;
constexpr std::size_t kMaxShards = 1024;
// Sketch words per byte of a shard's budget: one word (16 counters) per 512 bytes, about one per
// entry the shard can hold (a GET of a short key and a small value costs about 450 bytes), which
// keeps the sketch near 1/64 of the budget.
constexpr std::size_t kBudgetBytesPerSketchWord = 512;

std::size_t hash_of(std::string_view s) noexcept { return std::hash<std::string_view>{}(s); }

void raise_to(std::atomic<std::uint64_t>& target, std::uint64_t value) noexcept {
  std::uint64_t current = target.load();
  while (current < value && !target.compare_exchange_weak(current, value)) {
  }
}

// now + d without overflowing past the end of time.
Clock::time_point saturating_add(Clock::time_point t, Clock::duration d) noexcept {
  if (d > Clock::time_point::max() - t) {
    return Clock::time_point::max();
  }
  return t + d;
}

// An index reference: the entry's id and the hash of its cache key, which picks its entry shard
// and finds it there (EntryShard::by_key looks entries up by hash and id as well as by key), so
// a reference copies no string.
struct Ref {
  std::uint64_t id;
  std::uint64_t hash;
};

// The references of one Redis key: almost always one (GET k), so the first is held inline and
// only a key cached under several commands (GET k, HGETALL k, MGET a k) allocates.
class Refs {
 public:
  bool empty() const noexcept { return !has_first_; }
  void add(const Ref& ref) {
    if (!has_first_) {
      first_ = ref;
      has_first_ = true;
    } else {
      rest_.push_back(ref);
    }
  }
  // Removes every reference to `id` (an entry lists a key twice for MGET a a).
  void remove(std::uint64_t id) {
    std::erase_if(rest_, [&](const Ref& ref) { return ref.id == id; });
    if (has_first_ && first_.id == id) {
      if (rest_.empty()) {
        has_first_ = false;
      } else {
        first_ = rest_.back();
        rest_.pop_back();
      }
    }
  }
  void copy_to(std::vector<Ref>& out) const {
    out.clear();
    if (has_first_) {
      out.push_back(first_);
      out.insert(out.end(), rest_.begin(), rest_.end());
    }
  }

 private:
  Ref first_{};
  bool has_first_ = false;
  std::vector<Ref> rest_;
};

// EntryShard::by_key's key: the cache key (a view into its entry) with its hash and the entry's
// id. Looked up by cache key (KeyProbe) on reads and puts, or by hash and id (IdProbe) from an
// index reference.
struct EntryKey {
  std::string_view cache_key;
  std::uint64_t hash;
  std::uint64_t id;
};
struct KeyProbe {
  std::string_view cache_key;
  std::uint64_t hash;
};
struct IdProbe {
  std::uint64_t hash;
  std::uint64_t id;
};
struct EntryKeyHash {
  using is_transparent = void;
  std::size_t operator()(const EntryKey& k) const noexcept { return k.hash; }
  std::size_t operator()(const KeyProbe& k) const noexcept { return k.hash; }
  std::size_t operator()(const IdProbe& k) const noexcept { return k.hash; }
};
struct EntryKeyEqual {
  using is_transparent = void;
  bool operator()(const EntryKey& a, const EntryKey& b) const noexcept {
    return a.hash == b.hash && a.cache_key == b.cache_key;
  }
  bool operator()(const KeyProbe& a, const EntryKey& b) const noexcept {
    return a.hash == b.hash && a.cache_key == b.cache_key;
  }
  bool operator()(const EntryKey& a, const KeyProbe& b) const noexcept { return (*this)(b, a); }
  bool operator()(const IdProbe& a, const EntryKey& b) const noexcept {
    return a.hash == b.hash && a.id == b.id;
  }
  bool operator()(const EntryKey& a, const IdProbe& b) const noexcept { return (*this)(b, a); }
};
// The index is keyed by the hash of a Redis key, not by a copy of it: two keys with the same
// 64-bit hash share their references, and writing one then drops the other's copies too, which
// is harmless (and rare: 100,000 keys collide with probability ~3e-10).
struct IdentityHash {
  std::size_t operator()(std::uint64_t h) const noexcept { return h; }
};

}  // namespace

struct ReplyCache::Entry {
  // Everything the entry copies in one allocation (an insert used to make three or more): the
  // cache key, the reply, then each Redis key after its length (4 bytes, little-endian). Never
  // changed once the entry is linked: by_key views the cache key in it.
  std::string data;
  std::uint32_t key_size = 0;
  std::uint32_t reply_size = 0;
  std::uint64_t id = 0;
  std::uint64_t hash = 0;  // of cache_key: the admission filter asks the sketch about a victim
  std::size_t cost = 0;
  Clock::time_point stored_at;
  Clock::time_point fresh_until;
  Clock::time_point stale_until;

  void assign(std::string_view cache_key, std::string_view reply,
              std::span<const std::string_view> redis_keys) {
    std::size_t total = cache_key.size() + reply.size();
    for (std::string_view key : redis_keys) {
      total += 4 + key.size();
    }
    data.resize(total);
    char* p = std::copy(cache_key.begin(), cache_key.end(), data.data());
    p = std::copy(reply.begin(), reply.end(), p);
    for (std::string_view key : redis_keys) {
      const auto n = static_cast<std::uint32_t>(key.size());
      for (int shift = 0; shift < 32; shift += 8) {
        *p++ = static_cast<char>((n >> shift) & 0xffu);
      }
      p = std::copy(key.begin(), key.end(), p);
    }
    key_size = static_cast<std::uint32_t>(cache_key.size());
    reply_size = static_cast<std::uint32_t>(reply.size());
  }
  std::string_view cache_key() const noexcept { return {data.data(), key_size}; }
  std::string_view reply() const noexcept { return {data.data() + key_size, reply_size}; }
  EntryKey key() const noexcept { return {cache_key(), hash, id}; }
  template <typename F>
  void for_each_redis_key(F&& f) const {
    std::size_t at = std::size_t{key_size} + reply_size;
    while (at + 4 <= data.size()) {
      std::uint32_t n = 0;
      for (int i = 0; i < 4; ++i) {
        n |= static_cast<std::uint32_t>(
                 static_cast<unsigned char>(data[at + static_cast<std::size_t>(i)]))
             << (8 * i);
      }
      f(std::string_view(data).substr(at + 4, n));
      at += 4 + n;
    }
  }
};

// Shards sit on their own cache lines so that threads hitting different shards do not contend.
struct alignas(64) ReplyCache::EntryShard {
  std::mutex mutex;
  std::list<Entry> lru;  // front = most recently used
  // Keys view Entry::cache_key inside the list nodes, which never move.
  std::unordered_map<EntryKey, std::list<Entry>::iterator, EntryKeyHash, EntryKeyEqual> by_key;
  FrequencySketch sketch{0};  // sized by ReplyCache's constructor
  std::size_t bytes = 0;
  std::uint64_t hits_fresh = 0;
  std::uint64_t hits_stale = 0;
  std::uint64_t misses = 0;
  std::uint64_t inserts = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  std::uint64_t invalidations = 0;

  // Unlinks `it` into `dropped`, which the caller destroys after releasing the lock.
  void unlink(std::list<Entry>::iterator it, std::list<Entry>& dropped) {
    bytes -= it->cost;
    by_key.erase(it->key());
    dropped.splice(dropped.end(), lru, it);
  }
};

struct alignas(64) ReplyCache::IndexShard {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, Refs, IdentityHash> refs;  // by hash_of(Redis key)
};

namespace {
// Bookkeeping charged per entry and per Redis key, on top of the bytes of the strings: the list
// node, the map node and bucket, and per key its copy in the entry plus its index reference.
constexpr std::size_t kPointer = sizeof(void*);
constexpr std::size_t kPerKeyOverhead = 4 + sizeof(std::uint64_t) + sizeof(Refs) + 4 * kPointer;
}  // namespace

std::size_t ReplyCache::entry_cost(std::string_view cache_key,
                                   std::span<const std::string_view> redis_keys,
                                   std::size_t reply_size) noexcept {
  constexpr std::size_t kEntryOverhead =
      sizeof(Entry) + 2 * kPointer + sizeof(std::string_view) + sizeof(void*) + 4 * kPointer;
  std::size_t cost = kEntryOverhead + cache_key.size() + reply_size;
  for (std::string_view key : redis_keys) {
    // The key in the entry (after its length) and its index node (by hash: no copy of it).
    cost += kPerKeyOverhead + key.size();
  }
  return cost;
}

ReplyCache::ReplyCache(const ReplyCacheOptions& options)
    : shard_mask_(std::bit_ceil(std::clamp<std::size_t>(options.shards, 1, kMaxShards)) - 1),
      shard_budget_(options.max_bytes / (shard_mask_ + 1)),
      max_entry_bytes_(std::min(options.max_entry_bytes, shard_budget_)),
      entry_shards_(std::make_unique<EntryShard[]>(shard_mask_ + 1)),
      index_shards_(std::make_unique<IndexShard[]>(shard_mask_ + 1)),
      stripes_(std::make_unique<std::atomic<std::uint64_t>[]>(kStripes)) {
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    entry_shards_[i].sketch = FrequencySketch(shard_budget_ / kBudgetBytesPerSketchWord);
  }
}

ReplyCache::~ReplyCache() = default;

std::atomic<std::uint64_t>& ReplyCache::stripe_of(std::uint64_t key_hash) noexcept {
  // High bits: the low ones already pick the index shard.
  return stripes_[(key_hash >> 32) & (kStripes - 1)];
}

ReadTicket ReplyCache::begin_read() const noexcept { return ReadTicket{epoch_.load()}; }

bool ReplyCache::invalidated_since(ReadTicket ticket,
                                   std::span<const std::uint64_t> key_hashes) noexcept {
  if (cleared_epoch_.load() > ticket.epoch) {
    return true;
  }
  return std::any_of(key_hashes.begin(), key_hashes.end(), [&](std::uint64_t key_hash) {
    return stripe_of(key_hash).load() > ticket.epoch;
  });
}

void ReplyCache::add_refs(std::span<const std::uint64_t> key_hashes, const Entry& entry) {
  for (const std::uint64_t key_hash : key_hashes) {
    IndexShard& shard = index_shards_[key_hash & shard_mask_];
    std::lock_guard lock(shard.mutex);
    shard.refs[key_hash].add(Ref{entry.id, entry.hash});
  }
}

void ReplyCache::remove_refs(const Entry& entry) {
  entry.for_each_redis_key([&](std::string_view key) {
    const std::uint64_t key_hash = hash_of(key);
    IndexShard& shard = index_shards_[key_hash & shard_mask_];
    std::lock_guard lock(shard.mutex);
    auto it = shard.refs.find(key_hash);
    if (it == shard.refs.end()) {
      return;  // a duplicate key of the same entry, already handled
    }
    it->second.remove(entry.id);
    if (it->second.empty()) {
      shard.refs.erase(it);
    }
  });
}

void ReplyCache::remove_refs_of(const std::list<Entry>& dropped) {
  for (const Entry& entry : dropped) {
    remove_refs(entry);
  }
}

LookupResult ReplyCache::lookup(std::string_view cache_key, Clock::time_point now,
                                std::string& reply_out) {
  const std::uint64_t hash = hash_of(cache_key);
  EntryShard& shard = entry_shards_[hash & shard_mask_];
  std::list<Entry> expired;
  LookupResult result;
  {
    std::lock_guard lock(shard.mutex);
    auto found = shard.by_key.find(KeyProbe{cache_key, hash});
    if (found == shard.by_key.end()) {
      ++shard.misses;
      return result;
    }
    auto it = found->second;
    if (now >= it->stale_until) {
      ++shard.misses;
      ++shard.expirations;
      shard.unlink(it, expired);
    } else {
      reply_out.assign(it->reply());
      shard.lru.splice(shard.lru.begin(), shard.lru, it);
      result.age = std::max(now - it->stored_at, Clock::duration::zero());
      if (now < it->fresh_until) {
        result.freshness = Freshness::Fresh;
        ++shard.hits_fresh;
      } else {
        result.freshness = Freshness::Stale;
        ++shard.hits_stale;
      }
      return result;
    }
  }
  remove_refs_of(expired);
  return result;
}

PutResult ReplyCache::put(ReadTicket ticket, std::string_view cache_key,
                          std::span<const std::string_view> redis_keys, std::string_view reply,
                          Clock::duration ttl, Clock::duration max_stale, Clock::time_point now,
                          Admission admission) {
  ttl = std::max(ttl, Clock::duration::zero());
  max_stale = std::max(max_stale, Clock::duration::zero());
  if (ttl == Clock::duration::zero() && max_stale == Clock::duration::zero()) {
    return PutResult::NoLifetime;
  }
  const std::size_t cost = entry_cost(cache_key, redis_keys, reply.size());
  if (cost > max_entry_bytes_) {
    rejected_too_large_.fetch_add(1, std::memory_order_relaxed);
    return PutResult::TooLarge;
  }

  // Each Redis key is hashed once here: the renewal check, the index and the race check use it.
  thread_local std::vector<std::uint64_t> key_hashes;
  key_hashes.clear();
  for (std::string_view key : redis_keys) {
    key_hashes.push_back(hash_of(key));
  }
  const std::uint64_t hash = hash_of(cache_key);
  const std::size_t home = hash & shard_mask_;
  EntryShard& shard = entry_shards_[home];
  switch (renew_or_admit(shard, hash, ticket, cache_key, key_hashes, reply, cost, ttl, max_stale,
                         now, admission)) {
    case Renewal::Renewed:
      return PutResult::Stored;
    case Renewal::NotAdmitted:
      rejected_admission_.fetch_add(1, std::memory_order_relaxed);
      return PutResult::NotAdmitted;
    case Renewal::Store:
      break;
  }

  // Build the node outside the lock; it is spliced in, so nothing is copied while locked.
  std::list<Entry> node(1);
  Entry& entry = node.front();
  entry.assign(cache_key, reply, redis_keys);
  entry.id = next_id_.fetch_add(1, std::memory_order_relaxed);
  entry.hash = hash;
  entry.cost = cost;
  entry.stored_at = now;
  entry.fresh_until = saturating_add(now, ttl);
  entry.stale_until = saturating_add(entry.fresh_until, max_stale);

  // References first, entry second: see the class comment for why this order is race-free.
  add_refs(key_hashes, entry);

  std::list<Entry> dropped;
  bool raced = false;
  {
    std::lock_guard lock(shard.mutex);
    if (invalidated_since(ticket, key_hashes)) {
      raced = true;
    } else {
      if (auto found = shard.by_key.find(KeyProbe{cache_key, hash}); found != shard.by_key.end()) {
        shard.unlink(found->second, dropped);
      }
      while (shard.bytes + cost > shard_budget_ && !shard.lru.empty()) {
        ++shard.evictions;
        shard.unlink(std::prev(shard.lru.end()), dropped);
      }
      shard.lru.splice(shard.lru.begin(), node);
      auto it = shard.lru.begin();
      shard.by_key.emplace(it->key(), it);
      shard.bytes += cost;
      ++shard.inserts;
    }
  }
  if (raced) {
    rejected_raced_.fetch_add(1, std::memory_order_relaxed);
    remove_refs(entry);
    return PutResult::Raced;
  }
  remove_refs_of(dropped);
  return PutResult::Stored;
}

ReplyCache::Renewal ReplyCache::renew_or_admit(EntryShard& shard, std::uint64_t hash,
                                               ReadTicket ticket, std::string_view cache_key,
                                               std::span<const std::uint64_t> key_hashes,
                                               std::string_view reply, std::size_t cost,
                                               Clock::duration ttl, Clock::duration max_stale,
                                               Clock::time_point now, Admission admission) {
  // The common case for a hot key: Redis returned what is cached. Renewing the entry in place
  // avoids copying the key and reply and re-publishing index references. Same cache key means
  // same command, so same Redis keys and cost; the entry's references stay valid since its id is
  // unchanged, and an invalidation racing this call either is seen here (the stripe check, under
  // the same lock as the slow path uses) or finds and drops this very entry afterwards.
  std::lock_guard lock(shard.mutex);
  // Every put counts, renewals included: the victim's count must reflect its reads too.
  shard.sketch.increment(hash);
  auto found = shard.by_key.find(KeyProbe{cache_key, hash});
  if (found == shard.by_key.end()) {
    if (admission == Admission::Always || shard.bytes + cost <= shard_budget_ ||
        shard.lru.empty()) {
      return Renewal::Store;
    }
    // Storing it would evict the least recently used entry (at least): only worth it for a key
    // read more often. Ties keep the incumbent, so a scan of one-time keys evicts nothing.
    // Judged against the first victim only, as Caffeine does; a large reply may evict more.
    return shard.sketch.frequency(hash) > shard.sketch.frequency(shard.lru.back().hash)
               ? Renewal::Store
               : Renewal::NotAdmitted;
  }
  Entry& entry = *found->second;
  if (entry.reply() != reply || invalidated_since(ticket, key_hashes)) {
    return Renewal::Store;  // the slow path replaces it, or refuses the raced put
  }
  entry.stored_at = now;
  entry.fresh_until = saturating_add(now, ttl);
  entry.stale_until = saturating_add(entry.fresh_until, max_stale);
  shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
  ++shard.inserts;
  return Renewal::Renewed;
}

std::size_t ReplyCache::invalidate_key(std::string_view redis_key) {
  // Bump before taking any lock: a put that misses the bump is then guaranteed to have published
  // its reference and entry before we look for them.
  const std::uint64_t key_hash = hash_of(redis_key);
  raise_to(stripe_of(key_hash), epoch_.fetch_add(1) + 1);

  // Copied, not moved out: a concurrent invalidation of the same key must see the references too,
  // or it could return while an entry it should drop is still cached (the other call has taken the
  // reference but not yet dropped the entry). References go only with their entry.
  thread_local std::vector<Ref> refs;
  {
    IndexShard& index = index_shards_[key_hash & shard_mask_];
    std::lock_guard lock(index.mutex);
    auto it = index.refs.find(key_hash);
    if (it == index.refs.end()) {
      return 0;
    }
    it->second.copy_to(refs);
  }

  std::list<Entry> dropped;
  for (const Ref& ref : refs) {
    EntryShard& shard = entry_shards_[ref.hash & shard_mask_];
    std::lock_guard lock(shard.mutex);
    auto found = shard.by_key.find(IdProbe{ref.hash, ref.id});
    // Found by id: a newer entry for the same command has its own reference.
    if (found != shard.by_key.end()) {
      ++shard.invalidations;
      shard.unlink(found->second, dropped);
    }
  }
  remove_refs_of(dropped);
  return dropped.size();
}

void ReplyCache::clear() {
  raise_to(cleared_epoch_, epoch_.fetch_add(1) + 1);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    EntryShard& shard = entry_shards_[i];
    std::list<Entry> dropped;
    {
      std::lock_guard lock(shard.mutex);
      shard.invalidations += shard.lru.size();
      dropped.splice(dropped.end(), shard.lru);
      shard.by_key.clear();
      shard.bytes = 0;
    }
    // Entry by entry rather than wiping the index: a concurrent put may already have published
    // references for an entry it is about to insert legitimately.
    remove_refs_of(dropped);
  }
}

ReplyCacheStats ReplyCache::stats() const {
  ReplyCacheStats total;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    EntryShard& shard = entry_shards_[i];
    std::lock_guard lock(shard.mutex);
    total.hits_fresh += shard.hits_fresh;
    total.hits_stale += shard.hits_stale;
    total.misses += shard.misses;
    total.inserts += shard.inserts;
    total.evictions += shard.evictions;
    total.expirations += shard.expirations;
    total.invalidations += shard.invalidations;
    total.bytes += shard.bytes;
    total.entries += shard.lru.size();
  }
  total.rejected_too_large = rejected_too_large_.load(std::memory_order_relaxed);
  total.rejected_raced = rejected_raced_.load(std::memory_order_relaxed);
  total.rejected_admission = rejected_admission_.load(std::memory_order_relaxed);
  return total;
}

namespace {
char* put_length(std::size_t length, char* out) {
  // Fixed four bytes, little-endian: unambiguous and cheap. Arguments are far below 4 GiB.
  const auto n = static_cast<std::uint32_t>(length);
  for (int shift = 0; shift < 32; shift += 8) {
    *out++ = static_cast<char>((n >> shift) & 0xffu);
  }
  return out;
}
}  // namespace

void make_cache_key(std::span<const std::string_view> args, std::string& out) {
  out.clear();
  if (args.empty()) {
    return;
  }
  // Sized once and filled in place: this runs for every read under an l1 policy.
  std::size_t total = 0;
  for (std::string_view arg : args) {
    total += 4 + arg.size();
  }
  out.resize(total);
  char* p = out.data();
  p = put_length(args[0].size(), p);
  for (char c : args[0]) {
    *p++ = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  for (std::string_view arg : args.subspan(1)) {
    p = put_length(arg.size(), p);
    p = std::copy(arg.begin(), arg.end(), p);
  }
}

std::string make_cache_key(std::span<const std::string_view> args) {
  std::string out;
  make_cache_key(args, out);
  return out;
}

}  // namespace seawall::cache
