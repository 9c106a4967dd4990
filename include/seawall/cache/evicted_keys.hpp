#pragma once
// The keys Redis evicted lately (maxmemory), as its `evicted` keyspace events name them (see
// upstream::EvictionListener): a read Redis answers with a miss for such a key is answered with
// the L1 copy instead (answer source l1_evicted), within the policy's max_stale, so that an
// eviction storm does not send every reader of the evicted keys to the database.
//
// A key is forgotten when a write of it goes through seawall (its copy is dropped or replaced
// then anyway), when a read through seawall finds it in Redis again (rewritten since: its later
// expiry or deletion is not the eviction's), and is ignored once it was evicted longer ago than
// the reader's policy allows. Keys are kept
// as 64-bit hashes with the eviction's time; each shard is bounded, and a full shard starts
// again empty (the marks it loses only cost misses, as without the option).
//
// Ownership: in proxy::SharedState. Thread safety: every thread (sharded mutexes; while nothing
// was evicted, forget and recently cost one atomic load).
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>
#include <unordered_map>

namespace seawall::cache {

class EvictedKeys {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMaxPerShard = 16384;

  void evicted(std::string_view key, Clock::time_point now);
  // Whether `key` was evicted at most `window` before `now` (and not written since).
  bool recently(std::string_view key, Clock::time_point now, Clock::duration window) const;
  void forget(std::string_view key);
  void forget(std::span<const std::string_view> keys) {
    if (size_.load(std::memory_order_relaxed) != 0) {
      for (std::string_view key : keys) {
        forget(key);
      }
    }
  }

  bool empty() const { return size_.load(std::memory_order_relaxed) == 0; }
  std::size_t size() const { return size_.load(std::memory_order_relaxed); }
  // Eviction events received (seawall_evicted_keys_total).
  std::uint64_t events() const { return events_.load(std::memory_order_relaxed); }

 private:
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::uint64_t, Clock::time_point> at;
  };
  static std::uint64_t hash_of(std::string_view key);
  Shard& shard_of(std::uint64_t hash) const { return shards_[hash >> 60]; }

  mutable std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> events_{0};
};

}  // namespace seawall::cache
