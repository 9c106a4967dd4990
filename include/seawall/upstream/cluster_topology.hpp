#pragma once
// Where a cluster upstream's shards are (`upstreams[].cluster`): one per cluster upstream, shared
// by the connections of every shard on every thread, so that the pipelined connections, the
// pinned links and the health checkers learn the slot map in one place.
//
// At startup bootstrap() asks the seeds CLUSTER SLOTS and keeps the map most of them agree on
// (cluster/slot_map.hpp): its masters become the shards, and `cluster.spare_shards` more wait
// for masters added to the cluster later; their number stays fixed until a restart (app::Server
// makes one internal upstream of each). When no seed answers, seawall still starts, with one
// shard per seed (and the spares), and learns the map once they answer.
//
// Afterwards, on the control thread, the map is asked again of the known nodes (seeds, masters,
// replicas) every kRefreshEvery, and at once on request_refresh() (a MOVED, a connection to a
// shard closing or failing to connect, a node that is not a master): the requests coalesce, one
// refresh runs at a time, at most one every kMinGap. Each refresh moves slots between shards (a
// reshard) and changes a shard's master when the cluster promoted one of its replicas (a
// failover); the change handler then runs with the shard's number, and app::Server closes every
// connection of that shard so that each reconnects to the new master (its journal replays
// there). A MOVED reply (moved()) updates its one slot at once, as cluster clients do.
//
// connect_upstream asks shard_master() on each connect of a shard, then checks the node with
// ROLE, so that no request reaches a node that is no longer a master. A shard's replica upstream
// (read_from: prefer_replica) asks shard_replicas() instead, the one it last connected to first,
// and checks that ROLE says replica; a refresh that changes a shard's set of replicas runs the
// replicas change handler, and app::Server reconnects that shard's replica upstream.
//
// Ownership: shared_ptr, held by app::Server and by the config snapshots (UpstreamConfig::
// topology); the refresh coroutine keeps it alive until stop().
// Thread safety: shard_master(), moved(), upstream_of(), request_refresh() and the readers may be
// called from any thread (one mutex, taken on connects, redirects and refreshes, never per
// request); the slot table is read lock-free. start() and stop() from any thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "seawall/cluster/redirect.hpp"
#include "seawall/cluster/slot_map.hpp"
#include "seawall/cluster/slot_table.hpp"
#include "seawall/net.hpp"
#include "seawall/upstream/sentinel_replies.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::upstream {

class ClusterTopology : public std::enable_shared_from_this<ClusterTopology> {
 public:
  static constexpr std::chrono::milliseconds kRefreshEvery{1000};
  static constexpr std::chrono::milliseconds kMinGap{100};
  // Nodes asked per refresh: enough for a majority of a small cluster's masters and replicas.
  static constexpr std::size_t kMaxNodesAsked = 9;

  // `settings`: the cluster upstream's own config (AUTH, timeouts) for talking to its nodes.
  explicit ClusterTopology(const UpstreamConfig& settings);

  // Startup, blocking (its own io_context): the shards from the seeds' map. Returns how many.
  std::size_t bootstrap();
  // Once app::Server placed the shards: `shard_upstreams[k]` is shard k's internal upstream.
  // Builds the slot table from the bootstrap map.
  void attach(std::vector<std::size_t> shard_upstreams);
  const std::shared_ptr<cluster::SlotTable>& slots() const { return slots_; }

  // Shard `shard`'s master now; nullopt when it has none.
  std::optional<HostPort> shard_master(std::uint32_t shard) const;
  // A spare shard no master has taken yet: its connections and health check wait idle, not
  // failing (connect_upstream says dormant).
  bool spare(std::uint32_t shard) const;
  // Shard `shard`'s replicas as the map lists them (a failed one is not listed), the one a
  // connection of its replica upstream last reached first; empty when it has none.
  std::vector<HostPort> shard_replicas(std::uint32_t shard) const;
  // A connection of shard `shard`'s replica upstream is up at `node`: the next connects try it
  // first, so that the upstream's connections stay on one replica.
  void replica_connected(std::uint32_t shard, const HostPort& node);
  // The replica shard_replicas() names first, for /status; nullopt when the shard has none.
  std::optional<HostPort> shard_replica(std::uint32_t shard) const;
  // Redis answered -MOVED <slot> <node>: the slot now lives at `node`. Returns the internal
  // upstream of the shard whose master that is (the slot table says so from now on), or nullopt
  // when no shard's is (a refresh is on its way). Either way a refresh is requested.
  std::optional<std::size_t> moved(std::uint16_t slot, const cluster::NodeAddress& node);
  // -ASK <slot> <node>: the internal upstream of the shard whose master `node` is; the map is
  // not changed. Here and in moved(), a node that is no shard's master nor any shard's replica
  // (a master added to the cluster, named by a redirect before any map lists it: CLUSTER SLOTS
  // omits a master without slots) takes the first spare shard at once.
  std::optional<std::size_t> upstream_of(const cluster::NodeAddress& node);
  // Where a command a node redirected goes: upstream_of() for an ASK, moved() for a MOVED; when
  // no shard takes the node named, nullopt, and a refresh is requested.
  std::optional<std::size_t> target_of(const cluster::Redirect& redirect);
  // Coalesced and rate-limited (see the header comment).
  void request_refresh();

