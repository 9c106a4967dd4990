#pragma once
// The client sessions' metrics: writes kept in order behind another client's, pinned sessions,
// session buffer bytes and commands by name (SharedState::command_counters).
// Thread safety: constants.
#include <array>

#include "seawall/metrics/spec.hpp"

namespace seawall::proxy {

inline constexpr metrics::Spec kWritesOrdered{
    "seawall_writes_ordered_total",
    metrics::Type::Counter,
    "Writes of a key whose write from another client was still in flight, kept in order: moved "
    "to that write's connection, or waited for its outcome.",
    {"how"}};
inline constexpr metrics::Spec kPinned{"seawall_pinned_sessions", metrics::Type::Gauge,
                                       "Client sessions holding a dedicated upstream connection."};
inline constexpr metrics::Spec kSessionBufferBytes{
    "seawall_session_buffer_bytes", metrics::Type::Gauge,
    "Heap bytes client sessions hold in buffers and reply slots (read buffers lent, output, "
    "slots), summed by each worker's idle sweep once a second."};
inline constexpr metrics::Spec kCommands{"seawall_commands_total",
                                         metrics::Type::Counter,
                                         "Commands received from clients, by command name.",
                                         {"command"}};

inline constexpr metrics::Spec kNearInvalidations{
    "seawall_near_invalidations_total", metrics::Type::Counter,
    "Keys invalidated by Redis's tracking messages on near mode's tracking links (one per link "
    "and key)."};
inline constexpr metrics::Spec kNearLinks{
    "seawall_near_tracking_links", metrics::Type::Gauge,
    "Near mode's tracking links subscribed now (one per worker thread and upstream)."};
inline constexpr metrics::Spec kNearFlights{
    "seawall_near_flights_total",
    metrics::Type::Counter,
    "Near-mode reads that missed the L1: led a read to Redis, or waited for another reader's.",
    {"outcome"}};

inline constexpr std::array kProxyMetrics{
    kWritesOrdered,     kPinned,    kSessionBufferBytes, kCommands,
    kNearInvalidations, kNearLinks, kNearFlights};

}  // namespace seawall::proxy
