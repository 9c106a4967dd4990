#pragma once
// The data path's metrics, each declared beside its module's code, registered here once the
// shared state exists.
// Most are read at scrape time from the atomics the modules keep anyway (answers by source,
// breaker counters, L1 and journal statistics), so the hot path pays nothing extra; commands
// by name, upstream connections and request latency are counted by handles resolved at startup.
// Thread safety: the tables are constants; registration happens at startup on the main thread.
#include <array>

#include "seawall/metrics/registry.hpp"
#include "seawall/metrics/spec.hpp"
#include "seawall/proxy/shared_state.hpp"

namespace seawall::app {

// Registers scrape-time callbacks reading `shared` (which must outlive the registry's scrapes).
void register_data_metrics(metrics::Registry& registry, proxy::SharedState& shared);

}  // namespace seawall::app
