#include "seawall/app/server.hpp"

#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "app/cluster_metrics.hpp"
#include "app/cluster_shards.hpp"
#include "app/reload_rules.hpp"
#include "app/status.hpp"
#include "seawall/admin/admin_server.hpp"
#include "seawall/admin/json.hpp"
#include "seawall/app/app_metrics.hpp"
#include "seawall/app/data_metrics.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/config/loader.hpp"
#include "seawall/metrics/shard.hpp"
#include "seawall/net.hpp"
#include "seawall/proxy/proxy_metrics.hpp"
#include "seawall/proxy/shared_state.hpp"
#include "seawall/proxy/snapshot.hpp"
#include "seawall/proxy/worker.hpp"
#include "seawall/upstream/cluster_topology.hpp"
#include "seawall/upstream/health_checker.hpp"
#include "seawall/upstream/upstream_metrics.hpp"
#include "seawall/util/log.hpp"

namespace seawall::app {

namespace {

std::string_view readiness_name(admin::Readiness readiness) {
  switch (readiness) {
    case admin::Readiness::Starting:
      return "starting";
    case admin::Readiness::Ready:
      return "ready";
    case admin::Readiness::Draining:
      return "draining";
  }
  return "unknown";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// 1-based line of the first top-level `key:` in a YAML text (1 when absent), for messages.
std::size_t line_of_key(std::string_view text, std::string_view key) {
  std::size_t line = 1;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view l = text.substr(start, end - start);
    if (l.starts_with(key) && l.substr(key.size()).starts_with(":")) {
      return line;
    }
    ++line;
    start = end + 1;
  }
  return 1;
}

}  // namespace

upstream::HealthCounters Server::health_counters(const std::string& upstream) {
  auto& checks = metrics_.counter(upstream::kHealthChecks);
  auto& open_probes = metrics_.counter(upstream::kHealthProbesWhileOpen);
  upstream::HealthCounters counters;
  counters.ok = &checks.with({upstream, "ok"});
  counters.failed = &checks.with({upstream, "failed"});
  counters.latency = &metrics_.histogram(upstream::kHealthCheckDuration).with({upstream});
  counters.open_probes_ok = &open_probes.with({upstream, "ok"});
  counters.open_probes_failed = &open_probes.with({upstream, "failed"});
  return counters;
}

upstream::PoolReadiness Server::pool_readiness(const config::UpstreamConfig& upstream,
                                               unsigned threads) {
  upstream::PoolReadiness pool;
  pool.connected = &metrics_.gauge(upstream::kUpstreamConnections).with({upstream.name});
  pool.expected = static_cast<double>(threads) * upstream.connections;
  return pool;
}

bool Server::config_file_changed() {
  std::string text = read_file(config_->source_path);
  if (text == last_seen_text_) {
    return false;
  }
  last_seen_text_ = std::move(text);
  return true;
}

void Server::reload_failed(std::string_view reason, const std::string& error) {
  {
    std::lock_guard lock(config_mutex_);
    config_status_->last_reload = detail::ConfigStatus::Reload::Failed;
    config_status_->last_reload_at = std::chrono::system_clock::now();
    config_status_->last_reload_reason = reason;
    config_status_->last_reload_error = error;
  }
  metrics_.counter(kConfigReloads).with({"failure"}).inc();
  metrics_.gauge(kConfigLastReloadOk).with({}).set(0.0);
}

void Server::reload(std::string_view reason) {
  auto log = util::logger("config");
  const std::string& path = config_->source_path;
  last_seen_text_ = read_file(path);
  auto loaded = config::load_file(path);
  if (!loaded.config) {
    std::string errors;
    for (const auto& e : loaded.errors) {
      log->error("reload ({}): {}", reason, e);
      errors += (errors.empty() ? "" : "\n") + e;
    }
    log->error("reload ({}) failed with {} error(s): keeping configuration version {}", reason,
               loaded.errors.size(), version_.load());
    reload_failed(reason, errors);
    return;
  }
  config::Config next = std::move(*loaded.config);
  expand_reloaded(next);
  attach_resolvers(next);
  const config::Config& current = *config_;
  if (!detail::same_upstream_identities(next, current)) {
    std::string what = "upstreams: cannot be added, removed, renamed or reordered by a reload";
    for (std::size_t i = 0; i < next.upstreams.size() && i < current.upstreams.size(); ++i) {
      // The first one is the cluster's own place (its other shards come after every upstream).
      if (!(next.upstreams[i].cluster == current.upstreams[i].cluster)) {
        what = "upstreams[" + std::to_string(i) +
               "].cluster: seeds and read_from cannot be changed by a reload";
        break;
      }
    }
    const std::string error = path + ":" +
                              std::to_string(line_of_key(last_seen_text_, "upstreams")) + ": " +
                              what + " (restart seawall)";
    log->error("reload ({}): {}; keeping configuration version {}", reason, error, version_.load());
    reload_failed(reason, error);
    return;
  }
  // Settings bound at startup keep their running values until a restart.
  for (const detail::ConfigKey& key : detail::config_keys()) {
    if (key.on_reload == detail::OnReload::Restart && !key.same(next, current)) {
      log->warn("reload ({}): {} changes need a restart; keeping the running value", reason,
                key.key);
      key.keep(next, current);
    }
  }
  auto config = std::make_shared<const config::Config>(std::move(next));

  std::vector<std::size_t> new_pools;
  std::vector<std::size_t> new_checkers;
  for (std::size_t i = 0; i < config->upstreams.size(); ++i) {
    const auto& now = config->upstreams[i];
    const auto& before = current.upstreams[i];
    const detail::UpstreamRebuild rebuild = detail::upstream_rebuild(before, now);
    if (rebuild.connections) {
      new_pools.push_back(i);
    }
    if (rebuild.health_checker) {
      new_checkers.push_back(i);
    }
    upstream::UpstreamState& state = *shared_->upstreams[i];
    if (now.sentinel != before.sentinel) {
      // Before the new pools connect: they ask the resolver.
      state.resolver()->reconfigure(now.sentinel, now.connect_timeout);
    }
    if (state.reconfigure_breaker(now.breaker, upstream::UpstreamState::Clock::now())) {
      log->info(
          "upstream={} new breaker thresholds, breaker kept {}{}", now.name,
          breaker::to_string(state.breaker().state(breaker::Clock::now())),
          state.breaker().override_mode() == breaker::Override::None
              ? ""
              : " (" + std::string(breaker::to_string(state.breaker().override_mode())) + ")");
    }
  }
  for (const detail::ConfigKey& key : detail::config_keys()) {
    if (key.on_reload == detail::OnReload::Fallthrough && !key.same(*config, current)) {
      const auto& p = config->protect_database;
      shared_->fallback.set_fallthrough(p.fallthrough_per_second, p.effective_burst());
    } else if (key.on_reload == detail::OnReload::Logging) {
      util::init_logging(config->log.level, config->log.format == config::LogFormat::Json);
    }
  }

  const std::uint64_t version = version_.load() + 1;
  const auto snapshot = std::make_shared<const proxy::Snapshot>(config, version);
  for (auto& w : workers_) {
    w->apply(snapshot, new_pools);
  }
  if (control_ != nullptr && !new_checkers.empty()) {
    asio::post(*control_, [this, config, new_checkers] {
      for (std::size_t i : new_checkers) {
        restart_watchers(*config, i);
      }
    });
  }
  {
    std::lock_guard lock(config_mutex_);
    config_ = config;
    version_.store(version);
    config_status_->version = version;
    config_status_->hash = detail::content_hash(last_seen_text_);
    config_status_->loaded_at = std::chrono::system_clock::now();
    config_status_->last_reload = detail::ConfigStatus::Reload::Ok;
    config_status_->last_reload_at = config_status_->loaded_at;
    config_status_->last_reload_reason = reason;
    config_status_->last_reload_error.clear();
  }
  metrics_.counter(kConfigReloads).with({"success"}).inc();
  metrics_.gauge(kConfigLastReloadOk).with({}).set(1.0);
  metrics_.gauge(kConfigVersion).with({}).set(static_cast<double>(version));
  log->info("reloaded {} ({}): configuration version {}, {} upstream(s) reconnecting", path, reason,
            version, new_pools.size());
}

Server::Server(std::shared_ptr<const config::Config> config)
    : config_(std::move(config)),
      config_status_(std::make_unique<detail::ConfigStatus>()),
      metrics_(metrics::shard_count_for(config_->threads)) {
  declare_metrics(metrics_);
  register_app_metrics(metrics_, clients_, started_);
}

Server::~Server() = default;

std::string Server::status_json() const {
  using admin::json_string;
  std::shared_ptr<const config::Config> config;
  detail::ConfigStatus config_status;
  {
    std::lock_guard lock(config_mutex_);
    config = config_;
    config_status = *config_status_;
  }
  const auto now = std::chrono::system_clock::now();
  const double uptime = std::chrono::duration<double>(now - started_).count();
  std::string out = "{\"version\":" + json_string(SEAWALL_VERSION);
  out += ",\"readiness\":" + json_string(readiness_name(admin_->readiness()));
  out += ",\"started_at\":" + json_string(detail::iso8601_utc(started_));
  out += ",\"uptime_seconds\":" + std::to_string(static_cast<std::uint64_t>(uptime));
  out += ",\"threads\":" + std::to_string(config->threads);
  out += ",\"clients\":" + std::to_string(clients_.load(std::memory_order_relaxed));
  out += ",\"max_clients\":" + std::to_string(config->limits.max_clients);
  out +=
      ",\"listen\":" + json_string(detail::listen_endpoints(config->listen, config->listen.port));
  out += ",\"config_version\":" + std::to_string(config_status.version);
  out += ",\"config\":";
  detail::append_config_status(out, config_status, now);
  out += ",";
  detail::append_answers(out, shared_->fallback.counters());
  out += ",\"upstreams\":[";
  // A reload never changes the list of upstreams, so config and shared_ line up.
  for (std::size_t i = 0; i < config->upstreams.size() && i < shared_->upstreams.size(); ++i) {
    out += i == 0 ? "" : ",";
    detail::append_upstream_status(out, *shared_->upstreams[i], config->upstreams[i], now);
  }
  out += "]}\n";
  return out;
}

int Server::run() {
  // Before any thread starts: a signal that arrives during startup is queued, not fatal.
  asio::io_context main_ioc(1);
  asio::signal_set signals(main_ioc, SIGINT, SIGTERM, SIGHUP);
  build_clusters();
  shared_ = std::make_unique<proxy::SharedState>(*config_);
  {
    auto with_resolvers = std::make_shared<config::Config>(*config_);
    attach_resolvers(*with_resolvers);
    std::lock_guard lock(config_mutex_);
    config_ = std::move(with_resolvers);
  }
  wire_metrics();
  load_journals();
  start_admin();
  remember_loaded_config();
  create_workers();
  // The control thread: health checks and journal replay, away from the data path.
  asio::io_context control(1);
  auto control_guard = asio::make_work_guard(control);
  start_health_checks(control);
  try {
    start_serving();
  } catch (...) {
    // The listen address is taken, say: stop what started before main_entry reports it.
    stop_workers();
    for (auto& c : clusters_) {
      c.topology->stop();
    }
    release_control_tasks();
    throw;
  }
  std::thread control_thread([&control] { control.run(); });

  const int signal_number = serve_until_signal(main_ioc, signals);
  const std::uint32_t left = drain_clients(main_ioc, signal_number);
  stop_workers();
  stop_health_checks(control);
  control_guard.reset();
  control.stop();
  control_thread.join();
  release_control_tasks();
  if (left > 0) {
    util::logger("app")->warn("drain timeout: closed {} clients with work in flight", left);
  }
  if (admin_) {
    admin_->stop();
  }
  util::logger("app")->info("stopped");
  return 0;
}

void Server::release_control_tasks() {
  for (auto& state : shared_->upstreams) {
    state->resolver()->release_after_stop();
  }
  for (auto& c : clusters_) {
    c.topology->release_after_stop();
  }
  control_ = nullptr;
  health_checkers_.clear();
  eviction_listeners_.clear();
}

void Server::create_workers() {
  const auto snapshot = std::make_shared<const proxy::Snapshot>(config_, version_.load());
  for (unsigned i = 0; i < config_->threads; ++i) {
    workers_.push_back(
        std::make_unique<proxy::Worker>(snapshot, *shared_, clients_, next_client_id_, i));
  }
}

std::shared_ptr<upstream::HealthChecker> Server::make_health_checker(const config::Config& config,
                                                                     std::size_t index) {
  const upstream::UpstreamConfig& upstream = config.upstreams[index];
  return std::make_shared<upstream::HealthChecker>(
      control_->get_executor(), upstream, *shared_->upstreams[index], config.limits.max_depth,
      health_counters(upstream.name), pool_readiness(upstream, config.threads));
}

void Server::attach_resolvers(config::Config& config) const {
  for (std::size_t i = 0; i < config.upstreams.size() && i < shared_->upstreams.size(); ++i) {
    auto& upstream = config.upstreams[i];
    upstream.resolver = upstream.sentinel.enabled() ? shared_->upstreams[i]->resolver() : nullptr;
  }
}

void Server::on_master_change(std::size_t index, bool reconnect) {
  upstream::UpstreamState& state = *shared_->upstreams[index];
  const auto current = state.resolver()->current();
  const std::string shown = current ? current->to_string() : std::string();
  if (shown != master_shown_[index]) {
    auto& gauge = metrics_.gauge(upstream::kSentinelMaster);
    if (!master_shown_[index].empty()) {
      gauge.with({state.name(), master_shown_[index]}).set(0.0);
    }
    if (!shown.empty()) {
      gauge.with({state.name(), shown}).set(1.0);
    }
    master_shown_[index] = shown;
  }
  if (!reconnect) {
    return;
  }
  const auto config = current_config();
  if (!config->upstreams[index].sentinel.enabled()) {
    return;
  }
  util::logger("app")->info("upstream={} master={}: reconnecting every connection", state.name(),
                            shown.empty() ? "(failover in progress)" : shown);
  reconnect_upstream(*config, index);
}

void Server::reconnect_upstream(const config::Config& config, std::size_t index) {
  {
    std::lock_guard lock(workers_mutex_);
    for (auto& w : workers_) {
      w->reconnect(index);
    }
  }
  restart_watchers(config, index);
}

void Server::restart_watchers(const config::Config& config, std::size_t index) {
  health_checkers_[index]->stop();
  health_checkers_[index] = make_health_checker(config, index);
  health_checkers_[index]->start();
  if (eviction_listeners_[index] != nullptr) {
    eviction_listeners_[index]->stop();
  }
  eviction_listeners_[index] = make_eviction_listener(config, index);
  if (eviction_listeners_[index] != nullptr) {
    eviction_listeners_[index]->start();
  }
}

std::shared_ptr<upstream::EvictionListener> Server::make_eviction_listener(
    const config::Config& config, std::size_t index) {
  const upstream::UpstreamConfig& upstream = config.upstreams[index];
  if (upstream.eviction_events == upstream::EvictionEvents::Off) {
    return nullptr;
  }
  proxy::SharedState* shared = shared_.get();
  return std::make_shared<upstream::EvictionListener>(
      control_->get_executor(), upstream,
      upstream.eviction_events == upstream::EvictionEvents::Configure,
      [shared](std::string_view key) {
        shared->evicted_keys.evicted(key, std::chrono::steady_clock::now());
      });
}

void Server::build_clusters() {
  loaded_upstreams_ = config_->upstreams.size();
  std::size_t next = loaded_upstreams_;
  for (std::size_t i = 0; i < loaded_upstreams_; ++i) {
    const auto& u = config_->upstreams[i];
    if (!u.cluster.enabled()) {
      continue;
    }
    detail::ClusterUpstream c;
    c.index = i;
    c.topology = std::make_shared<upstream::ClusterTopology>(u);
    c.shard_upstreams = detail::place_shards(i, c.topology->bootstrap(), next);
    if (u.cluster.read_from == upstream::ReadFrom::PreferReplica) {
      c.replica_upstreams = detail::place_replicas(c.shard_upstreams.size(), next);
    }
    c.topology->attach(c.shard_upstreams);
    c.slots = c.topology->slots();
    clusters_.push_back(std::move(c));
  }
  if (clusters_.empty()) {
    return;
  }
  auto expanded = std::make_shared<config::Config>(*config_);
  detail::expand_clusters(*expanded, clusters_);
  std::lock_guard lock(config_mutex_);
  config_ = std::move(expanded);
}

bool Server::expand_reloaded(config::Config& config) const {
  if (clusters_.empty()) {
    return true;
  }
  if (config.upstreams.size() != loaded_upstreams_) {
    return false;
  }
  for (const auto& c : clusters_) {
    if (!config.upstreams[c.index].cluster.enabled()) {
      return false;
    }
  }
  detail::expand_clusters(config, clusters_);
  return true;
}

void Server::start_health_checks(asio::io_context& control) {
  control_ = &control;
  master_shown_.assign(config_->upstreams.size(), std::string());
  for (std::size_t ci = 0; ci < clusters_.size(); ++ci) {
    clusters_[ci].topology->start(
        control.get_executor(),
        [this, ci](std::uint32_t shard) {
          const std::size_t index = clusters_[ci].shard_upstreams.at(shard);
          util::logger("app")->info(
              "upstream={}: shard master changed, reconnecting every connection",
              shared_->upstreams[index]->name());
          reconnect_upstream(*current_config(), index);
        },
        [this, ci](std::uint32_t shard) {
          const auto& replicas = clusters_[ci].replica_upstreams;
          if (shard >= replicas.size()) {
            return;  // read_from: primary
          }
          util::logger("app")->info(
              "upstream={}: shard replicas changed, reconnecting every connection",
              shared_->upstreams[replicas[shard]]->name());
          reconnect_upstream(*current_config(), replicas[shard]);
        });
  }
  for (std::size_t i = 0; i < config_->upstreams.size(); ++i) {
    health_checkers_.push_back(make_health_checker(*config_, i));
    health_checkers_.back()->start();
    eviction_listeners_.push_back(make_eviction_listener(*config_, i));
    if (eviction_listeners_.back() != nullptr) {
      eviction_listeners_.back()->start();
    }
    // Every upstream's resolver, so that a reload may turn `address:` into `sentinel:`; one
    // without sentinels subscribes to nothing.
    shared_->upstreams[i]->resolver()->start(
        control.get_executor(), [this, i](upstream::MasterResolver::Change change) {
          on_master_change(i, change == upstream::MasterResolver::Change::Reconnect);
        });
  }
}

void Server::start_serving() {
  for (auto& w : workers_) {
    w->start();
  }
  if (admin_) {
    admin_->set_readiness(admin::Readiness::Ready);
  }
  util::logger("app")->info("seawall {} listening on {} threads={} upstreams={}", SEAWALL_VERSION,
                            detail::listen_endpoints(config_->listen, workers_.front()->port()),
                            config_->threads, config_->upstreams.size());
}

void Server::stop_workers() {
  std::lock_guard lock(workers_mutex_);
  for (auto& w : workers_) {
    w->stop();
  }
  workers_.clear();
}

void Server::stop_health_checks(asio::io_context& control) {
  for (auto& state : shared_->upstreams) {
    state->resolver()->stop();
  }
  for (auto& c : clusters_) {
    c.topology->stop();
  }
  asio::post(control, [this] {
    for (auto& h : health_checkers_) {
      h->stop();
    }
    for (auto& listener : eviction_listeners_) {
      if (listener != nullptr) {
        listener->stop();
      }
    }
  });
}

void Server::wire_metrics() {
  register_data_metrics(metrics_, *shared_);
  detail::register_cluster_metrics(metrics_, clusters_, *shared_);
  metrics_.counter(kConfigReloads).with({"success"});
  metrics_.counter(kConfigReloads).with({"failure"});
  metrics_.gauge(kConfigVersion).with({}).set(1.0);
  metrics_.gauge(kConfigLastReloadOk).with({}).set(1.0);
  for (std::size_t i = 0; i < config_->upstreams.size(); ++i) {
    const auto& u = config_->upstreams[i];
    upstream::ConnectionMetrics m;
    m.in_doubt = &shared_->upstreams[i]->in_doubt();
    m.paused_until = &shared_->upstreams[i]->paused_until();
    m.connects = &shared_->upstreams[i]->connects();
    m.scripts = &shared_->upstreams[i]->scripts();
    m.connected = &metrics_.gauge(upstream::kUpstreamConnections).with({u.name});
    m.connects_ok = &metrics_.counter(upstream::kUpstreamConnects).with({u.name, "ok"});
    m.connects_failed = &metrics_.counter(upstream::kUpstreamConnects).with({u.name, "failed"});
    m.latency = &metrics_.histogram(upstream::kUpstreamLatency).with({u.name});
    m.timeouts = &metrics_.counter(upstream::kUpstreamTimeouts).with({u.name});
    shared_->connection_metrics.push_back(m);
  }
  for (const auto& info : command::all_commands()) {
    shared_->command_counters.push_back(&metrics_.counter(proxy::kCommands).with({info.name}));
  }
  shared_->command_counters.push_back(&metrics_.counter(proxy::kCommands).with({"unknown"}));
}

void Server::load_journals() {
  auto log = util::logger("app");
  for (auto& state : shared_->upstreams) {
    std::size_t loaded = 0;
    const std::string error = state->journal().load(loaded);
    if (!error.empty()) {
      throw std::runtime_error("journal: " + error);
    }
    if (loaded > 0) {
      log->warn("upstream={} {} journaled writes from a previous run wait for replay",
                state->name(), loaded);
    }
  }
}

void Server::start_admin() {
  if (config_->admin.enabled) {
    admin::Handlers handlers;
    handlers.metrics = [this] { return metrics_.render(); };
    handlers.status = [this] { return status_json(); };
    handlers.breaker = [this](std::string_view name,
                              admin::BreakerAction action) -> std::optional<std::string> {
      for (auto& state : shared_->upstreams) {
        if (state->name() != name) {
          continue;
        }
        switch (action) {
          case admin::BreakerAction::Open:
            state->force_breaker_open();
            break;
          case admin::BreakerAction::Close:
            state->force_breaker_closed();
            break;
          case admin::BreakerAction::Reset:
            state->reset_breaker();
            break;
        }
        util::logger("breaker")->warn("upstream={} breaker forced by the admin API", name);
        return "{\"upstream\":" + admin::json_string(name) + ",\"state\":\"" +
               std::string(breaker::to_string(state->breaker().state(breaker::Clock::now()))) +
               "\"}\n";
      }
      return std::nullopt;
    };
    admin_ = std::make_unique<admin::AdminServer>(config_->admin, std::move(handlers));
    admin_->start();
  }
}

void Server::remember_loaded_config() {
  last_seen_text_ = read_file(config_->source_path);
  {
    std::lock_guard lock(config_mutex_);
    config_status_->path = config_->source_path;
    config_status_->hash = detail::content_hash(last_seen_text_);
    config_status_->loaded_at = std::chrono::system_clock::now();
  }
}

int Server::serve_until_signal(asio::io_context& main_ioc, asio::signal_set& signals) {
  asio::steady_timer watch(main_ioc);
  int signal_number = 0;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const error_code& ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGHUP) {
        reload("SIGHUP");
        wait_signal();
        return;
      }
      signal_number = sig;
      watch.cancel();
    });
  };
  // A ConfigMap volume updates the file without a signal: look at it once a second.
  std::function<void()> watch_file = [&] {
    watch.expires_after(std::chrono::seconds(1));
    watch.async_wait([&](const error_code& ec) {
      if (ec || signal_number != 0) {
        return;
      }
      if (config_file_changed()) {
        reload("file changed");
      }
      watch_file();
    });
  };
  wait_signal();
  watch_file();
  main_ioc.run();
  return signal_number;
}

