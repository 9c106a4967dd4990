#pragma once
// The upstreams' metrics: the journal, the shared connections (ConnectionMetrics), request
// latency and timeouts, and the health checks (HealthCounters).
// Thread safety: constants.
#include <array>

#include "seawall/metrics/spec.hpp"

namespace seawall::upstream {

inline constexpr metrics::Spec kJournalEntries{"seawall_journal_entries",
                                               metrics::Type::Gauge,
                                               "Writes waiting in the journal for replay.",
                                               {"upstream"}};
inline constexpr metrics::Spec kJournalBytes{
    "seawall_journal_bytes", metrics::Type::Gauge, "Bytes waiting in the journal.", {"upstream"}};
inline constexpr metrics::Spec kJournalOps{
    "seawall_journal_operations_total",
    metrics::Type::Counter,
    "Journal operations: appended and replayed (per-key entries), rejected "
    "(writes: full or I/O error), superseded (entries compacted "
    "away by a later write of their key).",
    {"upstream", "operation"}};
inline constexpr metrics::Spec kUpstreamConnections{
    "seawall_upstream_connections",
    metrics::Type::Gauge,
    "Shared pipelined connections to the upstream that are connected now.",
    {"upstream"}};
inline constexpr metrics::Spec kUpstreamConnects{"seawall_upstream_connects_total",
                                                 metrics::Type::Counter,
                                                 "Connection attempts to the upstream, by result.",
                                                 {"upstream", "result"}};
inline constexpr metrics::Spec kUpstreamLatency{
    "seawall_upstream_request_duration_seconds",
    metrics::Type::Histogram,
    "Time from queueing a request on a shared connection to its reply.",
    {"upstream"}};
inline constexpr metrics::Spec kUpstreamTimeouts{"seawall_upstream_timeouts_total",
                                                 metrics::Type::Counter,
                                                 "Requests whose deadline passed before the reply.",
                                                 {"upstream"}};
inline constexpr metrics::Spec kHealthChecks{"seawall_health_checks_total",
                                             metrics::Type::Counter,
                                             "Active health checks (PING), by result.",
                                             {"upstream", "result"}};
inline constexpr metrics::Spec kHealthCheckDuration{
    "seawall_health_check_duration_seconds",
    metrics::Type::Histogram,
    "Round trip of each health-check PING that Redis answered, on the health connection.",
    {"upstream"}};
inline constexpr metrics::Spec kHealthProbesWhileOpen{
    "seawall_health_probes_while_open_total",
    metrics::Type::Counter,
    "Health checks made while the breaker was open (outside its permits), by result; an ok one "
    "half-opens the breaker.",
    {"upstream", "result"}};
// A sentinel-managed upstream's master (upstream/master_resolver.hpp).
inline constexpr metrics::Spec kSentinelMaster{
    "seawall_sentinel_master",
    metrics::Type::Gauge,
    "1 for the address the sentinels name as the upstream's master and seawall connects to; 0 "
    "for addresses it used before (and for all while a failover is in progress).",
    {"upstream", "address"}};
inline constexpr metrics::Spec kSentinelSwitches{
    "seawall_sentinel_master_switches_total",
    metrics::Type::Counter,
    "Times a sentinel-managed upstream's master moved to another address (+switch-master, or "
    "a sentinel naming another one).",
    {"upstream"}};
inline constexpr metrics::Spec kSentinelResolveFailures{
    "seawall_sentinel_resolve_failures_total",
    metrics::Type::Counter,
    "Times no sentinel named a usable master when a connection was opened.",
    {"upstream"}};
inline constexpr metrics::Spec kSentinelFailover{
    "seawall_sentinel_failover_in_progress",
    metrics::Type::Gauge,
    "1 while a sentinel leads a failover of the upstream's master (from +selected-slave to "
    "+switch-master): the upstream is held unavailable.",
    {"upstream"}};
// A Redis Cluster upstream (`upstreams[].cluster`): per shard (an upstream named <name>.<k>),
// and per cluster (the upstream as configured, <name>).
inline constexpr metrics::Spec kClusterSlots{
    "seawall_cluster_slots",
    metrics::Type::Gauge,
    "Slots of the cluster served by this shard, as seawall's slot table has them now (moved by "
    "map refreshes and MOVED replies).",
    {"upstream"}};
inline constexpr metrics::Spec kClusterRedirects{
    "seawall_cluster_redirects_total",
    metrics::Type::Counter,
    "MOVED and ASK replies seawall followed for its clients (they never see them).",
    {"upstream", "kind"}};
inline constexpr metrics::Spec kClusterRefreshes{
    "seawall_cluster_map_refreshes_total",
    metrics::Type::Counter,
    "Times seawall asked the cluster's nodes for its slot map: on a timer, and at once on MOVED, "
    "CLUSTERDOWN, TRYAGAIN and connection failures (failed: no node answered).",
    {"upstream", "outcome"}};

// Registered with the other upstream metrics but, as before this table moved here, not
// listed in kUpstreamMetrics (so `--describe-metrics` does not show it).
inline constexpr metrics::Spec kInDoubt{
    "seawall_upstream_requests_in_doubt",
    metrics::Type::Gauge,
    "Requests that timed out and may still run on Redis (no late reply yet, connection still "
    "open); a journal replay waits for them.",
    {"upstream"}};

inline constexpr std::array kUpstreamMetrics{
    kJournalEntries,          kJournalBytes,          kJournalOps,       kUpstreamConnections,
    kUpstreamConnects,        kUpstreamLatency,       kUpstreamTimeouts, kHealthChecks,
    kHealthCheckDuration,     kHealthProbesWhileOpen, kSentinelMaster,   kSentinelSwitches,
    kSentinelResolveFailures, kSentinelFailover,      kClusterSlots,     kClusterRedirects,
    kClusterRefreshes};

}  // namespace seawall::upstream
