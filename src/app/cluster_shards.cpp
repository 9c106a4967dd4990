#include "app/cluster_shards.hpp"

#include <string>

namespace seawall::app::detail {

std::vector<std::size_t> place_shards(std::size_t index, std::size_t shards, std::size_t& next) {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < shards; ++k) {
    out.push_back(k == 0 ? index : next++);
  }
  return out;
}

void expand_clusters(config::Config& config, std::span<const ClusterUpstream> clusters) {
  for (const ClusterUpstream& c : clusters) {
    const config::UpstreamConfig base = config.upstreams.at(c.index);
    for (std::size_t k = 0; k < c.shard_upstreams.size(); ++k) {
      config::UpstreamConfig shard = base;
      shard.name = base.name + "." + std::to_string(k);
      shard.topology = c.topology;
      shard.slots = c.slots;
      shard.shard = static_cast<std::uint32_t>(k);
      const std::size_t at = c.shard_upstreams[k];
      if (at < config.upstreams.size()) {
        config.upstreams[at] = std::move(shard);
      } else {
        config.upstreams.resize(at + 1);
        config.upstreams[at] = std::move(shard);
      }
    }
  }
}

}  // namespace seawall::app::detail