std::uint32_t Server::drain_clients(asio::io_context& main_ioc, int signal_number) {
  // Readiness fails first, so that load balancers stop sending new clients while the ones
  // already connected drain; liveness and metrics keep answering until the process exits.
  if (admin_) {
    admin_->set_readiness(admin::Readiness::Draining);
  }
  util::logger("app")->info("signal {} received: draining {} clients for up to {} ms",
                            signal_number, clients_.load(),
                            config_->shutdown.drain_timeout.count());
  for (auto& w : workers_) {
    w->begin_shutdown();
  }
  const auto deadline = std::chrono::steady_clock::now() + config_->shutdown.drain_timeout;
  main_ioc.restart();
  asio::steady_timer poll(main_ioc);
  while (clients_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    poll.expires_after(std::chrono::milliseconds(20));
    poll.wait();
  }
  return clients_.load();
}

namespace {

void print_help() {
  std::cout << "seawall " << SEAWALL_VERSION
            << " - a fail-open Redis sidecar proxy\n\n"
               "usage:\n"
               "  seawall --config FILE         run with this configuration\n"
               "  seawall --check-config FILE   validate FILE; print every error; exit 0 if valid\n"
               "  seawall --describe-metrics    print every metric: name, type, labels, help\n"
               "  seawall --version             print the version\n"
               "  seawall --help                this text\n";
}

}  // namespace