  // Refreshes on `control` until stop(); `on_master_change(shard)` runs there after a shard's
  // master changed, `on_replicas_change(shard)` after its set of replicas changed.
  void start(asio::any_io_executor control, std::function<void(std::uint32_t)> on_master_change,
             std::function<void(std::uint32_t)> on_replicas_change = {});
  void stop();
  // After the control executor's thread has ended: lets go of the refresh timer on the caller's
  // thread, so that it does not outlive the io_context whose service it belongs to (the topology
  // itself lives on in config snapshots until the server is destroyed).
  void release_after_stop();

  // For /status and /metrics.
  std::vector<cluster::ShardNodes> shards() const;
  std::uint64_t refreshes() const { return refreshes_.load(std::memory_order_relaxed); }
  std::uint64_t refresh_successes() const {
    return refresh_successes_.load(std::memory_order_relaxed);
  }
  std::uint64_t refresh_failures() const {
    return refresh_failures_.load(std::memory_order_relaxed);
  }
  std::uint64_t redirects() const {
    return moved_redirects() + ask_redirects_.load(std::memory_order_relaxed);
  }
  std::uint64_t moved_redirects() const { return redirects_.load(std::memory_order_relaxed); }
  std::uint64_t ask_redirects() const { return ask_redirects_.load(std::memory_order_relaxed); }
  void count_redirect(bool ask) {
    (ask ? ask_redirects_ : redirects_).fetch_add(1, std::memory_order_relaxed);
  }
  const std::string& name() const { return settings_.name; }

 private:
  // Asks the known nodes; the majority map, or nullopt when none answered.
  awaitable<std::optional<cluster::SlotMap>> ask_nodes(asio::any_io_executor ex);
  awaitable<std::optional<cluster::SlotMap>> ask(asio::any_io_executor ex,
                                                 const cluster::NodeAddress& node,
                                                 std::string& error);
  awaitable<void> refresh_loop(asio::any_io_executor control);
  struct Changes {
    std::vector<std::uint32_t> masters;   // shards whose master changed
    std::vector<std::uint32_t> replicas;  // shards whose set of replicas changed
  };
  // Applies `map`.
  Changes apply(const cluster::SlotMap& map);
  std::vector<cluster::NodeAddress> nodes_to_ask() const;
  // Under mutex_: the shard whose master `node` is, or the spare it takes (see upstream_of).
  std::optional<std::size_t> shard_of_master(const cluster::NodeAddress& node);

  UpstreamConfig settings_;  // host, port, resolver and topology cleared
  std::vector<cluster::NodeAddress> seeds_;

  mutable std::mutex mutex_;
  std::vector<cluster::ShardNodes> shards_;
  std::vector<std::optional<cluster::NodeAddress>> replica_reached_;  // per shard
  std::optional<cluster::SlotMap> bootstrap_map_;
  std::shared_ptr<cluster::SlotTable> slots_;
  std::vector<cluster::NodeAddress> unassigned_;  // last logged

  std::atomic<bool> requested_{false};
  std::atomic<std::uint64_t> refreshes_{0};
  std::atomic<std::uint64_t> refresh_failures_{0};
  std::atomic<std::uint64_t> refresh_successes_{0};
  std::atomic<std::uint64_t> redirects_{0};  // MOVED
  std::atomic<std::uint64_t> ask_redirects_{0};

  std::optional<asio::any_io_executor> control_;  // under mutex_
  // The refresher: control thread only.
  std::function<void(std::uint32_t)> on_change_;
  std::function<void(std::uint32_t)> on_replicas_change_;
  std::unique_ptr<asio::steady_timer> wake_;
  bool stopped_ = true;
};

// Whether `config` is a shard of a cluster upstream that no master has taken yet
// (ClusterTopology::spare): nothing to connect to, check, listen to or fan out to.
inline bool spare_shard(const UpstreamConfig& config) {
  return config.topology != nullptr && config.topology->spare(config.shard);
}

}  // namespace seawall::upstream
