#include "seawall/cache/reply_cache.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace seawall::cache {
namespace {

using namespace std::chrono_literals;
using Keys = std::vector<std::string_view>;

constexpr Clock::time_point kT0 = Clock::time_point{} + 1000s;

ReplyCacheOptions options(std::size_t max_bytes, std::size_t shards,
                          std::size_t max_entry_bytes = 1u << 20) {
  ReplyCacheOptions o;
  o.max_bytes = max_bytes;
  o.shards = shards;
  o.max_entry_bytes = max_entry_bytes;
  return o;
}

PutResult put(ReplyCache& cache, std::string_view cache_key, Keys keys, std::string_view reply,
              Clock::time_point now = kT0, Clock::duration ttl = 10s,
              Clock::duration max_stale = 60s) {
  return cache.put(cache.begin_read(), cache_key, keys, reply, ttl, max_stale, now);
}

Freshness look(ReplyCache& cache, std::string_view cache_key, Clock::time_point now = kT0) {
  std::string out;
  return cache.lookup(cache_key, now, out).freshness;
}

TEST(MakeCacheKeyTest, LowercasesTheNameOnly) {
  const std::array<std::string_view, 2> upper{"GET", "Key"};
  const std::array<std::string_view, 2> lower{"get", "Key"};
  const std::array<std::string_view, 2> other{"get", "key"};
  EXPECT_EQ(make_cache_key(upper), make_cache_key(lower));
  EXPECT_NE(make_cache_key(lower), make_cache_key(other));
}

TEST(MakeCacheKeyTest, IsUnambiguous) {
  const std::array<std::string_view, 3> a{"lrange", "k 0", "9"};
  const std::array<std::string_view, 3> b{"lrange", "k", "0 9"};
  const std::array<std::string_view, 2> c{"lrange", "k0 9"};
  const std::array<std::string_view, 2> d{"get", std::string_view("\0k", 2)};
  const std::array<std::string_view, 3> e{"get", "", "k"};
  EXPECT_NE(make_cache_key(a), make_cache_key(b));
  EXPECT_NE(make_cache_key(a), make_cache_key(c));
  EXPECT_NE(make_cache_key(d), make_cache_key(e));
}

TEST(MakeCacheKeyTest, ReusesBuffer) {
  const std::array<std::string_view, 2> args{"GET", "k"};
  std::string out = "leftover";
  make_cache_key(args, out);
  EXPECT_EQ(out, make_cache_key(args));
  EXPECT_EQ(out.size(), 4u + 3u + 4u + 1u);
}

TEST(ReplyCacheTest, MissLeavesOutputUntouched) {
  ReplyCache cache(options(1 << 20, 4));
  std::string out = "unchanged";
  const LookupResult r = cache.lookup("nope", kT0, out);
  EXPECT_EQ(r.freshness, Freshness::Miss);
  EXPECT_EQ(out, "unchanged");
  EXPECT_EQ(cache.stats().misses, 1u);
}

TEST(ReplyCacheTest, FreshThenStaleThenGone) {
  ReplyCache cache(options(1 << 20, 4));
  ASSERT_EQ(put(cache, "get k", {"k"}, "$1\r\nv\r\n", kT0, 10s, 60s), PutResult::Stored);

  std::string out;
  LookupResult r = cache.lookup("get k", kT0, out);
  EXPECT_EQ(r.freshness, Freshness::Fresh);
  EXPECT_EQ(out, "$1\r\nv\r\n");

  r = cache.lookup("get k", kT0 + 10s - 1ns, out);
  EXPECT_EQ(r.freshness, Freshness::Fresh);

  r = cache.lookup("get k", kT0 + 10s, out);
  EXPECT_EQ(r.freshness, Freshness::Stale);
  EXPECT_EQ(out, "$1\r\nv\r\n");

  EXPECT_EQ(look(cache, "get k", kT0 + 70s - 1ns), Freshness::Stale);
  EXPECT_EQ(cache.stats().entries, 1u);

  out.clear();
  EXPECT_EQ(cache.lookup("get k", kT0 + 70s, out).freshness, Freshness::Miss);
  EXPECT_TRUE(out.empty());
  const ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.expirations, 1u);
  // Gone for good: an earlier clock does not bring it back, and its index reference is gone too.
  EXPECT_EQ(look(cache, "get k", kT0), Freshness::Miss);
  EXPECT_EQ(cache.invalidate_key("k"), 0u);
}

TEST(ReplyCacheTest, ZeroTtlIsStaleOnlyAndZeroLifetimeIsRefused) {
  ReplyCache cache(options(1 << 20, 1));
  ASSERT_EQ(put(cache, "get a", {"a"}, "x", kT0, 0s, 5s), PutResult::Stored);
  EXPECT_EQ(look(cache, "get a", kT0), Freshness::Stale);
  EXPECT_EQ(put(cache, "get b", {"b"}, "x", kT0, 0s, 0s), PutResult::NoLifetime);
  EXPECT_EQ(look(cache, "get b", kT0), Freshness::Miss);
}