int main_entry(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::string config_path;
  bool check_only = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      print_help();
      return 0;
    }
    if (args[i] == "--describe-metrics") {
      metrics::Registry registry;
      declare_metrics(registry);
      std::cout << registry.describe();
      return 0;
    }
    if (args[i] == "--version" || args[i] == "-v") {
      std::cout << "seawall " << SEAWALL_VERSION << "\n";
      return 0;
    }
    if ((args[i] == "--config" || args[i] == "-c" || args[i] == "--check-config") &&
        i + 1 < args.size()) {
      check_only = check_only || args[i] == "--check-config";
      config_path = args[++i];
      continue;
    }
    std::cerr << "seawall: unknown or incomplete argument '" << args[i] << "'\n\n";
    print_help();
    return 2;
  }
  if (config_path.empty()) {
    std::cerr << "seawall: --config FILE is required\n\n";
    print_help();
    return 2;
  }
  auto loaded = config::load_file(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) {
      std::cerr << e << "\n";
    }
    std::cerr << "seawall: " << loaded.errors.size() << " error(s) in " << config_path << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << config_path << ": ok\n";
    return 0;
  }
  const auto& cfg = *loaded.config;
  util::init_logging(cfg.log.level, cfg.log.format == config::LogFormat::Json);
  // A client that vanishes mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    Server server(std::make_shared<const config::Config>(std::move(*loaded.config)));
    return server.run();
  } catch (const std::exception& e) {
    util::logger("app")->critical("startup failed: {}", e.what());
    return 1;
  }
}

}  // namespace seawall::app
