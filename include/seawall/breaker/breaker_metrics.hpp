#pragma once
// The circuit breakers' metrics, one series per upstream, read at each scrape from the
// breaker's state and BreakerCounters.
// Thread safety: constants.
#include <array>

#include "seawall/metrics/spec.hpp"

namespace seawall::breaker {

inline constexpr metrics::Spec kBreakerState{
    "seawall_breaker_state",
    metrics::Type::Gauge,
    "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
    {"upstream"}};
inline constexpr metrics::Spec kBreakerTransitions{"seawall_breaker_transitions_total",
                                                   metrics::Type::Counter,
                                                   "Circuit breaker state changes.",
                                                   {"upstream"}};
inline constexpr metrics::Spec kBreakerOpened{"seawall_breaker_opened_total",
                                              metrics::Type::Counter,
                                              "Transitions into the open state.",
                                              {"upstream"}};
inline constexpr metrics::Spec kBreakerCalls{
    "seawall_breaker_calls_total",
    metrics::Type::Counter,
    "Calls judged by the breaker, by outcome: success, failure, timeout, slow, rejected.",
    {"upstream", "outcome"}};

inline constexpr std::array kBreakerMetrics{kBreakerState, kBreakerTransitions, kBreakerOpened,
                                            kBreakerCalls};

}  // namespace seawall::breaker