TEST(ReplyCacheTest, StaysWithinByteBound) {
  const std::string reply(100, 'r');
  const Keys keys{"key:00"};
  const std::size_t cost = ReplyCache::entry_cost("get key:00", keys, reply.size());
  ReplyCache cache(options(3 * cost + cost / 2, 1));
  for (int i = 0; i < 10; ++i) {
    const std::string key = "key:0" + std::to_string(i);
    ASSERT_EQ(put(cache, "get " + key, {key}, reply), PutResult::Stored);
    EXPECT_LE(cache.stats().bytes, 3 * cost + cost / 2);
  }
  const ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.bytes, 3 * cost);
  EXPECT_EQ(s.evictions, 7u);
  EXPECT_EQ(s.inserts, 10u);
  // Evicted entries left no index references behind.
  EXPECT_EQ(cache.invalidate_key("key:00"), 0u);
  EXPECT_EQ(cache.invalidate_key("key:09"), 1u);
}

TEST(ReplyCacheTest, ByteBoundHoldsAcrossShards) {
  const std::string reply(200, 'r');
  ReplyCache cache(options(64 * 1024, 16));
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "k" + std::to_string(i);
    put(cache, "get " + key, {key}, reply);
  }
  const ReplyCacheStats s = cache.stats();
  EXPECT_LE(s.bytes, 64u * 1024);
  EXPECT_GT(s.entries, 0u);
  EXPECT_EQ(s.entries + s.evictions, 2000u);
}

