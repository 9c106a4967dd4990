#pragma once
// How a cluster upstream becomes internal upstreams (upstreams[].cluster, README "Redis
// Cluster"): one per shard, so that each shard has what a configured upstream has (breaker,
// pools, journal, health check, metrics) and a failing shard is one failing upstream. Shard 0
// takes the cluster upstream's own place, so that routes, default_upstream and faults, which
// name the cluster by its index, reach its slot table (router.hpp); the other shards are
// appended after every configured upstream, in the order of the clusters. Each shard is named
// "<name>.<shard>" (in logs, metrics, /status and the admin breaker endpoints) and connects
// through the cluster's topology. Under `cluster.read_from: prefer_replica` each shard also has
// a replica upstream, "<name>.<shard>.replica", appended after the cluster's shards: it connects
// to one of the shard's replicas (READONLY, ROLE checked) and only ever carries reads that the
// router sends it (proxy/replica_reads.hpp); it has no eviction listener, tracking link or
// journal file. Server::run expands the loaded config once the seeds have answered, and every
// reload's config the same way with the same topologies.
// Thread safety: pure functions of their arguments.
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "seawall/config/config.hpp"

namespace seawall::upstream {
class ClusterTopology;
}  // namespace seawall::upstream

namespace seawall::app::detail {

struct ClusterUpstream {
  std::size_t index = 0;  // the cluster upstream's place in the loaded config
  std::shared_ptr<upstream::ClusterTopology> topology;
  std::shared_ptr<cluster::SlotTable> slots;
  std::vector<std::size_t> shard_upstreams;  // shard k's internal upstream
  // Shard k's replica upstream (read_from: prefer_replica); empty under read_from: primary.
  std::vector<std::size_t> replica_upstreams;
};

// The internal upstream of each of `shards` shards of the cluster at `index`: `index` first, then
// `next`, `next + 1`, ... (`next` is advanced past them).
std::vector<std::size_t> place_shards(std::size_t index, std::size_t shards, std::size_t& next);
// The replica upstreams of `shards` shards: `next`, `next + 1`, ... (`next` advanced past them).
std::vector<std::size_t> place_replicas(std::size_t shards, std::size_t& next);

// Replaces each cluster upstream of `config` (not yet expanded) with its shards.
void expand_clusters(config::Config& config, std::span<const ClusterUpstream> clusters);

}  // namespace seawall::app::detail
