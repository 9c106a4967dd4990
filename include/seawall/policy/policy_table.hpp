#pragma once
// PolicyTable: what seawall does for a key when Redis cannot answer. An ordered list of glob
// patterns (Redis syntax, see glob.hpp), each with a Policy; the first pattern that matches the
// key wins, and a fallback policy applies when none does.
//
// Ownership: owns its rules; match() returns references into the table, valid as long as it lives
// (config reload builds a new table rather than changing one).
// Thread safety: immutable after construction; share freely.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/cache/reply_cache.hpp"

namespace seawall::policy {

// What a read gets when neither L1 nor a default can answer.
enum class OnUnavailable : std::uint8_t {
  Miss,   // a nil reply: the application falls through to its database
  Error,  // an error reply
};

// What a write gets while the breaker is open.
enum class WritesWhenOpen : std::uint8_t {
  Reject,      // an error reply; nothing is remembered
  Invalidate,  // accepted; its keys are deleted upstream before the breaker closes
  Journal,     // accepted; replayed in order before the breaker closes
};

// Fallback: copies answer only while Redis cannot. Near: verified copies answer while Redis is
// healthy too, kept coherent by Redis's client tracking (see proxy/near_reads.hpp).
enum class L1Mode : std::uint8_t { Fallback, Near };

// The prefix Redis tracks for a near policy's pattern: "" for "*", "user:" for "user:*";
// nullopt when the pattern is not a literal prefix followed by one "*".
std::optional<std::string> tracking_prefix(std::string_view pattern);

struct L1Policy {
  bool enabled = false;
  std::chrono::milliseconds ttl{0};        // served as fresh for this long
  std::chrono::milliseconds max_stale{0};  // then, only while Redis is unavailable, this long
  // Replies passing through (not written values): TinyLfu keeps the more often read entries
  // when the L1 is full; Always stores every reply, evicting the least recently used.
  cache::Admission admission = cache::Admission::TinyLfu;
  // While Redis is healthy too: a miss Redis answers for a key it evicted lately (maxmemory) is
  // answered with this copy, within ttl + max_stale of the eviction (see cache/evicted_keys.hpp).
  bool serve_evicted = true;
  L1Mode mode = L1Mode::Fallback;

  bool near() const noexcept { return enabled && mode == L1Mode::Near; }
  bool operator==(const L1Policy&) const = default;
};

struct Policy {
  std::string name = "default";  // for logs and metrics; PolicyTable sets it to the rule's pattern
  L1Policy l1;
  std::optional<std::string> degraded_default;  // ready-to-send RESP2 reply (see defaults.hpp)
  OnUnavailable on_unavailable = OnUnavailable::Miss;
  WritesWhenOpen writes_when_open = WritesWhenOpen::Reject;
  // How long other readers of a key wait for the value the reader given its miss writes back
  // (see miss_leases.hpp); 0: no lease, every reader gets the miss.
  std::chrono::milliseconds miss_lease{0};

  bool operator==(const Policy&) const = default;
};

struct PolicyRule {
  std::string pattern;
  Policy policy;

  bool operator==(const PolicyRule&) const = default;
};

class PolicyTable {
 public:
  // No rules: every key gets a default-constructed Policy.
  PolicyTable();
  PolicyTable(std::vector<PolicyRule> rules, Policy fallback);

  // The policy of the first rule whose pattern matches `key`, else the fallback.
  const Policy& match(std::string_view key) const noexcept;

  const Policy& fallback() const noexcept { return fallback_; }
  // The prefixes Redis must track for the near policies (none overlapping another: Redis refuses
  // that), {""} when one tracks every key, empty when no policy is near.
  const std::vector<std::string>& near_prefixes() const noexcept { return near_prefixes_; }
  std::size_t size() const noexcept { return rules_.size(); }

 private:
  // Most patterns are a literal key or a literal prefix followed by `*`; those skip the glob.
  enum class MatchKind : std::uint8_t { Exact, Prefix, Any, Glob };

  struct CompiledRule {
    MatchKind kind;
    std::string pattern;  // Exact and Prefix: the literal part; Glob: the whole pattern
    Policy policy;
  };

  std::vector<CompiledRule> rules_;
  Policy fallback_;
  std::vector<std::string> near_prefixes_;
};

}  // namespace seawall::policy
