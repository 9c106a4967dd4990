#pragma once
// Miss leases (policies[].miss_lease): while an upstream is unavailable, the first read of a key
// that the fallback chain can only answer with a miss takes the key's lease and gets the miss;
// its client reads the database and writes the value back (a cache-aside SET, journaled or
// forwarded). Other readers of the key meanwhile wait, up to the lease's end, and are answered
// with that value once it is written, or by the chain again when the lease ends: the database
// behind the cache sees one read per missing key, not one per client.
//
// A lease ends when it runs out or when a write of its key is acknowledged (release), whichever
// is first; then the next miss of the key takes a new one. The table is bounded (kMaxLeases):
// when it is full, misses are answered without a lease, as without the option.
//
// Ownership: in proxy::SharedState. Thread safety: every worker thread (sharded mutexes; while no
// lease runs, held and release cost one atomic load, so reads and writes pay nothing for it).
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace seawall::policy {

class MissLeases {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxLeases = 65536;

  enum class Take : std::uint8_t {
    Granted,  // the caller holds the lease until `until`: answer the miss
    Held,     // another reader holds it until `until`: wait for its write
    Full,     // no room for another lease: answer the miss
  };
  struct Result {
    Take take = Take::Full;
    Clock::time_point until{};
  };

  Result take(std::string_view key, Clock::time_point now, Clock::duration lease);
  // Whether a lease of `key` is still running at `now`.
  bool held(std::string_view key, Clock::time_point now) const;
  // A write of `key` was acknowledged at `now` (journaled or answered by Redis): its waiters may
  // read it.
  void release(std::string_view key, Clock::time_point now);
  void release(std::span<const std::string_view> keys, Clock::time_point now) {
    if (!none_running(now)) {
      for (std::string_view key : keys) {
        release(key, now);
      }
    }
  }

  // Leases granted, and reads that waited for one (seawall_miss_leases_total).
  std::uint64_t granted() const { return granted_.load(std::memory_order_relaxed); }
  std::uint64_t waited() const { return waited_.load(std::memory_order_relaxed); }
  // Entries in the table (running leases and ended ones not yet swept).
  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Clock::time_point, Hash, std::equal_to<>> until;
  };
  static constexpr std::size_t kShards = 16;

  Shard& shard_of(std::string_view key) const;
  bool none_running(Clock::time_point now) const {
    return now.time_since_epoch().count() >= last_until_.load(std::memory_order_acquire);
  }
  void granted_until(Clock::time_point until);
  void sweep(Shard& shard, Clock::time_point now);  // shard's mutex held

  mutable std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> size_{0};
  // When the latest lease granted runs out (steady_clock ticks): none runs after it.
  std::atomic<Clock::rep> last_until_{0};
  std::atomic<std::uint64_t> granted_{0};
  std::atomic<std::uint64_t> waited_{0};
};

}  // namespace seawall::policy
