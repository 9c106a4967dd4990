#pragma once
// A worker's reads of cluster replicas (`upstreams[].cluster.read_from: prefer_replica`): which
// upstream a read of a shard is sent to (router/replica_read.hpp's rule, over the facts gathered
// here), and the L1 ticket of a read sent to a replica.
//
// A read sent to a replica keeps its shard's master upstream as RequestSlot::upstream: the
// fallback chain, the journal, miss leases and near mode are the master's concern, and a
// -MOVED from the replica is followed like one from the master (ClusterRedirects). Its token
// says it went to a replica (make_token): when the replica fails it (connection lost, timeout,
// -LOADING, -MASTERDOWN ...), it is sent once more, to the master, before anything else is
// tried (ClusterRedirects::to_master).
//
// Replication is asynchronous: a replica may answer a value older than a write the master
// already acknowledged. That is what read_from: prefer_replica accepts for the reads it sends
// there (README "Redis Cluster"); the L1 must not keep such a value for the outage that may
// follow. A replica's reply is stored with a ticket from kLagGuard before the read was sent
// (cache/epoch_history.hpp): refused when any of its keys was written during that time.
//
// Ownership: one per worker, in its WorkerContext. Thread safety: that worker's thread.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "seawall/cache/epoch_history.hpp"
#include "seawall/cache/reply_cache.hpp"
#include "seawall/upstream/connect.hpp"

namespace seawall::proxy {

struct WorkerContext;
struct RequestSlot;

class ReplicaReads {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // The replication lag allowed for when a replica's reply is stored in the L1.
  static constexpr std::chrono::milliseconds kLagGuard{1000};
  static constexpr std::chrono::milliseconds kSampleStep{100};

  // The upstream read `slot` of shard upstream `up` is sent to: `up`'s replica upstream when
  // the rule says so, else `up`. `affinity` and `protocol` pick the client's connection.
  static std::size_t target(WorkerContext& ctx, std::size_t up, const RequestSlot& slot,
                            std::uint64_t affinity, upstream::Protocol protocol, TimePoint now);
  // The L1 ticket of a read sent to a replica at `now`.
  cache::ReadTicket ticket(const cache::ReplyCache& cache, TimePoint now);

 private:
  cache::EpochHistory history_{kSampleStep};
};

}  // namespace seawall::proxy
