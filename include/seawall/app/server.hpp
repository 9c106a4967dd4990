#pragma once
// Composition root: builds the workers from a Config, runs them, and handles SIGTERM/SIGINT
// (graceful drain bounded by shutdown.drain_timeout) and SIGHUP or a changed config file (hot
// reload: a valid file is swapped in atomically, a bad one is logged and the old one kept). Owns
// the metrics registry and the admin server (when admin.enabled), whose /readyz turns 503 at the
// signal, before draining starts. Ownership: owns every worker, the registry and the admin server;
// the admin server is destroyed first, so no scrape runs against a half-destroyed Server. Thread
// safety: run() on the main thread only.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/config/config.hpp"
#include "seawall/metrics/registry.hpp"
#include "seawall/net.hpp"
#include "seawall/upstream/eviction_listener.hpp"
#include "seawall/upstream/health_checker.hpp"

namespace seawall::admin {
class AdminServer;
}

namespace seawall::proxy {
class Worker;
struct SharedState;
}  // namespace seawall::proxy

namespace seawall::app {

namespace detail {
struct ConfigStatus;
struct ClusterUpstream;  // app/cluster_shards.hpp
}  // namespace detail

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Config> config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, serves until a termination signal, drains, and returns the exit code.
  int run();

  // Every metric of the process; modules fetch their families and children from it at startup.
  metrics::Registry& metrics() { return metrics_; }

 private:
  // GET /status: version, uptime, readiness, clients, listen address, the configuration (file,
  // version, hash, last reload's result), answers by source, and per upstream its breaker
  // (state, override, remaining open period, last transition, counters), journal, requests in
  // doubt and latest health-check latency. Admin thread.
  std::string status_json() const;
  // Counts a reload that kept the old configuration and remembers why, for /status and metrics.
  void reload_failed(std::string_view reason, const std::string& error);
  // Loads the config file again; if valid, swaps it in everywhere, else keeps the old one.
  // Main thread only.
  void reload(std::string_view reason);
  // Whether the config file's content differs from the last one seen (ConfigMap updates swap a
  // symlink, so the content is compared, not the inode or mtime).
  bool config_file_changed();
  // The steps of run(), in order.
  void wire_metrics();            // families every module counts into, resolved once
  void load_journals();           // writes a previous run journaled, waiting for replay
  void start_admin();             // /metrics, /status, /healthz, /readyz, breaker control
  void remember_loaded_config();  // what /status says of the file
  void create_workers();          // one per thread, on the first snapshot
  // The health checkers, on the control thread's `control`, which outlives them.
  void start_health_checks(asio::io_context& control);
  void start_serving();  // workers accept, /readyz turns ready
  // Serves (reloading on SIGHUP or a changed file) until SIGINT/SIGTERM; returns which.
  int serve_until_signal(asio::io_context& main_ioc, asio::signal_set& signals);
  // Stops accepting and waits up to shutdown.drain_timeout; returns the clients left.
  std::uint32_t drain_clients(asio::io_context& main_ioc, int signal_number);
  void stop_workers();
  void stop_health_checks(asio::io_context& control);
  // Once the control thread has ended (or never ran): lets go of what ran on it (resolvers'
  // and topologies' sockets and timers, health checkers, eviction listeners) before the control
  // io_context is destroyed.
  void release_control_tasks();
  // The health checker of upstream `index` of `config`, on the control thread.
  std::shared_ptr<upstream::HealthChecker> make_health_checker(const config::Config& config,
                                                               std::size_t index);
  // Its listener of eviction events, or null when its eviction_events is off.
  std::shared_ptr<upstream::EvictionListener> make_eviction_listener(const config::Config& config,
                                                                     std::size_t index);
  // Replaces upstream `index`'s control-thread tasks (health checker, eviction listener) with
  // ones for `config` (a reload changed them, or a sentinel named another master).
  void restart_watchers(const config::Config& config, std::size_t index);
  upstream::HealthCounters health_counters(const std::string& upstream);
  // Gives each sentinel-managed upstream of `config` its UpstreamState's resolver.
  void attach_resolvers(config::Config& config) const;
  // A sentinel-managed upstream's master changed (MasterResolver's change handler): the metric
  // follows, and on Reconnect every connection of the upstream reconnects (the pools of every
  // worker and the health checker are replaced). Control thread.
  void on_master_change(std::size_t index, bool reconnect);
  // Startup, before anything is built from the config: asks each cluster upstream's seeds for
  // its map and expands the config into one upstream per shard (cluster_shards.hpp).
  void build_clusters();
  // Expands a reloaded config as the running one was; false when its upstreams do not line up
  // (the identity check then refuses the reload).
  bool expand_reloaded(config::Config& config) const;
  // Every connection of upstream `index` reconnects: the pools of every worker and the health
  // checker are replaced. Control thread.
  void reconnect_upstream(const config::Config& config, std::size_t index);
  upstream::PoolReadiness pool_readiness(const config::UpstreamConfig& upstream, unsigned threads);
  std::shared_ptr<const config::Config> current_config() const {
    std::lock_guard lock(config_mutex_);
    return config_;
  }

  mutable std::mutex config_mutex_;  // config_ and config_status_ are read by the admin thread
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<detail::ConfigStatus> config_status_;  // never null
  std::atomic<std::uint64_t> version_{1};  // bumped by each successful reload; read by /status
  std::string last_seen_text_;
  asio::io_context* control_ = nullptr;  // the control thread's, while run() runs
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  std::atomic<std::uint32_t> clients_{0};
  std::atomic<std::uint64_t> next_client_id_{1};
  metrics::Registry metrics_;
  std::unique_ptr<proxy::SharedState> shared_;
  std::mutex workers_mutex_;  // workers_ as on_master_change (control thread) walks it
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::vector<std::shared_ptr<upstream::HealthChecker>> health_checkers_;
  std::vector<std::shared_ptr<upstream::EvictionListener>> eviction_listeners_;  // may hold null
  // The master address each sentinel-managed upstream's gauge shows as 1 ("" none). Control
  // thread.
  std::vector<std::string> master_shown_;
  // The cluster upstreams and their shards (build_clusters); fixed after startup.
  std::vector<detail::ClusterUpstream> clusters_;
  std::size_t loaded_upstreams_ = 0;           // upstreams in the config file, before the expansion
  std::unique_ptr<admin::AdminServer> admin_;  // last: stopped before anything it reads dies
};

// Parses the command line and runs; what main() calls.
int main_entry(int argc, char** argv);

}  // namespace seawall::app
