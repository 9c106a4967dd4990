#include "app/cluster_metrics.hpp"

#include "seawall/cluster/slot_table.hpp"
#include "seawall/upstream/cluster_topology.hpp"
#include "seawall/upstream/upstream_metrics.hpp"

namespace seawall::app::detail {

void register_cluster_metrics(metrics::Registry& registry,
                              std::span<const ClusterUpstream> clusters,
                              const proxy::SharedState& shared) {
  for (const ClusterUpstream& c : clusters) {
    const upstream::ClusterTopology* topology = c.topology.get();
    const cluster::SlotTable* slots = c.slots.get();
    for (std::size_t shard = 0; shard < c.shard_upstreams.size(); ++shard) {
      registry.gauge(upstream::kClusterSlots)
          .with_callback({shared.upstreams[c.shard_upstreams[shard]]->name()}, [slots, shard] {
            return static_cast<double>(slots->slots_of(static_cast<std::uint16_t>(shard)));
          });
    }
    const std::string& name = topology->name();
    registry.counter(upstream::kClusterRedirects).with_callback({name, "moved"}, [topology] {
      return static_cast<double>(topology->moved_redirects());
    });
    registry.counter(upstream::kClusterRedirects).with_callback({name, "ask"}, [topology] {
      return static_cast<double>(topology->ask_redirects());
    });
    registry.counter(upstream::kClusterRefreshes).with_callback({name, "ok"}, [topology] {
      return static_cast<double>(topology->refresh_successes());
    });
    registry.counter(upstream::kClusterRefreshes).with_callback({name, "failed"}, [topology] {
      return static_cast<double>(topology->refresh_failures());
    });
  }
}

}  // namespace seawall::app::detail
