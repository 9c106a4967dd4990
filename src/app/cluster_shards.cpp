#include "app/cluster_shards.hpp"

#include <string>
#include <utility>

namespace seawall::app::detail {

std::vector<std::size_t> place_shards(std::size_t index, std::size_t shards, std::size_t& next) {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < shards; ++k) {
    out.push_back(k == 0 ? index : next++);
  }
  return out;
}

std::vector<std::size_t> place_replicas(std::size_t shards, std::size_t& next) {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < shards; ++k) {
    out.push_back(next++);
  }
  return out;
}

namespace {

void put_at(config::Config& config, std::size_t at, config::UpstreamConfig upstream) {
  if (at >= config.upstreams.size()) {
    config.upstreams.resize(at + 1);
  }
  config.upstreams[at] = std::move(upstream);
}

}  // namespace

void expand_clusters(config::Config& config, std::span<const ClusterUpstream> clusters) {
  for (const ClusterUpstream& c : clusters) {
    const config::UpstreamConfig base = config.upstreams.at(c.index);
    for (std::size_t k = 0; k < c.shard_upstreams.size(); ++k) {
      config::UpstreamConfig shard = base;
      shard.name = base.name + "." + std::to_string(k);
      shard.topology = c.topology;
      shard.slots = c.slots;
      shard.shard = static_cast<std::uint32_t>(k);
      put_at(config, c.shard_upstreams[k], std::move(shard));
    }
    for (std::size_t k = 0; k < c.replica_upstreams.size(); ++k) {
      config::UpstreamConfig replica = base;
      replica.name = base.name + "." + std::to_string(k) + ".replica";
      replica.topology = c.topology;
      replica.slots = c.slots;
      replica.shard = static_cast<std::uint32_t>(k);
      replica.shard_role = upstream::ShardRole::Replica;
      // Keys are evicted by the master (its listener hears of them), and tracked there.
      replica.eviction_events = upstream::EvictionEvents::Off;
      put_at(config, c.replica_upstreams[k], std::move(replica));
    }
  }
}

}  // namespace seawall::app::detail
