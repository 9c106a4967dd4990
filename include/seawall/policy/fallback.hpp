#pragma once
// The fallback chain for a request Redis cannot answer (breaker open, timeout, connection lost,
// -LOADING and friends):
//   read:  L1 fresh -> L1 stale (within max_stale) -> the policy's default -> miss (the reply
//          Redis gives for a missing key, within the fall-through budget) -> -UNAVAILABLE error
//   write while open: reject | invalidate | journal, per policy (the journal is the caller's)
// Every answer is counted by source so a stale-serving outage is never hidden.
//
// Thread safety: shared by all workers; the cache, the bucket and the counters are thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/policy/token_bucket.hpp"

namespace seawall::policy {

enum class Source : std::uint8_t { Upstream, L1Fresh, L1Stale, Default, Miss, Error };
inline constexpr std::size_t kSourceCount = 6;
std::string_view to_string(Source source);

struct AnswerCounters {
  std::array<std::atomic<std::uint64_t>, kSourceCount> by_source{};
  std::atomic<std::uint64_t> writes_rejected{0};
  std::atomic<std::uint64_t> writes_journaled{0};
  std::atomic<std::uint64_t> writes_invalidated{0};
  std::atomic<std::uint64_t> fallthrough_denied{0};

  void count(Source s) {
    by_source[static_cast<std::size_t>(s)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t get(Source s) const {
    return by_source[static_cast<std::size_t>(s)].load(std::memory_order_relaxed);
  }
};

// What Redis answers for a key that does not exist: nil for GET/HGET/..., an empty array for
// HGETALL/SMEMBERS/LRANGE/..., 0 for EXISTS/STRLEN/LLEN/..., an array of nils for MGET/HMGET.
std::string miss_reply(const command::CommandInfo& info, std::span<const std::string_view> args);

// The reply Redis would give a write, computable without Redis, for the idempotent writes that
// may be journaled or invalidated while an upstream is unavailable. nullopt when the reply
// depends on data (INCR, LPUSH, SET NX/GET, ...): such writes are rejected instead. Integer
// replies assume every named key/field/member was affected (documented in the README).
std::optional<std::string> acknowledgement(const command::CommandInfo& info,
                                           std::span<const std::string_view> args);

class Fallback {
 public:
  Fallback(cache::ReplyCache& cache, std::uint32_t fallthrough_per_second, std::uint32_t burst)
      : cache_(cache) {
    set_fallthrough(fallthrough_per_second, burst);
  }

  // Installs a new fall-through budget (a reload); thread-safe. The old bucket stays alive.
  void set_fallthrough(std::uint32_t per_second, std::uint32_t burst);

  // Answers a read: appends the reply to `out` and returns where it came from. `cache_key` is the
  // normalised command (cache::make_cache_key); `policy` is the first key's. `unavailable_error`
  // is the full error line used when nothing can answer.
  Source answer_read(const command::CommandInfo& info, std::span<const std::string_view> args,
                     std::string_view cache_key, const Policy& policy, const PolicyTable& policies,
                     std::span<const std::uint32_t> key_indexes,
                     std::chrono::steady_clock::time_point now, std::string_view unavailable_error,
                     std::string& out);

  // During the recovery ramp: answers from the L1 or the default only (what costs Redis and the
  // database nothing); false when neither has an answer, and then the read goes to Redis.
  bool answer_read_locally(const command::CommandInfo& info, std::string_view cache_key,
                           const Policy& policy, std::chrono::steady_clock::time_point now,
                           std::string& out);

  AnswerCounters& counters() { return counters_; }
  cache::ReplyCache& cache() { return cache_; }

 private:
  Source answer_mget(std::span<const std::string_view> args, const PolicyTable& policies,
                     std::chrono::steady_clock::time_point now, std::string_view unavailable_error,
                     std::string& out);
  bool take_fallthrough(std::chrono::steady_clock::time_point now);

  cache::ReplyCache& cache_;
  std::mutex buckets_mutex_;
  std::vector<std::unique_ptr<TokenBucket>> buckets_;
  std::atomic<TokenBucket*> fallthrough_{nullptr};
  AnswerCounters counters_;
  std::string scratch_key_;
};

}  // namespace seawall::policy
