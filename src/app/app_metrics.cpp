#include "seawall/app/app_metrics.hpp"

#include "app/process_stats.hpp"
#include "seawall/breaker/breaker_metrics.hpp"
#include "seawall/cache/cache_metrics.hpp"
#include "seawall/fault/fault_metrics.hpp"
#include "seawall/policy/policy_metrics.hpp"
#include "seawall/proxy/proxy_metrics.hpp"
#include "seawall/upstream/upstream_metrics.hpp"
#include "seawall/util/bugs.hpp"

namespace seawall::app {

void declare_metrics(metrics::Registry& registry) {
  registry.declare(kAppMetrics);
  registry.declare(kConfigMetrics);
  registry.declare(policy::kPolicyMetrics);
  registry.declare(breaker::kBreakerMetrics);
  registry.declare(cache::kCacheMetrics);
  registry.declare(upstream::kUpstreamMetrics);
  registry.declare(proxy::kProxyMetrics);
  registry.declare(fault::kFaultMetrics);
}

void register_app_metrics(metrics::Registry& registry, const std::atomic<std::uint32_t>& clients,
                          std::chrono::system_clock::time_point started) {
  registry.gauge(kBuildInfo).with({SEAWALL_VERSION}).set(1.0);
  registry.gauge(kClients).with_callback(
      {}, [&clients] { return static_cast<double>(clients.load(std::memory_order_relaxed)); });
  registry.gauge(kProcessStartTime)
      .with({})
      .set(static_cast<double>(
               std::chrono::duration_cast<std::chrono::milliseconds>(started.time_since_epoch())
                   .count()) /
           1000.0);
  registry.counter(kProcessCpu).with_callback({}, detail::process_cpu_seconds);
  registry.gauge(kProcessResidentMemory).with_callback({}, detail::process_resident_bytes);
  registry.gauge(kProcessOpenFds).with_callback({}, detail::process_open_fds);
  registry.gauge(kProcessMaxFds).with_callback({}, detail::process_max_fds);
  registry.counter(kBugs).with_callback({}, [] { return static_cast<double>(util::bugs_total()); });
}

}  // namespace seawall::app
