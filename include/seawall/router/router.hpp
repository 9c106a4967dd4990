#pragma once
// Key -> upstream index by prefix routes (first match wins), else the default upstream. When the
// upstream reached is a Redis Cluster, the key's slot (cluster/key_slot.hpp) picks the shard's
// internal upstream from the cluster's slot table. A shard of a cluster under read_from:
// prefer_replica also has a replica upstream (replica_of), which reads may take instead
// (router/replica_read.hpp says when).
// Thread safety: immutable after construction (a slot table is read lock-free).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seawall/cluster/key_slot.hpp"
#include "seawall/cluster/slot_table.hpp"
#include "seawall/router/route_config.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::router {

// Where one key goes: its upstream, and its slot when that upstream is a cluster shard.
struct KeyRoute {
  static constexpr std::uint16_t kNoSlot = cluster::kSlots;

  std::size_t upstream = 0;
  std::uint16_t slot = kNoSlot;

  bool operator==(const KeyRoute&) const = default;
  // A value that two keys share exactly when one request may carry both: the same upstream and
  // (in a cluster, where Redis refuses keys of two slots with -CROSSSLOT) the same slot.
  std::size_t part_key() const { return upstream * (cluster::kSlots + 1u) + slot; }
  static std::size_t upstream_of_part(std::size_t part_key) {
    return part_key / (cluster::kSlots + 1u);
  }
};

class Router {
 public:
  // Keys no route matches go to upstream `default_index`. `upstreams` marks the clusters: the
  // shard whose `slots` is set and whose `shard` is 0 stands in the cluster upstream's place.
  // A replica upstream (shard_role Replica) of shard k stands beside that shard's upstream.
  Router(std::vector<RouteConfig> routes, std::size_t default_index,
         std::span<const upstream::UpstreamConfig> upstreams = {})
      : routes_(std::move(routes)),
        default_index_(default_index),
        slots_(upstreams.size()),
        replicas_(upstreams.size(), kNoReplica) {
    for (std::size_t i = 0; i < upstreams.size(); ++i) {
      const upstream::UpstreamConfig& u = upstreams[i];
      if (u.slots == nullptr) {
        continue;
      }
      if (u.shard_role == upstream::ShardRole::Replica) {
        if (u.shard < u.slots->shards() && u.slots->shard_upstream(u.shard) < replicas_.size()) {
          replicas_[u.slots->shard_upstream(u.shard)] = i;
          any_replica_ = true;
        }
      } else if (u.shard == 0) {
        slots_[i] = u.slots;
        any_cluster_ = true;
      }
    }
  }

  std::size_t route(std::string_view key) const { return route_key(key).upstream; }
  KeyRoute route_key(std::string_view key) const {
    const std::size_t up = by_prefix(key);
    if (up < slots_.size() && slots_[up] != nullptr) {
      const std::uint16_t slot = cluster::key_slot(key);
      return KeyRoute{slots_[up]->upstream_of_slot(slot), slot};
    }
    return KeyRoute{up, KeyRoute::kNoSlot};
  }
  std::size_t default_index() const { return default_index_; }
  // The slot table of the cluster at upstream `up` (its shard 0), or null when `up` is no
  // cluster: where commands without keys fan out (CommandRules::fanout).
  const cluster::SlotTable* cluster_at(std::size_t up) const {
    return up < slots_.size() ? slots_[up].get() : nullptr;
  }
  // The replica upstream beside shard upstream `up`, or nullopt (not a shard, or read_from:
  // primary).
  std::optional<std::size_t> replica_of(std::size_t up) const {
    if (!any_replica_ || up >= replicas_.size() || replicas_[up] == kNoReplica) {
      return std::nullopt;
    }
    return replicas_[up];
  }
  // Every key goes to one upstream (no routes, no cluster).
  bool single_upstream() const { return routes_.empty() && !any_cluster_; }

 private:
  std::size_t by_prefix(std::string_view key) const {
    for (const auto& r : routes_) {
      if (key.starts_with(r.prefix)) {
        return r.upstream_index;
      }
    }
    return default_index_;
  }

  static constexpr std::size_t kNoReplica = static_cast<std::size_t>(-1);

  std::vector<RouteConfig> routes_;
  std::size_t default_index_;
  std::vector<std::shared_ptr<cluster::SlotTable>> slots_;  // per upstream; set on cluster heads
  std::vector<std::size_t> replicas_;  // per upstream: its replica upstream, or kNoReplica
  bool any_cluster_ = false;
  bool any_replica_ = false;
};

}  // namespace seawall::router
