#pragma once
// What every worker thread shares: per-upstream state (breaker, journal), routing, policies,
// the L1 reply cache and the fallback chain with its counters, and the registry of clients.
// Ownership: owned by app::Server, outlives the workers. Thread safety: every member is
// thread-safe or immutable.
#include <memory>
#include <vector>

#include "seawall/cache/evicted_keys.hpp"
#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/command_set.hpp"
#include "seawall/metrics/counter.hpp"
#include "seawall/policy/fallback.hpp"
#include "seawall/policy/miss_leases.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/proxy/client_auth.hpp"
#include "seawall/proxy/client_registry.hpp"
#include "seawall/proxy/monitor_hub.hpp"
#include "seawall/proxy/near_links.hpp"
#include "seawall/proxy/proxy_config.hpp"
#include "seawall/proxy/writes_in_flight.hpp"
#include "seawall/router/router.hpp"
#include "seawall/upstream/connection.hpp"
#include "seawall/upstream/upstream_state.hpp"

namespace seawall::proxy {

struct SharedState {
  explicit SharedState(const ProxyConfig& config)
      : cache(cache::ReplyCacheOptions{config.cache.max_bytes, config.cache.max_entry_bytes, 16}),
        fallback(cache, config.protect_database.fallthrough_per_second,
                 config.protect_database.burst == 0 ? config.protect_database.fallthrough_per_second
                                                    : config.protect_database.burst),
        client_auth(config.auth) {
    for (const std::string& name : config.deny_commands) {
      denied.add(name);  // every name was checked against the command table at load
    }
    std::uint64_t seed = 0x5eedull;
    for (const auto& u : config.upstreams) {
      upstreams.push_back(std::make_unique<upstream::UpstreamState>(u, config.journal, seed++));
    }
  }

  std::vector<std::unique_ptr<upstream::UpstreamState>> upstreams;
  cache::ReplyCache cache;
  policy::Fallback fallback;
  ClientAuth client_auth;                // config.auth
  command::CommandSet denied;            // config.deny_commands
  std::atomic<std::uint32_t> pinned{0};  // sessions holding a dedicated connection
  // Heap bytes in client sessions' buffers, as each worker's idle sweep last summed them.
  std::atomic<std::uint64_t> session_buffer_bytes{0};
  ClientRegistry registry;          // every client session, for CLIENT LIST/KILL and INFO
  MonitorHub monitors;              // MONITOR sessions, fed the commands of every client
  WritesInFlight writes_in_flight;  // keys of writes sent whose outcome is not known yet
  policy::MissLeases miss_leases;   // keys whose miss one reader was given (policies[].miss_lease)
  cache::EvictedKeys evicted_keys;  // keys Redis evicted lately (upstream eviction events)
  // Near mode: cache keys whose read one near miss sent to Redis, the others waiting for its
  // reply (single-flight; see near_reads.hpp), and the links' counters.
  policy::MissLeases near_flights;
  NearCounters near;
  // Metric handles, resolved by app at startup (empty in tests: nothing is counted).
  std::vector<upstream::ConnectionMetrics> connection_metrics;  // per upstream
  std::vector<metrics::Counter*> command_counters;  // per command table index, then "unknown"

  void count_command(const command::CommandInfo* info) {
    if (command_counters.empty()) {
      return;
    }
    const auto all = command::all_commands();
    const std::size_t index =
        info != nullptr && info >= all.data() && info < all.data() + all.size()
            ? static_cast<std::size_t>(info - all.data())
            : all.size();
    command_counters[index]->inc();
  }
};

}  // namespace seawall::proxy