TEST(ReplyCacheTest, EvictsLeastRecentlyUsed) {
  const Keys ka{"a"};
  const std::size_t cost = ReplyCache::entry_cost("get a", ka, 1);
  ReplyCache cache(options(3 * cost, 1));
  put(cache, "get a", {"a"}, "1");
  put(cache, "get b", {"b"}, "2");
  put(cache, "get c", {"c"}, "3");
  ASSERT_EQ(look(cache, "get a"), Freshness::Fresh);  // a is now the most recent

  put(cache, "get d", {"d"}, "4");  // evicts b
  EXPECT_EQ(look(cache, "get b"), Freshness::Miss);
  EXPECT_EQ(look(cache, "get a"), Freshness::Fresh);
  EXPECT_EQ(look(cache, "get c"), Freshness::Fresh);
  EXPECT_EQ(look(cache, "get d"), Freshness::Fresh);

  put(cache, "get e", {"e"}, "5");  // order now a, c, d: evicts a
  EXPECT_EQ(look(cache, "get a"), Freshness::Miss);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

// Beyond the 16 entries it scans, eviction samples (as Redis does): what it evicts is still
// old. 400 entries in one shard, the first 200 read again, then 100 new ones: almost all of the
// 100 evicted come from the 200 not read since they were stored.
TEST(ReplyCacheTest, SampledEvictionPrefersEntriesNotReadLately) {
  const auto name = [](int i) { return "get k" + std::to_string(1000 + i); };
  const std::string k0 = "k1000";
  const std::size_t cost = ReplyCache::entry_cost(name(0), Keys{k0}, 1);
  ReplyCache cache(options(400 * cost, 1));
  for (int i = 0; i < 400; ++i) {
    const std::string key = name(i).substr(4);
    ASSERT_EQ(put(cache, name(i), {key}, "v"), PutResult::Stored);
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(look(cache, name(i)), Freshness::Fresh);
  }
  for (int i = 400; i < 500; ++i) {
    const std::string key = name(i).substr(4);
    ASSERT_EQ(put(cache, name(i), {key}, "v"), PutResult::Stored);
  }
  EXPECT_EQ(cache.stats().evictions, 100u);
  int recent_evicted = 0;
  for (int i = 0; i < 200; ++i) {
    recent_evicted += look(cache, name(i)) == Freshness::Miss ? 1 : 0;
  }
  EXPECT_LE(recent_evicted, 10);
}

// Many entries across growths of the shard's table, half of them invalidated in an interleaved
// order (each removal shifts later slots of its probe run back): every survivor is still found,
// with its own reply, and no dropped one is.
TEST(ReplyCacheTest, ManyEntriesSurviveGrowthAndRemovals) {
  ReplyCache cache(options(64u << 20, 2));
  constexpr int kCount = 20000;
  const auto key = [](int i) { return "key:" + std::to_string(i); };
  for (int i = 0; i < kCount; ++i) {
    const std::string k = key(i);
    ASSERT_EQ(put(cache, "get " + k, {k}, "v" + std::to_string(i)), PutResult::Stored);
  }
  for (int i = 0; i < kCount; i += 2) {
    ASSERT_EQ(cache.invalidate_key(key(i)), 1u);
  }
  EXPECT_EQ(cache.stats().entries, static_cast<std::uint64_t>(kCount / 2));
  for (int i = 0; i < kCount; ++i) {
    std::string out;
    const Freshness f = cache.lookup("get " + key(i), kT0, out).freshness;
    if (i % 2 == 0) {
      ASSERT_EQ(f, Freshness::Miss) << i;
    } else {
      ASSERT_EQ(f, Freshness::Fresh) << i;
      ASSERT_EQ(out, "v" + std::to_string(i));
    }
  }
  // The index lost exactly the dropped references.
  for (int i = 1; i < kCount; i += 2) {
    ASSERT_EQ(cache.invalidate_key(key(i)), 1u) << i;
  }
  EXPECT_EQ(cache.stats().entries, 0u);
}

PutResult put_lfu(ReplyCache& cache, std::string_view cache_key, Keys keys,
                  std::string_view reply) {
  return cache.put(cache.begin_read(), cache_key, keys, reply, 10s, 60s, kT0, Admission::TinyLfu);
}

TEST(ReplyCacheAdmissionTest, AdmitsEveryReplyWhileThereIsRoom) {
  const std::size_t cost = ReplyCache::entry_cost("get a", Keys{"a"}, 1);
  ReplyCache cache(options(3 * cost, 1));
  EXPECT_EQ(put_lfu(cache, "get a", {"a"}, "1"), PutResult::Stored);
  EXPECT_EQ(put_lfu(cache, "get b", {"b"}, "2"), PutResult::Stored);
  EXPECT_EQ(put_lfu(cache, "get c", {"c"}, "3"), PutResult::Stored);
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_EQ(cache.stats().rejected_admission, 0u);
}

TEST(ReplyCacheAdmissionTest, RefusesANewKeyReadNoMoreOftenThanTheVictim) {
  const std::size_t cost = ReplyCache::entry_cost("get a", Keys{"a"}, 1);
  ReplyCache cache(options(3 * cost, 1));
  put_lfu(cache, "get a", {"a"}, "1");
  put_lfu(cache, "get b", {"b"}, "2");
  put_lfu(cache, "get c", {"c"}, "3");
  // Full: d (seen once) against the LRU entry a (seen once): the incumbent stays.
  EXPECT_EQ(put_lfu(cache, "get d", {"d"}, "4"), PutResult::NotAdmitted);
  EXPECT_EQ(look(cache, "get d"), Freshness::Miss);
  EXPECT_EQ(look(cache, "get a"), Freshness::Fresh);
  EXPECT_EQ(cache.stats().evictions, 0u);
  EXPECT_EQ(cache.stats().rejected_admission, 1u);
  // Nothing of the refused entry is left in the index.
  EXPECT_EQ(cache.invalidate_key("d"), 0u);
}

TEST(ReplyCacheAdmissionTest, AdmitsANewKeyReadMoreOftenThanTheVictim) {
  const std::size_t cost = ReplyCache::entry_cost("get a", Keys{"a"}, 1);
  ReplyCache cache(options(3 * cost, 1));
  put_lfu(cache, "get a", {"a"}, "1");
  put_lfu(cache, "get b", {"b"}, "2");
  put_lfu(cache, "get c", {"c"}, "3");
  ASSERT_EQ(put_lfu(cache, "get d", {"d"}, "4"), PutResult::NotAdmitted);
  // Read again: twice now, against a's once. a (least recently used) goes.
  EXPECT_EQ(put_lfu(cache, "get d", {"d"}, "4"), PutResult::Stored);
  EXPECT_EQ(look(cache, "get d"), Freshness::Fresh);
  EXPECT_EQ(look(cache, "get a"), Freshness::Miss);
  EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST(ReplyCacheAdmissionTest, AlwaysStoresWhateverTheCounts) {
  // Written values: the outage must read what was written through seawall.
  const std::size_t cost = ReplyCache::entry_cost("get a", Keys{"a"}, 1);
  ReplyCache cache(options(3 * cost, 1));
  for (int i = 0; i < 5; ++i) {
    put_lfu(cache, "get a", {"a"}, "1");
    put_lfu(cache, "get b", {"b"}, "2");
    put_lfu(cache, "get c", {"c"}, "3");
  }
  EXPECT_EQ(put(cache, "get d", {"d"}, "4"), PutResult::Stored);  // Admission::Always
  EXPECT_EQ(look(cache, "get d"), Freshness::Fresh);
  EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST(ReplyCacheAdmissionTest, CachedEntriesAreRenewedAndReplacedWhateverTheirCount) {
  const std::size_t cost = ReplyCache::entry_cost("get a", Keys{"a"}, 1);
  ReplyCache cache(options(3 * cost, 1));
  put_lfu(cache, "get a", {"a"}, "1");
  put_lfu(cache, "get b", {"b"}, "2");
  put_lfu(cache, "get c", {"c"}, "3");
  for (int i = 0; i < 5; ++i) {
    put_lfu(cache, "get d", {"d"}, "4");  // d gets in, evicting a
  }
  ASSERT_EQ(look(cache, "get a"), Freshness::Miss);
  // b was read once, d five times: b's new value still replaces its old one.
  EXPECT_EQ(put_lfu(cache, "get b", {"b"}, "9"), PutResult::Stored);
  std::string out;
  EXPECT_EQ(cache.lookup("get b", kT0, out).freshness, Freshness::Fresh);
  EXPECT_EQ(out, "9");
  EXPECT_EQ(put_lfu(cache, "get c", {"c"}, "3"), PutResult::Stored);  // renewed in place
}

// 20 hot keys read over and over among 1,000 keys read once each, through an L1 that holds 20
// entries: how many hot keys are still cached at the end.
int hot_keys_kept(Admission admission) {
  const std::string reply(100, 'r');
  const auto hot = [](int i) {
    return "hot:" + std::string(i < 10 ? "0" : "") + std::to_string(i);
  };
  const std::size_t cost = ReplyCache::entry_cost("get hot:00", Keys{"hot:00"}, reply.size());
  ReplyCache cache(options(20 * cost, 1));
  const auto read = [&](const std::string& key) {
    cache.put(cache.begin_read(), "get " + key, Keys{key}, reply, 10s, 60s, kT0, admission);
  };
  for (int i = 0; i < 20; ++i) {
    read(hot(i));
  }
  for (int i = 0; i < 1000; ++i) {
    read("cold:" + std::to_string(1000 + i));
    read(hot(i % 20));
  }
  int kept = 0;
  for (int i = 0; i < 20; ++i) {
    kept += look(cache, "get " + hot(i)) == Freshness::Fresh ? 1 : 0;
  }
  return kept;
}

TEST(ReplyCacheAdmissionTest, OneTimeReadsDoNotPushOutTheHotSet) {
  EXPECT_GE(hot_keys_kept(Admission::TinyLfu), 18);
  // Without admission every one-time key is stored, but eviction takes the sampled entry read
  // least often: a one-time key, not a hot one (plain LRU kept the last 20 keys read, half of
  // them one-time keys, 10 hot).
  EXPECT_GE(hot_keys_kept(Admission::Always), 16);
}

TEST(ReplyCacheTest, StaleHitAlsoRefreshesLruPosition) {
  const Keys ka{"a"};
  const std::size_t cost = ReplyCache::entry_cost("get a", ka, 1);
  ReplyCache cache(options(2 * cost, 1));
  put(cache, "get a", {"a"}, "1", kT0, 1s, 60s);
  put(cache, "get b", {"b"}, "2", kT0, 1s, 60s);
  ASSERT_EQ(look(cache, "get a", kT0 + 5s), Freshness::Stale);
  put(cache, "get c", {"c"}, "3", kT0 + 5s);
  EXPECT_EQ(look(cache, "get b", kT0 + 5s), Freshness::Miss);
  EXPECT_EQ(look(cache, "get a", kT0 + 5s), Freshness::Stale);
}

TEST(ReplyCacheTest, OverwriteAdjustsBytesAndKeys) {
  ReplyCache cache(options(1 << 20, 4));
  const Keys old_keys{"a", "b"};
  const Keys new_keys{"c"};
  ASSERT_EQ(put(cache, "cmd", old_keys, std::string(10, 'x')), PutResult::Stored);
  EXPECT_EQ(cache.stats().bytes, ReplyCache::entry_cost("cmd", old_keys, 10));

  ASSERT_EQ(put(cache, "cmd", new_keys, std::string(500, 'y')), PutResult::Stored);
  ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, ReplyCache::entry_cost("cmd", new_keys, 500));
  EXPECT_EQ(s.inserts, 2u);
  std::string out;
  EXPECT_EQ(cache.lookup("cmd", kT0, out).freshness, Freshness::Fresh);
  EXPECT_EQ(out, std::string(500, 'y'));

  // The replaced entry's references went with it; the new one's are live.
  EXPECT_EQ(cache.invalidate_key("a"), 0u);
  EXPECT_EQ(cache.invalidate_key("b"), 0u);
  EXPECT_EQ(look(cache, "cmd"), Freshness::Fresh);
  EXPECT_EQ(cache.invalidate_key("c"), 1u);
  s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
}

TEST(ReplyCacheTest, InvalidateDropsEveryReplyDependingOnTheKey) {
  // Many shards so that the keys and cache keys spread over different shards.
  ReplyCache cache(options(1 << 20, 64));
  put(cache, "get k", {"k"}, "1");
  put(cache, "strlen k", {"k"}, "2");
  put(cache, "mget a k", {"a", "k"}, "3");
  put(cache, "sunion x y k", {"x", "y", "k"}, "4");
  put(cache, "get a", {"a"}, "5");
  put(cache, "mget a x", {"a", "x"}, "6");

  EXPECT_EQ(cache.invalidate_key("k"), 4u);
  EXPECT_EQ(look(cache, "get k"), Freshness::Miss);
  EXPECT_EQ(look(cache, "strlen k"), Freshness::Miss);
  EXPECT_EQ(look(cache, "mget a k"), Freshness::Miss);
  EXPECT_EQ(look(cache, "sunion x y k"), Freshness::Miss);
  EXPECT_EQ(look(cache, "get a"), Freshness::Fresh);
  EXPECT_EQ(look(cache, "mget a x"), Freshness::Fresh);

  ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.invalidations, 4u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.bytes, ReplyCache::entry_cost("get a", Keys{"a"}, 1) +
                         ReplyCache::entry_cost("mget a x", Keys{"a", "x"}, 1));

  // Dropping a multi-key entry through one key removed its references under the others.
  EXPECT_EQ(cache.invalidate_key("y"), 0u);
  EXPECT_EQ(cache.invalidate_key("x"), 1u);
  EXPECT_EQ(cache.invalidate_key("a"), 1u);
  s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.invalidations, 6u);
}

