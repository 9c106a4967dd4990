#pragma once
// One loaded configuration and what is built from it for the data path (routes, policies,
// faults).
// A reload makes a new Snapshot and each worker swaps to it on its own thread; the old one stays
// alive (workers retire rather than free snapshots), because requests in flight keep pointers
// to its policies.
// Thread safety: immutable.
#include <cstdint>
#include <memory>

#include "seawall/fault/fault_injector.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/proxy/proxy_config.hpp"
#include "seawall/router/router.hpp"

namespace seawall::proxy {

struct Snapshot {
  Snapshot(std::shared_ptr<const ProxyConfig> c, std::uint64_t v)
      : config(std::move(c)),
        router(config->routes, config->default_upstream_index, config->upstreams),
        policies(config->policies, config->fallback_policy),
        faults(config->faults),
        version(v) {}

  std::shared_ptr<const ProxyConfig> config;
  router::Router router;
  policy::PolicyTable policies;
  fault::FaultInjector faults;  // a reload that drops a fault stops it with this snapshot
  std::uint64_t version;
};

}  // namespace seawall::proxy
