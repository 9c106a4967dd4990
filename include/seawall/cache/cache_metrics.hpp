#pragma once
// The L1 reply cache's metrics, read at each scrape from ReplyCache's statistics.
// Thread safety: constants.
#include <array>

#include "seawall/metrics/spec.hpp"

namespace seawall::cache {

inline constexpr metrics::Spec kCacheBytes{"seawall_cache_bytes", metrics::Type::Gauge,
                                           "Bytes held by the L1."};
inline constexpr metrics::Spec kCacheEntries{"seawall_cache_entries", metrics::Type::Gauge,
                                             "Replies held by the L1."};
inline constexpr metrics::Spec kCacheEvents{
    "seawall_cache_events_total",
    metrics::Type::Counter,
    "L1 events: hit_fresh, hit_stale, miss, insert, eviction, expiration, invalidation, "
    "rejected_too_large, rejected_raced, rejected_admission.",
    {"event"}};

inline constexpr std::array kCacheMetrics{kCacheBytes, kCacheEntries, kCacheEvents};

}  // namespace seawall::cache