TEST(ReplyCacheTest, InvalidateThroughAnyKeyOfAMultiKeyEntry) {
  for (std::string_view which : {"a", "b", "c", "d"}) {
    ReplyCache cache(options(1 << 20, 64));
    put(cache, "mget a b c d", {"a", "b", "c", "d"}, "x");
    EXPECT_EQ(cache.invalidate_key(which), 1u) << which;
    EXPECT_EQ(look(cache, "mget a b c d"), Freshness::Miss) << which;
  }
}

TEST(ReplyCacheTest, DuplicateKeysInOneEntry) {
  ReplyCache cache(options(1 << 20, 8));
  put(cache, "mget k k", {"k", "k"}, "x");
  EXPECT_EQ(cache.invalidate_key("k"), 1u);
  EXPECT_EQ(cache.stats().entries, 0u);
  put(cache, "mget k k", {"k", "k"}, "x");
  put(cache, "mget k k", {"k", "k"}, "y");
  EXPECT_EQ(cache.invalidate_key("k"), 1u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(ReplyCacheTest, RefusesOversizeEntries) {
  ReplyCache cache(options(1 << 20, 1, /*max_entry_bytes=*/1000));
  const Keys keys{"k"};
  const std::size_t overhead = ReplyCache::entry_cost("get k", keys, 0);
  ASSERT_LT(overhead, 1000u);
  const std::size_t fits = 1000 - overhead;
  EXPECT_EQ(put(cache, "get k", keys, std::string(fits + 1, 'x')), PutResult::TooLarge);
  EXPECT_EQ(look(cache, "get k"), Freshness::Miss);
  EXPECT_EQ(put(cache, "get k", keys, std::string(fits, 'x')), PutResult::Stored);
  const ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.rejected_too_large, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, 1000u);
}

TEST(ReplyCacheTest, EntryLargerThanAShardIsRefused) {
  // 4 shards share 4000 bytes: 1000 each, whatever max_entry_bytes says.
  ReplyCache cache(options(4000, 4, /*max_entry_bytes=*/1u << 20));
  EXPECT_EQ(put(cache, "get k", {"k"}, std::string(1000, 'x')), PutResult::TooLarge);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(ReplyCacheTest, RefusesReadThatRacedWithAnInvalidation) {
  ReplyCache cache(options(1 << 20, 8));
  const Keys keys{"a", "k"};
  const ReadTicket before = cache.begin_read();
  cache.invalidate_key("k");  // a write to k completed while the read was in flight
  EXPECT_EQ(cache.put(before, "mget a k", keys, "old", 10s, 10s, kT0), PutResult::Raced);
  EXPECT_EQ(look(cache, "mget a k"), Freshness::Miss);
  EXPECT_EQ(cache.stats().rejected_raced, 1u);
  // The refused put left no references behind.
  EXPECT_EQ(cache.invalidate_key("a"), 0u);

  const ReadTicket after = cache.begin_read();
  EXPECT_EQ(cache.put(after, "mget a k", keys, "new", 10s, 10s, kT0), PutResult::Stored);
}

// A write of `key` sent: its copies withheld, and the ticket taken after the drop (as
// CacheEffects::withhold_keys does).
ReadTicket send_write(ReplyCache& cache, std::string_view key, ReplyCache::Withheld& withheld) {
  cache.invalidate_key(key, &withheld);
  return cache.begin_read();
}

TEST(ReplyCacheWithheldTest, RestorePutsTheWithheldCopiesBackWithTheirTimes) {
  ReplyCache cache(options(1 << 20, 64));
  put(cache, "get k", {"k"}, "old", kT0, 10s, 60s);
  put(cache, "mget a k", {"a", "k"}, "both");
  put(cache, "get a", {"a"}, "a");
  ReplyCache::Withheld withheld;
  EXPECT_EQ(cache.invalidate_key("k", &withheld), 2u);  // a write to k is sent
  EXPECT_FALSE(withheld.empty());
  EXPECT_EQ(look(cache, "get k"), Freshness::Miss);
  const ReadTicket sent = cache.begin_read();

  EXPECT_EQ(cache.restore(sent, withheld), 2u);  // Redis refused it unrun
  EXPECT_TRUE(withheld.empty());
  std::string out;
  EXPECT_EQ(cache.lookup("get k", kT0 + 5s, out).freshness, Freshness::Fresh);
  EXPECT_EQ(out, "old");
  // Its times are the ones it had: stale after 10 s, gone after 70 s, not renewed.
  EXPECT_EQ(look(cache, "get k", kT0 + 11s), Freshness::Stale);
  EXPECT_EQ(look(cache, "mget a k", kT0 + 5s), Freshness::Fresh);
  // Unverified: near mode fetches it again rather than trust it.
  EXPECT_EQ(cache.lookup("get k", kT0, out).filled, 0u);
  // Indexed again under every key.
  EXPECT_EQ(cache.invalidate_key("a"), 2u);
  EXPECT_EQ(cache.invalidate_key("k"), 1u);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(ReplyCacheWithheldTest, ALaterWriteOrAnswerOfTheKeyKeepsThemOut) {
  ReplyCache cache(options(1 << 20, 8));
  put(cache, "get k", {"k"}, "old");
  ReplyCache::Withheld withheld;
  const ReadTicket sent = send_write(cache, "k", withheld);
  cache.invalidate_key("k");  // another write was sent, or one sent earlier was answered
  EXPECT_EQ(cache.restore(sent, withheld), 0u);
  EXPECT_TRUE(withheld.empty());
  EXPECT_EQ(look(cache, "get k"), Freshness::Miss);
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(cache.invalidate_key("k"), 0u);  // no reference left behind

  put(cache, "get k", {"k"}, "old");
  const ReadTicket again = send_write(cache, "k", withheld);
  cache.clear();
  EXPECT_EQ(cache.restore(again, withheld), 0u);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(ReplyCacheWithheldTest, ANewerCopyStoredMeanwhileStays) {
  ReplyCache cache(options(1 << 20, 8));
  put(cache, "get k", {"k"}, "old");
  ReplyCache::Withheld withheld;
  const ReadTicket sent = send_write(cache, "k", withheld);
  put(cache, "get k", {"k"}, "read-after-send");  // a read sent after the write, answered first
  EXPECT_EQ(cache.restore(sent, withheld), 0u);
  std::string out;
  cache.lookup("get k", kT0, out);
  EXPECT_EQ(out, "read-after-send");
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().bytes, ReplyCache::entry_cost("get k", Keys{"k"}, out.size()));
}

TEST(ReplyCacheWithheldTest, FreedWhenNotRestored) {
  // Under ASan this fails if clear(), the destructor or a move leaks or frees twice.
  ReplyCache cache(options(1 << 20, 8));
  put(cache, "get k", {"k"}, "v");
  put(cache, "get j", {"j"}, "w");
  ReplyCache::Withheld first;
  cache.invalidate_key("k", &first);
  ReplyCache::Withheld second(std::move(first));
  ReplyCache::Withheld third;
  cache.invalidate_key("j", &third);
  third = std::move(second);
  EXPECT_FALSE(third.empty());
  third.clear();
  EXPECT_TRUE(third.empty());
  put(cache, "get k", {"k"}, "v");
  ReplyCache::Withheld dies;
  cache.invalidate_key("k", &dies);
}

TEST(ReplyCacheTest, ClearDropsEverythingAndRefusesEarlierReads) {
  ReplyCache cache(options(1 << 20, 8));
  put(cache, "get a", {"a"}, "1");
  put(cache, "mget a b", {"a", "b"}, "2");
  put(cache, "time", {}, "3");
  const ReadTicket before = cache.begin_read();
  cache.clear();
  ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.invalidations, 3u);
  EXPECT_EQ(look(cache, "get a"), Freshness::Miss);
  EXPECT_EQ(cache.invalidate_key("a"), 0u);
  EXPECT_EQ(cache.put(before, "get c", Keys{"c"}, "x", 10s, 10s, kT0), PutResult::Raced);
  EXPECT_EQ(put(cache, "get c", {"c"}, "x"), PutResult::Stored);
}

TEST(ReplyCacheTest, IdenticalReplyRenewsTheEntryInPlace) {
  ReplyCache cache(options(1 << 20, 4));
  ASSERT_EQ(put(cache, "get k", {"k"}, "v", kT0, 10s, 5s), PutResult::Stored);
  const std::uint64_t bytes = cache.stats().bytes;
  ASSERT_EQ(put(cache, "get k", {"k"}, "v", kT0 + 8s, 10s, 5s), PutResult::Stored);
  // Fresh and stale windows now count from the renewal.
  EXPECT_EQ(look(cache, "get k", kT0 + 17s), Freshness::Fresh);
  EXPECT_EQ(look(cache, "get k", kT0 + 22s), Freshness::Stale);
  const ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, bytes);
  EXPECT_EQ(s.inserts, 2u);
  // Its index references are intact: a write still drops it.
  EXPECT_EQ(cache.invalidate_key("k"), 1u);
  EXPECT_EQ(look(cache, "get k", kT0 + 17s), Freshness::Miss);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(ReplyCacheTest, IdenticalReplyOfARacedReadIsRefused) {
  ReplyCache cache(options(1 << 20, 4));
  const ReadTicket before = cache.begin_read();
  cache.invalidate_key("k");
  ASSERT_EQ(put(cache, "get k", {"k"}, "v", kT0, 10s, 5s), PutResult::Stored);
  // Same bytes, but read before the write: it must not renew the newer entry.
  EXPECT_EQ(cache.put(before, "get k", Keys{"k"}, "v", 10s, 5s, kT0 + 9s), PutResult::Raced);
  EXPECT_EQ(look(cache, "get k", kT0 + 11s), Freshness::Stale);
}

TEST(ReplyCacheTest, DifferentReplyReplacesTheEntry) {
  ReplyCache cache(options(1 << 20, 4));
  ASSERT_EQ(put(cache, "get k", {"k"}, "v1", kT0), PutResult::Stored);
  ASSERT_EQ(put(cache, "get k", {"k"}, "v22", kT0 + 1s), PutResult::Stored);
  std::string out;
  EXPECT_EQ(cache.lookup("get k", kT0 + 1s, out).freshness, Freshness::Fresh);
  EXPECT_EQ(out, "v22");
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.invalidate_key("k"), 1u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(ReplyCacheTest, CountsHitsMissesAndInserts) {
  ReplyCache cache(options(1 << 20, 4));
  put(cache, "get a", {"a"}, "1", kT0, 10s, 10s);
  put(cache, "get b", {"b"}, "2", kT0, 10s, 10s);
  look(cache, "get a", kT0);
  look(cache, "get b", kT0 + 1s);
  look(cache, "get a", kT0 + 15s);
  look(cache, "get c", kT0);
  look(cache, "get b", kT0 + 30s);
  const ReplyCacheStats s = cache.stats();
  EXPECT_EQ(s.hits_fresh, 2u);
  EXPECT_EQ(s.hits_stale, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.expirations, 1u);
  EXPECT_EQ(s.inserts, 2u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(ReplyCacheTest, RoundsShardCountToPowerOfTwo) {
  EXPECT_EQ(ReplyCache(options(1 << 20, 0)).shard_count(), 1u);
  EXPECT_EQ(ReplyCache(options(1 << 20, 10)).shard_count(), 16u);
  EXPECT_EQ(ReplyCache(options(1 << 20, 64)).shard_count(), 64u);
}

// Four threads: two read-through clients (single- and multi-key), a writer that bumps a key's
// version and then invalidates it, and a thread that mixes everything, clear() included. The
// budget is small so evictions run concurrently too. Every hit is checked against the writes whose
// invalidation had completed before the lookup started: a reply older than one of those is a
// stale survivor. Afterwards the index must still reach every entry.
TEST(ReplyCacheTest, ConcurrentUseNeverServesAnOverwrittenValue) {
  constexpr std::size_t kKeys = 8;
  constexpr std::size_t kIterations = 20000;
  const std::array<std::string, kKeys> names{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
  std::array<std::atomic<int>, kKeys> versions{};
  std::array<std::atomic<int>, kKeys> invalidated{};  // highest version whose invalidation is done
  std::atomic<int> violations{0};
  ReplyCache cache(options(16 * 1024, 4));

  auto read_through = [&](std::size_t a, std::size_t b) {
    const std::string ck = "mget " + names[a] + " " + names[b];
    const int floor_a = invalidated[a].load();
    const int floor_b = invalidated[b].load();
    std::string out;
    if (cache.lookup(ck, kT0, out).freshness != Freshness::Miss) {
      const std::size_t comma = out.find(',');
      if (std::stoi(out.substr(0, comma)) < floor_a || std::stoi(out.substr(comma + 1)) < floor_b) {
        violations.fetch_add(1);
      }
      return;
    }
    const ReadTicket ticket = cache.begin_read();
    const std::string reply =
        std::to_string(versions[a].load()) + "," + std::to_string(versions[b].load());
    std::this_thread::yield();  // widen the window in which a write can overtake this read
    const Keys keys{names[a], names[b]};
    cache.put(ticket, ck, keys, reply, 1h, 1h, kT0);
  };
  auto write = [&](std::size_t a) {
    const int version = versions[a].fetch_add(1) + 1;
    cache.invalidate_key(names[a]);
    int seen = invalidated[a].load();
    while (seen < version && !invalidated[a].compare_exchange_weak(seen, version)) {
    }
  };

  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (std::size_t i = 0; i < kIterations; ++i) {
      read_through(i % kKeys, i % kKeys);
    }
  });
  threads.emplace_back([&] {
    for (std::size_t i = 0; i < kIterations; ++i) {
      read_through(i % kKeys, (i / kKeys) % kKeys);
    }
  });
  threads.emplace_back([&] {
    for (std::size_t i = 0; i < kIterations; ++i) {
      write((i * 3) % kKeys);
    }
  });
  threads.emplace_back([&] {
    for (std::size_t i = 0; i < kIterations; ++i) {
      if (i % 1000 == 999) {
        cache.clear();
      } else if (i % 2 == 0) {
        write((i / 2) % kKeys);
      } else {
        read_through((i * 7) % kKeys, (i * 5) % kKeys);
      }
    }
  });
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(violations.load(), 0);

  for (std::size_t a = 0; a < kKeys; ++a) {
    for (std::size_t b = 0; b < kKeys; ++b) {
      std::string out;
      if (cache.lookup("mget " + names[a] + " " + names[b], kT0, out).freshness !=
          Freshness::Miss) {
        EXPECT_EQ(out,
                  std::to_string(versions[a].load()) + "," + std::to_string(versions[b].load()));
      }
    }
  }
  const ReplyCacheStats before = cache.stats();
  EXPECT_LE(before.bytes, 16u * 1024);
  EXPECT_GT(before.inserts, 0u);
  EXPECT_GT(before.hits_fresh, 0u);
  for (const std::string& name : names) {
    cache.invalidate_key(name);
  }
  const ReplyCacheStats after = cache.stats();
  EXPECT_EQ(after.entries, 0u);
  EXPECT_EQ(after.bytes, 0u);
}

TEST(ReplyCacheTest, ReportsTheEpochAnEntryWasFilledAt) {
  ReplyCache cache(options(1 << 20, 4));
  const ReadTicket before = cache.begin_read();
  const std::uint64_t mark = cache.mark();
  EXPECT_GT(mark, before.epoch);
  const ReadTicket after = cache.begin_read();
  EXPECT_GE(after.epoch, mark);
  ASSERT_EQ(cache.put(before, "get old", Keys{"old"}, "$1\r\na\r\n", 10s, 60s, kT0),
            PutResult::Stored);  // mark() invalidates nothing
  ASSERT_EQ(cache.put(after, "get new", Keys{"new"}, "$1\r\nb\r\n", 10s, 60s, kT0),
            PutResult::Stored);
  ASSERT_EQ(cache.put(after, "get written", Keys{"written"}, "$1\r\nc\r\n", 10s, 60s, kT0,
                      Admission::Always, /*verified=*/false),
            PutResult::Stored);
  std::string out;
  EXPECT_LT(cache.lookup("get old", kT0, out).filled, mark);
  EXPECT_GE(cache.lookup("get new", kT0, out).filled, mark);
  EXPECT_EQ(cache.lookup("get written", kT0, out).filled, 0u);
}

TEST(ReplyCacheTest, RenewalKeepsTheLatestFillEpoch) {
  ReplyCache cache(options(1 << 20, 4));
  const ReadTicket first = cache.begin_read();
  ASSERT_EQ(cache.put(first, "get k", Keys{"k"}, "$1\r\na\r\n", 10s, 60s, kT0), PutResult::Stored);
  const std::uint64_t mark = cache.mark();
  // The same reply again, after the mark: renewed in place, now trusted by the new epoch.
  ASSERT_EQ(cache.put(cache.begin_read(), "get k", Keys{"k"}, "$1\r\na\r\n", 10s, 60s, kT0),
            PutResult::Stored);
  std::string out;
  EXPECT_GE(cache.lookup("get k", kT0, out).filled, mark);
  // An unverified renewal does not lower it.
  ASSERT_EQ(cache.put(cache.begin_read(), "get k", Keys{"k"}, "$1\r\na\r\n", 10s, 60s, kT0,
                      Admission::Always, /*verified=*/false),
            PutResult::Stored);
  EXPECT_GE(cache.lookup("get k", kT0, out).filled, mark);
}

TEST(ReplyCacheTest, VerifySetsTheFillEpochAndFreshTimeUnlessInvalidated) {
  ReplyCache cache(options(1 << 20, 4));
  const ReadTicket ticket = cache.begin_read();
  ASSERT_EQ(cache.put(ticket, "get k", Keys{"k"}, "$1\r\na\r\n", 10s, 60s, kT0, Admission::Always,
                      /*verified=*/false),
            PutResult::Stored);
  std::string out;
  EXPECT_EQ(cache.lookup("get k", kT0, out).filled, 0u);
  // The key's server TTL: 2 s left.
  ASSERT_TRUE(cache.verify(ticket, "get k", "k", kT0 + 2s));
  EXPECT_EQ(cache.lookup("get k", kT0, out).filled, ticket.epoch);
  EXPECT_EQ(look(cache, "get k", kT0 + 1s), Freshness::Fresh);
  EXPECT_EQ(look(cache, "get k", kT0 + 3s), Freshness::Stale);  // past the server TTL
  // An unverified renewal keeps the verified fresh time.
  ASSERT_EQ(cache.put(cache.begin_read(), "get k", Keys{"k"}, "$1\r\na\r\n", 10s, 60s, kT0 + 3s,
                      Admission::Always, /*verified=*/false),
            PutResult::Stored);
  EXPECT_EQ(look(cache, "get k", kT0 + 4s), Freshness::Stale);

  const ReadTicket raced = cache.begin_read();
  ASSERT_EQ(cache.put(raced, "get j", Keys{"j"}, "$1\r\nb\r\n", 10s, 60s, kT0, Admission::Always,
                      /*verified=*/false),
            PutResult::Stored);
  cache.invalidate_key("unrelated-but-maybe-same-stripe");
  cache.invalidate_key("j");
  EXPECT_FALSE(cache.verify(raced, "get j", "j", kT0 + 5s));
  EXPECT_FALSE(cache.verify(cache.begin_read(), "get missing", "missing", kT0 + 5s));
}
}  // namespace
}  // namespace seawall::cache
