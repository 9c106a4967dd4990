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
#include "seawall/resp/resp3.hpp"

namespace seawall::policy {

// Ordered from best to worst: a split answer (MGET) is named after its worst part.
// Journal: a write seawall acknowledged during the outage and Redis does not have yet.
// L1Evicted: Redis answered a miss for a key it evicted lately; the L1 copy answered instead.
enum class Source : std::uint8_t {
  Upstream,
  Journal,
  L1Fresh,
  L1Stale,
  L1Evicted,
  L1Near,  // near mode: a verified copy answered while Redis is healthy
  Default,
  Miss,
  Error
};
inline constexpr std::size_t kSourceCount = 9;
std::string_view to_string(Source source);

// Near mode (proxy/near_reads.hpp) for the copies of near-policy keys: while the key's tracking
// link is subscribed, Redis is reachable and other clients may be writing to it, so only copies
// filled under that subscription (filled >= epoch) may answer; while it is down, every copy is
// unverified and answers only as stale.
struct CopyTrust {
  bool tracked = false;  // a tracking link exists for the upstream
  bool live = false;     // it is subscribed now
  std::uint64_t epoch = 0;
};

struct AnswerCounters {
  std::array<std::atomic<std::uint64_t>, kSourceCount> by_source{};
  std::atomic<std::uint64_t> writes_rejected{0};
  std::atomic<std::uint64_t> writes_journaled{0};
  std::atomic<std::uint64_t> writes_invalidated{0};
  std::atomic<std::uint64_t> fallthrough_denied{0};

  void count(Source s) {
    by_source[static_cast<std::size_t>(s)].fetch_add(1, std::memory_order_relaxed);
  }
  // An answer counted but not given after all (the read waits and is answered again).
  void uncount(Source s) {
    by_source[static_cast<std::size_t>(s)].fetch_sub(1, std::memory_order_relaxed);
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

// What answers a key of an MGET before the chain does: the journal's read-your-writes overlay,
// for keys written during the outage (implemented above this module, in proxy).
class KeyOverlay {
 public:
  enum class Result : std::uint8_t {
    NotCovered,  // the chain answers the key
    Answered,    // its RESP2 GET reply was appended to `out`
    Unknown,     // written, but its value is not known: an error, never an older copy
  };
  virtual Result get(std::string_view key, std::string& out) = 0;

 protected:
  ~KeyOverlay() = default;
};

class Fallback {
 public:
  Fallback(cache::ReplyCache& cache, std::uint32_t fallthrough_per_second, std::uint32_t burst)
      : cache_(cache) {
    set_fallthrough(fallthrough_per_second, burst);
  }

  // Installs a new fall-through budget (a reload); thread-safe. The old bucket stays alive.
  void set_fallthrough(std::uint32_t per_second, std::uint32_t burst);

  // Answers a read: appends the reply to `out` and returns where it came from. `cache_key` is the
  // normalised command as the session stores it (resp3_cache_key for a RESP3 session); `policy`
  // is the first key's. `unavailable_error` is the full error line used when nothing can answer.
  // A RESP3 session (`protocol`) gets its own RESP3 copy, else the RESP2 copy, the default and
  // the miss converted to RESP3. An MGET asks `overlay` (when given) first for each key; an
  // Unknown key of a writes_when_open: invalidate policy takes the chain (its copies are gone).
  // `trust`: what near mode's tracking link says of the copies of near-policy keys.
  Source answer_read(const command::CommandInfo& info, std::span<const std::string_view> args,
                     std::string_view cache_key, const Policy& policy, const PolicyTable& policies,
                     std::chrono::steady_clock::time_point now, std::string_view unavailable_error,
                     std::string& out, resp::Protocol protocol = resp::Protocol::Resp2,
                     KeyOverlay* overlay = nullptr, const CopyTrust& trust = {});

  AnswerCounters& counters() { return counters_; }
  cache::ReplyCache& cache() { return cache_; }

 private:
  Source answer_mget(std::span<const std::string_view> args, const PolicyTable& policies,
                     std::chrono::steady_clock::time_point now, std::string_view unavailable_error,
                     std::string& out, resp::Protocol protocol, KeyOverlay* overlay,
                     const CopyTrust& trust);
  // The L1 copy for `cache_key` in the session's protocol: a RESP3 session's own copy, else the
  // RESP2 one converted. Appends it to `out`.
  // The chain's first links: the L1 copy (fresh, then stale) under `cache_key` ("" when the
  // policy keeps none), else the policy's degraded default, appended to `out` in `protocol`;
  // Source::Miss with nothing appended when neither exists.
  Source copy_or_default(const Policy& policy, std::string_view cache_key,
                         std::chrono::steady_clock::time_point now, resp::Protocol protocol,
                         std::string& out, const CopyTrust& trust);
  // `trust` applies when `near` (the key's policy is near).
  cache::LookupResult lookup(std::string_view cache_key, std::chrono::steady_clock::time_point now,
                             resp::Protocol protocol, std::string& out, const CopyTrust& trust,
                             bool near);
  bool take_fallthrough(std::chrono::steady_clock::time_point now);

  cache::ReplyCache& cache_;
  std::mutex buckets_mutex_;
  std::vector<std::unique_ptr<TokenBucket>> buckets_;
  std::atomic<TokenBucket*> fallthrough_{nullptr};
  AnswerCounters counters_;
};

// The cache key a RESP3 session stores and looks up for `resp2_key` (cache::make_cache_key):
// RESP3 replies are other bytes than RESP2 ones for the same command, so they are other entries
// (indexed by the same Redis keys, so a write drops both).
inline constexpr std::string_view kResp3KeyPrefix = "#3:";
void make_resp3_cache_key(std::string& key);  // prefixes in place
// `out` = the cache key of GET `key` for a session speaking RESP3 (`resp3`) or RESP2: where one
// key's copy is stored and looked up, whichever read (GET, MGET) filled it.
void make_get_cache_key(std::string_view key, bool resp3, std::string& out);
std::string_view resp2_key_of(std::string_view cache_key);

}  // namespace seawall::policy
