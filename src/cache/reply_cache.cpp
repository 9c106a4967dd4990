#include "seawall/cache/reply_cache.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "cache/reply_shards.hpp"

namespace seawall::cache {

using detail::Ref;
using detail::Refs;

namespace {

// Invalidation stripes: 8192 epochs (64 KiB). More stripes mean fewer puts refused because an
// unrelated key hashing to the same stripe was written while the read was in flight.
constexpr std::size_t kStripes = 8192;
constexpr std::size_t kMaxShards = 1024;
// Sketch words per byte of a shard's budget: one word (16 counters) per 512 bytes, about one per
// entry the shard can hold (a GET of a short key and a small value costs about 450 bytes), which
// keeps the sketch near 1/64 of the budget.
constexpr std::size_t kBudgetBytesPerSketchWord = 512;
// At least 8 blocks of 64 bytes: a key's four counters share one block, and a small L1 with a
// one-block sketch would have every key's counts collide.
constexpr std::size_t kMinSketchWords = 64;

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

}  // namespace

namespace {
// Bookkeeping charged per entry and per Redis key, on top of the bytes of the strings: the entry's
// header, its table slots (a hash beside a Meta in each) and allocator rounding, and per key
// its length in the entry plus its index slot (a hash beside its Refs).
constexpr std::size_t kPointer = sizeof(void*);
// Meta::cost's 31 bits (the masks tell the compiler what max_entry_bytes_ guarantees).
constexpr std::uint32_t kMaxCost = 0x7fffffffu;
constexpr std::size_t kPerKeyOverhead = 4 + sizeof(OpenTable<Refs>::Slot) + 4 * kPointer;
}  // namespace

std::size_t ReplyCache::entry_cost(std::string_view cache_key,
                                   std::span<const std::string_view> redis_keys,
                                   std::size_t reply_size) noexcept {
  // A table between 3/8 and 3/4 full holds about two slots per entry.
  constexpr std::size_t kSlotBytes = sizeof(EntryShard::Table::Slot);
  constexpr std::size_t kEntryOverhead = sizeof(Entry) + 2 * kSlotBytes + 2 * kPointer;
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
      // Meta keeps an entry's cost in 31 bits; Redis's own bulk strings stop at 512 MiB.
      max_entry_bytes_(std::min({options.max_entry_bytes, shard_budget_, std::size_t{kMaxCost}})),
      entry_shards_(std::make_unique<EntryShard[]>(shard_mask_ + 1)),
      index_shards_(std::make_unique<IndexShard[]>(shard_mask_ + 1)),
      stripes_(std::make_unique<std::atomic<std::uint64_t>[]>(kStripes)) {
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    entry_shards_[i].sketch =
        FrequencySketch(std::max(kMinSketchWords, shard_budget_ / kBudgetBytesPerSketchWord));
  }
}

ReplyCache::~ReplyCache() = default;

std::atomic<std::uint64_t>& ReplyCache::stripe_of(std::uint64_t key_hash) const noexcept {
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

void ReplyCache::add_refs(std::span<const std::uint64_t> key_hashes, std::uint64_t id,
                          std::uint64_t hash) {
  const Ref ref{id, hash};
  for (const std::uint64_t key_hash : key_hashes) {
    IndexShard& shard = index_shards_[key_hash & shard_mask_];
    std::lock_guard lock(shard.mutex);
    if (Refs* found = shard.find(key_hash); found != nullptr) {
      found->add(ref);
    } else {
      Refs refs;
      refs.add(ref);
      shard.refs.insert(key_hash, std::move(refs));
    }
  }
}

void ReplyCache::remove_ref(std::uint64_t key_hash, std::uint64_t id) {
  IndexShard& shard = index_shards_[key_hash & shard_mask_];
  std::lock_guard lock(shard.mutex);
  const std::size_t slot = shard.refs.find(key_hash, [](const Refs&) { return true; });
  if (slot == OpenTable<Refs>::kNone) {
    return;  // a duplicate key of the same entry, already handled
  }
  shard.refs.at(slot).remove(id);
  if (shard.refs.at(slot).empty()) {
    shard.refs.erase(slot);
  }
}

void ReplyCache::remove_refs(const Entry& entry, std::uint64_t id) {
  entry.for_each_redis_key([&](std::string_view key) { remove_ref(hash_of(key), id); });
}

void ReplyCache::remove_refs_of(const Dropped& dropped) {
  for (const Dropped::Record& record : dropped.records()) {
    if (record.has_key_hash) {
      remove_ref(record.only_key_hash, record.id);
    } else {
      remove_refs(*record.entry, record.id);
    }
  }
}

LookupResult ReplyCache::lookup(std::string_view cache_key, Clock::time_point now,
                                std::string& reply_out) {
  const std::uint64_t hash = hash_of(cache_key);
  EntryShard& shard = entry_shards_[hash & shard_mask_];
  Dropped expired;
  LookupResult result;
  {
    std::lock_guard lock(shard.mutex);
    const EntryShard::Slot slot = shard.find(cache_key, hash);
    if (slot == EntryShard::kNone) {
      ++shard.misses;
      return result;
    }
    Meta& meta = shard.meta(slot);
    if (now >= meta.stale_until) {
      ++shard.misses;
      ++shard.expirations;
      shard.unlink(slot, expired);
    } else {
      reply_out.assign(meta.entry->reply());
      shard.touch(meta);
      result.filled = meta.filled;
      if (now < meta.fresh_until) {
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
                          Admission admission, bool verified) {
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
  Meta meta;
  meta.reply_hash = hash_of(reply);
  meta.fresh_until = saturating_add(now, ttl);
  meta.stale_until = saturating_add(meta.fresh_until, max_stale);
  meta.filled = verified ? ticket.epoch : 0;
  EntryShard& shard = entry_shards_[hash & shard_mask_];
  switch (renew_or_admit(shard, hash, ticket, key_hashes, meta, cost, admission)) {
    case Renewal::Renewed:
      return PutResult::Stored;
    case Renewal::NotAdmitted:
      rejected_admission_.fetch_add(1, std::memory_order_relaxed);
      return PutResult::NotAdmitted;
    case Renewal::Store:
      break;
  }

  // Built outside the lock, so nothing is copied while locked.
  Entry* const created = Entry::create(cache_key, reply, redis_keys);
  created->hash = hash;
  meta.cost = static_cast<std::uint32_t>(cost) & kMaxCost;  // below max_entry_bytes_
  const bool ok = link(created, meta, key_hashes, ticket, /*keep_newer=*/false);
  return ok ? PutResult::Stored : PutResult::Raced;
}

bool ReplyCache::link(Entry* entry, Meta meta, std::span<const std::uint64_t> key_hashes,
                      ReadTicket ticket, bool keep_newer) {
  meta.entry = entry;
  meta.id = next_id_.fetch_add(1, std::memory_order_relaxed);
  meta.single_key = key_hashes.size() == 1 ? 1 : 0;
  // References first, entry second: see the class comment for why this order is race-free.
  add_refs(key_hashes, meta.id, entry->hash);

  EntryShard& shard = entry_shards_[entry->hash & shard_mask_];
  Dropped dropped;
  bool raced = false;
  bool linked = false;
  {
    std::lock_guard lock(shard.mutex);
    const EntryShard::Slot old = shard.find(entry->cache_key(), entry->hash);
    if (invalidated_since(ticket, key_hashes)) {
      raced = true;
    } else if (old == EntryShard::kNone || !keep_newer) {
      if (old != EntryShard::kNone) {
        shard.unlink(old, dropped);
      }
      while (shard.bytes + meta.cost > shard_budget_ && shard.size() != 0) {
        ++shard.evictions;
        shard.unlink(shard.victim(), dropped);
      }
      shard.touch(meta);
      shard.insert(entry, meta);
      ++shard.inserts;
      linked = true;
    }
  }
  if (!linked) {
    if (raced) {
      rejected_raced_.fetch_add(1, std::memory_order_relaxed);
    }
    remove_refs(*entry, meta.id);
    Entry::destroy(entry);
    return false;
  }
  remove_refs_of(dropped);
  return true;
}

std::size_t ReplyCache::restore(ReadTicket ticket, Withheld& withheld) {
  std::size_t restored = 0;
  thread_local std::vector<std::uint64_t> key_hashes;
  for (Withheld::Kept& kept : withheld.kept_) {
    Entry* const entry = std::exchange(kept.entry, nullptr);
    key_hashes.clear();
    entry->for_each_redis_key([&](std::string_view key) { key_hashes.push_back(hash_of(key)); });
    Meta meta;
    meta.reply_hash = hash_of(entry->reply());
    meta.fresh_until = kept.fresh_until;
    meta.stale_until = kept.stale_until;
    meta.cost = kept.cost & kMaxCost;  // it came from a Meta
    if (link(entry, meta, key_hashes, ticket, /*keep_newer=*/true)) {
      ++restored;
    }
  }
  withheld.kept_.clear();
  return restored;
}

ReplyCache::Withheld& ReplyCache::Withheld::operator=(Withheld&& other) noexcept {
  if (this != &other) {
    clear();
    kept_ = std::exchange(other.kept_, {});
  }
  return *this;
}

void ReplyCache::Withheld::clear() noexcept {
  for (Kept& kept : kept_) {
    if (kept.entry != nullptr) {
      Entry::destroy(kept.entry);
    }
  }
  kept_.clear();
}

ReplyCache::Renewal ReplyCache::renew_or_admit(EntryShard& shard, std::uint64_t hash,
                                               ReadTicket ticket,
                                               std::span<const std::uint64_t> key_hashes,
                                               const Meta& renewed, std::size_t cost,
                                               Admission admission) {
  // The common case for a hot key: Redis returned what is cached. Renewing the entry in place
  // touches only the shard's table (no copy of key or reply, no new index references). Same
  // cache key means same command, so same Redis keys and cost; the entry's references stay valid
  // since its id is unchanged, and an invalidation racing this call either is seen here (the
  // stripe check, under the same lock as the slow path uses) or finds and drops this very entry
  // afterwards.
  std::lock_guard lock(shard.mutex);
  shard.sketch.prefetch(hash);  // its miss overlaps the table's
  const EntryShard::Slot slot = shard.find_hash(hash);
  // Every put counts, renewals included: the victim's count must reflect its reads too.
  shard.sketch.increment(hash);
  if (slot == EntryShard::kNone) {
    if (admission == Admission::Always || shard.bytes + cost <= shard_budget_ ||
        shard.size() == 0) {
      return Renewal::Store;
    }
    // Storing it would evict the least recently used entry (at least): only worth it for a key
    // read more often. Ties keep the incumbent, so a scan of one-time keys evicts nothing.
    // Judged against one victim only, as Caffeine does; a large reply may evict more.
    // The victim's hash as its slot holds it: reading the entry's would cost a cache miss.
    const std::uint64_t victim_hash = shard.table.hash_at(shard.victim());
    return shard.sketch.frequency(hash) > shard.sketch.frequency(victim_hash)
               ? Renewal::Store
               : Renewal::NotAdmitted;
  }
  Meta& meta = shard.meta(slot);
  // A reply is recognised by a 64-bit hash of its bytes: comparing the bytes would cost a cache
  // miss on the entry, and two different replies of one command hashing alike is about 5e-20.
  if (meta.reply_hash != renewed.reply_hash || invalidated_since(ticket, key_hashes)) {
    return Renewal::Store;  // the slow path replaces it, or refuses the raced put
  }
  if (meta.filled == 0 || renewed.filled != 0) {
    // A verified entry's fresh time is near mode's to extend (verify), not an unverified put's.
    meta.fresh_until = renewed.fresh_until;
  }
  meta.stale_until = renewed.stale_until;
  meta.filled = std::max(meta.filled, renewed.filled);
  shard.touch(meta);
  ++shard.inserts;
  return Renewal::Renewed;
}

bool ReplyCache::verify(ReadTicket ticket, std::string_view cache_key, std::string_view redis_key,
                        Clock::time_point fresh_until) {
  const std::uint64_t hash = hash_of(cache_key);
  const std::array<std::uint64_t, 1> key_hashes{hash_of(redis_key)};
  EntryShard& shard = entry_shards_[hash & shard_mask_];
  std::lock_guard lock(shard.mutex);
  const EntryShard::Slot slot = shard.find(cache_key, hash);
  if (slot == EntryShard::kNone || invalidated_since(ticket, key_hashes)) {
    return false;
  }
  Meta& meta = shard.meta(slot);
  meta.filled = std::max(meta.filled, ticket.epoch);
  meta.fresh_until = std::min(fresh_until, meta.stale_until);
  return true;
}

void ReplyCache::prefetch(std::string_view redis_key, std::string_view cache_key) const noexcept {
  const std::uint64_t key_hash = hash_of(redis_key);
  index_shards_[key_hash & shard_mask_].refs.prefetch(key_hash);
  __builtin_prefetch(&stripe_of(key_hash));
  const std::uint64_t hash = hash_of(cache_key);
  entry_shards_[hash & shard_mask_].table.prefetch(hash);
}

std::size_t ReplyCache::invalidate_key(std::string_view redis_key, Withheld* withheld) {
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
    const Refs* found = index.find(key_hash);
    if (found == nullptr) {
      return 0;
    }
    found->copy_to(refs);
  }

  Dropped dropped;
  for (const Ref& ref : refs) {
    EntryShard& shard = entry_shards_[ref.hash & shard_mask_];
    std::lock_guard lock(shard.mutex);
    // Found by id: a newer entry for the same command has its own reference.
    if (const EntryShard::Slot slot = shard.find_id(ref.hash, ref.id); slot != EntryShard::kNone) {
      ++shard.invalidations;
      if (withheld != nullptr) {
        const Meta& meta = shard.meta(slot);
        withheld->kept_.push_back({nullptr, meta.fresh_until, meta.stale_until, meta.cost});
      }
      shard.unlink(slot, dropped, &key_hash);
    }
  }
  remove_refs_of(dropped);
  const std::size_t count = dropped.size();
  if (withheld != nullptr) {
    // In unlink order: the Kept records pushed above, last `count` of them.
    const std::span<Withheld::Kept> kept(withheld->kept_.end() - static_cast<std::ptrdiff_t>(count),
                                         withheld->kept_.end());
    dropped.release_into(
        [&, i = std::size_t{0}](Entry* entry) mutable { kept[i++].entry = entry; });
  }
  return count;
}

void ReplyCache::clear() {
  raise_to(cleared_epoch_, epoch_.fetch_add(1) + 1);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    EntryShard& shard = entry_shards_[i];
    Dropped dropped;
    {
      std::lock_guard lock(shard.mutex);
      shard.invalidations += shard.size();
      shard.table.for_each([&](const Meta& meta) { dropped.add({meta.entry, meta.id, 0, false}); });
      shard.table.reset();
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
    total.entries += shard.size();
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
