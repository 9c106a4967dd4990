#pragma once
// The fallback chain's metrics (policy::Fallback's counters): answers by source, writes that
// arrived while their upstream was unavailable, misses refused by the fall-through budget.
// app registers them, reading the counters at each scrape.
// Thread safety: constants.
#include <array>

#include "seawall/metrics/spec.hpp"

namespace seawall::policy {

inline constexpr metrics::Spec kAnswers{
    "seawall_answers_total",
    metrics::Type::Counter,
    "Replies to forwardable commands by source: upstream, l1_fresh, "
    "l1_stale, l1_evicted, l1_near, default, miss or error.",
    {"source"}};
inline constexpr metrics::Spec kWritesUnavailable{
    "seawall_writes_while_unavailable_total",
    metrics::Type::Counter,
    "Writes that arrived while their upstream was unavailable, by what happened to them.",
    {"result"}};
inline constexpr metrics::Spec kFallthroughDenied{
    "seawall_fallthrough_denied_total", metrics::Type::Counter,
    "Misses refused because the protect_database budget was spent (answered with an error)."};

inline constexpr metrics::Spec kMissLeases{
    "seawall_miss_leases_total",
    metrics::Type::Counter,
    "Miss leases (policies[].miss_lease): granted with a miss, and reads that waited for one.",
    {"outcome"}};

inline constexpr metrics::Spec kEvictedKeys{
    "seawall_evicted_keys_total", metrics::Type::Counter,
    "Keys Redis reported evicted (its evicted keyspace events, upstreams[].eviction_events)."};

inline constexpr std::array kPolicyMetrics{kAnswers, kWritesUnavailable, kFallthroughDenied,
                                           kMissLeases, kEvictedKeys};

}  // namespace seawall::policy
