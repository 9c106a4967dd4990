#pragma once
// What every session of one worker thread shares: the config snapshot, the upstream pools, the
// session registry used for draining, and counters.
// Ownership: owned by proxy::Worker, outlives its sessions. Thread safety: that worker's thread,
// except `clients`, which is process-wide.
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "seawall/proxy/cache_repair.hpp"
#include "seawall/proxy/link_drain.hpp"
#include "seawall/proxy/near_links.hpp"
#include "seawall/proxy/parked_reads.hpp"
#include "seawall/proxy/proxy_config.hpp"
#include "seawall/proxy/read_buffer_pool.hpp"
#include "seawall/proxy/replica_reads.hpp"
#include "seawall/proxy/shared_state.hpp"
#include "seawall/proxy/snapshot.hpp"
#include "seawall/resp/limits.hpp"
#include "seawall/upstream/pool.hpp"

namespace seawall::proxy {

class Session;
class NearVerify;  // near_reads.hpp

struct WorkerContext {
  // The current configuration (always snapshot->config) and what is built from it.
  std::shared_ptr<const ProxyConfig> config;
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<std::shared_ptr<const Snapshot>> retired;  // kept: in-flight slots point into them
  SharedState* shared = nullptr;
  resp::Limits parser_limits;
  std::unique_ptr<CacheRepair> repair;      // before the pools: their connections reply to it
  std::unique_ptr<LinkDrains> drains;       // links sessions left with replies owed
  std::unique_ptr<ParkedReads> parked;      // degraded reads waiting for a write's outcome
  std::unique_ptr<NearLinks> near;          // near mode's tracking links (started with the worker)
  std::unique_ptr<NearVerify> near_verify;  // PTTLs verifying near copies; before the pools
  std::vector<std::unique_ptr<upstream::Pool>> pools;          // in config.upstreams order
  std::vector<std::unique_ptr<upstream::Pool>> retired_pools;  // draining after a reload
  std::atomic<std::uint32_t>* clients = nullptr;               // process-wide open client count
  std::atomic<std::uint64_t>* next_client_id = nullptr;
  unsigned worker_index = 0;  // this worker's place among the threads (0-based)
  std::unordered_set<Session*> sessions;
  ReadBufferPool read_buffers;  // lent to sessions while their clients' bytes arrive
  ReplicaReads replica_reads;   // cluster reads sent to replicas (read_from: prefer_replica)
  // Draws for the faults' percentages: one per worker, so no thread waits on another's.
  fault::FastRandom fault_random{std::random_device{}()};
  bool draining = false;
  std::uint64_t sessions_closed = 0;  // the worker trims the heap after bursts of closes
};

}  // namespace seawall::proxy
