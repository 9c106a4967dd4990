#pragma once
// The data path's metrics: declared here in one table, registered once the shared state exists.
// Most are read at scrape time from the atomics the modules keep anyway (answers by source,
// breaker counters, L1 and journal statistics), so the hot path pays nothing extra; commands
// by name, upstream connections and request latency are counted by handles resolved at startup.
// Thread safety: the tables are constants; registration happens at startup on the main thread.
#include <array>

#include "seawall/metrics/registry.hpp"
#include "seawall/metrics/spec.hpp"
#include "seawall/proxy/shared_state.hpp"

namespace seawall::app {

using metrics::Spec;
using metrics::Type;

inline constexpr Spec kAnswers{"seawall_answers_total",
                               Type::Counter,
                               "Replies to forwardable commands by source: upstream, l1_fresh, "
                               "l1_stale, default, miss or error.",
                               {"source"}};
inline constexpr Spec kWritesUnavailable{
    "seawall_writes_while_unavailable_total",
    Type::Counter,
    "Writes that arrived while their upstream was unavailable, by what happened to them.",
    {"result"}};
inline constexpr Spec kWritesOrdered{
    "seawall_writes_ordered_total",
    Type::Counter,
    "Writes of a key whose write from another client was still in flight, kept in order: moved "
    "to that write's connection, or waited for its outcome.",
    {"how"}};
inline constexpr Spec kFallthroughDenied{
    "seawall_fallthrough_denied_total", Type::Counter,
    "Misses refused because the protect_database budget was spent (answered with an error)."};
inline constexpr Spec kBreakerState{"seawall_breaker_state",
                                    Type::Gauge,
                                    "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
                                    {"upstream"}};
inline constexpr Spec kBreakerTransitions{"seawall_breaker_transitions_total",
                                          Type::Counter,
                                          "Circuit breaker state changes.",
                                          {"upstream"}};
inline constexpr Spec kBreakerOpened{"seawall_breaker_opened_total",
                                     Type::Counter,
                                     "Transitions into the open state.",
                                     {"upstream"}};
inline constexpr Spec kBreakerCalls{
    "seawall_breaker_calls_total",
    Type::Counter,
    "Calls judged by the breaker, by outcome: success, failure, timeout, slow, rejected.",
    {"upstream", "outcome"}};
inline constexpr Spec kCacheBytes{"seawall_cache_bytes", Type::Gauge, "Bytes held by the L1."};
inline constexpr Spec kCacheEntries{"seawall_cache_entries", Type::Gauge,
                                    "Replies held by the L1."};
inline constexpr Spec kCacheEvents{
    "seawall_cache_events_total",
    Type::Counter,
    "L1 events: hit_fresh, hit_stale, miss, insert, eviction, expiration, invalidation, "
    "rejected_too_large, rejected_raced, rejected_admission.",
    {"event"}};
inline constexpr Spec kJournalEntries{"seawall_journal_entries",
                                      Type::Gauge,
                                      "Writes waiting in the journal for replay.",
                                      {"upstream"}};
inline constexpr Spec kJournalBytes{
    "seawall_journal_bytes", Type::Gauge, "Bytes waiting in the journal.", {"upstream"}};
inline constexpr Spec kJournalOps{
    "seawall_journal_operations_total",
    Type::Counter,
    "Journal operations: appended and replayed (per-key entries), rejected "
    "(writes: full or I/O error), superseded (entries compacted "
    "away by a later write of their key).",
    {"upstream", "operation"}};
inline constexpr Spec kInDoubt{
    "seawall_upstream_requests_in_doubt",
    Type::Gauge,
    "Requests that timed out and may still run on Redis (no late reply yet, connection still "
    "open); a journal replay waits for them.",
    {"upstream"}};
inline constexpr Spec kPinned{"seawall_pinned_sessions", Type::Gauge,
                              "Client sessions holding a dedicated upstream connection."};
inline constexpr Spec kSessionBufferBytes{
    "seawall_session_buffer_bytes", Type::Gauge,
    "Heap bytes client sessions hold in buffers and reply slots (read buffers lent, output, "
    "slots), summed by each worker's idle sweep once a second."};
inline constexpr Spec kCommands{"seawall_commands_total",
                                Type::Counter,
                                "Commands received from clients, by command name.",
                                {"command"}};
inline constexpr Spec kUpstreamConnections{
    "seawall_upstream_connections",
    Type::Gauge,
    "Shared pipelined connections to the upstream that are connected now.",
    {"upstream"}};
inline constexpr Spec kUpstreamConnects{"seawall_upstream_connects_total",
                                        Type::Counter,
                                        "Connection attempts to the upstream, by result.",
                                        {"upstream", "result"}};
inline constexpr Spec kUpstreamLatency{
    "seawall_upstream_request_duration_seconds",
    Type::Histogram,
    "Time from queueing a request on a shared connection to its reply.",
    {"upstream"}};
inline constexpr Spec kUpstreamTimeouts{"seawall_upstream_timeouts_total",
                                        Type::Counter,
                                        "Requests whose deadline passed before the reply.",
                                        {"upstream"}};
inline constexpr Spec kHealthChecks{"seawall_health_checks_total",
                                    Type::Counter,
                                    "Active health checks (PING), by result.",
                                    {"upstream", "result"}};
inline constexpr Spec kHealthCheckDuration{
    "seawall_health_check_duration_seconds",
    Type::Histogram,
    "Round trip of each health-check PING that Redis answered, on the health connection.",
    {"upstream"}};
inline constexpr Spec kHealthProbesWhileOpen{
    "seawall_health_probes_while_open_total",
    Type::Counter,
    "Health checks made while the breaker was open (outside its permits), by result; an ok one "
    "half-opens the breaker.",
    {"upstream", "result"}};
inline constexpr Spec kFaultsInjected{
    "seawall_faults_injected_total",
    Type::Counter,
    "Commands a configured fault was applied to (faults:), by upstream and type: delay or error.",
    {"upstream", "type"}};

inline constexpr Spec kConfigReloads{"seawall_config_reloads_total",
                                     Type::Counter,
                                     "Configuration reloads (SIGHUP or file change), by result.",
                                     {"result"}};
inline constexpr Spec kConfigVersion{"seawall_config_version", Type::Gauge,
                                     "Configurations loaded since start; 1 is the first."};
inline constexpr Spec kConfigLastReloadOk{
    "seawall_config_last_reload_successful", Type::Gauge,
    "1 unless the latest reload failed (the old configuration is still in force): 0 until a "
    "reload succeeds."};

inline constexpr std::array kDataMetrics{kConfigReloads,
                                         kConfigVersion,
                                         kConfigLastReloadOk,
                                         kAnswers,
                                         kWritesUnavailable,
                                         kWritesOrdered,
                                         kFallthroughDenied,
                                         kBreakerState,
                                         kBreakerTransitions,
                                         kBreakerOpened,
                                         kBreakerCalls,
                                         kCacheBytes,
                                         kCacheEntries,
                                         kCacheEvents,
                                         kJournalEntries,
                                         kJournalBytes,
                                         kJournalOps,
                                         kPinned,
                                         kSessionBufferBytes,
                                         kCommands,
                                         kUpstreamConnections,
                                         kUpstreamConnects,
                                         kUpstreamLatency,
                                         kUpstreamTimeouts,
                                         kHealthChecks,
                                         kHealthCheckDuration,
                                         kHealthProbesWhileOpen,
                                         kFaultsInjected};

// Registers scrape-time callbacks reading `shared` (which must outlive the registry's scrapes).
void register_data_metrics(metrics::Registry& registry, proxy::SharedState& shared);

}  // namespace seawall::app
