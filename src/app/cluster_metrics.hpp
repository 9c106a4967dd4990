#pragma once
// The Prometheus series of Redis Cluster upstreams (README "Metrics"): slots per shard, and
// per cluster the redirects followed and the map refreshes. Read from the topology and the slot
// table at each scrape.
// Thread safety: register once, at startup; the callbacks run on the admin thread.
#include <span>
#include <vector>

#include "app/cluster_shards.hpp"
#include "seawall/metrics/registry.hpp"
#include "seawall/proxy/shared_state.hpp"

namespace seawall::app::detail {

void register_cluster_metrics(metrics::Registry& registry,
                              std::span<const ClusterUpstream> clusters,
                              const proxy::SharedState& shared);

}  // namespace seawall::app::detail
