#pragma once
// What every worker thread shares: per-upstream state (breaker, journal), routing, policies,
// the L1 reply cache and the fallback chain with its counters.
// Ownership: owned by app::Server, outlives the workers. Thread safety: every member is
// thread-safe or immutable.
#include <memory>
#include <vector>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/config/config.hpp"
#include "seawall/policy/fallback.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/router/router.hpp"
#include "seawall/upstream/upstream_state.hpp"

namespace seawall::proxy {

struct SharedState {
  explicit SharedState(const config::Config& config)
      : router(config),
        policies(config.policies, config.fallback_policy),
        cache(cache::ReplyCacheOptions{config.cache.max_bytes, config.cache.max_entry_bytes, 16}),
        fallback(cache, config.protect_database.fallthrough_per_second,
                 config.protect_database.burst == 0 ? config.protect_database.fallthrough_per_second
                                                    : config.protect_database.burst) {
    std::uint64_t seed = 0x5eedull;
    for (const auto& u : config.upstreams) {
      upstreams.push_back(std::make_unique<upstream::UpstreamState>(u, config.journal, seed++));
    }
  }

  std::vector<std::unique_ptr<upstream::UpstreamState>> upstreams;
  router::Router router;
  policy::PolicyTable policies;
  cache::ReplyCache cache;
  policy::Fallback fallback;
  std::atomic<std::uint32_t> pinned{0};  // sessions holding a dedicated connection
};

}  // namespace seawall::proxy
