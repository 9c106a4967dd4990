#include "app/reload_rules.hpp"

#include <array>

namespace seawall::app::detail {
namespace {

using config::Config;
using config::UpstreamConfig;

template <auto Member>
bool same_field(const Config& a, const Config& b) {
  return a.*Member == b.*Member;
}

template <auto Member>
void keep_field(Config& next, const Config& running) {
  next.*Member = running.*Member;
}

template <auto Member>
constexpr ConfigKey field(std::string_view key, OnReload on_reload) {
  return ConfigKey{key, on_reload, &same_field<Member>, &keep_field<Member>};
}

// `default_upstream` is a name and the index it resolved to.
bool same_default_upstream(const Config& a, const Config& b) {
  return a.default_upstream == b.default_upstream &&
         a.default_upstream_index == b.default_upstream_index;
}

void keep_default_upstream(Config& next, const Config& running) {
  next.default_upstream = running.default_upstream;
  next.default_upstream_index = running.default_upstream_index;
}

// In the order of the file's reference (config/example.yaml) and the loader.
constexpr std::array kConfigKeys{
    field<&Config::listen>("listen", OnReload::Restart),
    field<&Config::threads>("threads", OnReload::Restart),
    field<&Config::upstreams>("upstreams", OnReload::PerUpstream),
    field<&Config::routes>("routes", OnReload::Snapshot),
    ConfigKey{"default_upstream", OnReload::Snapshot, &same_default_upstream,
              &keep_default_upstream},
    field<&Config::cache>("cache", OnReload::Restart),
    field<&Config::protect_database>("protect_database", OnReload::Fallthrough),
    field<&Config::journal>("journal", OnReload::Restart),
    field<&Config::policies>("policies", OnReload::Snapshot),
    field<&Config::limits>("limits", OnReload::Snapshot),
    field<&Config::log>("log", OnReload::Logging),
    field<&Config::shutdown>("shutdown", OnReload::Snapshot),
    field<&Config::auth>("auth", OnReload::Startup),
    field<&Config::deny_commands>("deny_commands", OnReload::Startup),
    field<&Config::introspection>("introspection", OnReload::Snapshot),
    field<&Config::faults>("faults", OnReload::Snapshot),
    field<&Config::admin>("admin", OnReload::Restart),
};

template <auto Member>
bool same_upstream_field(const UpstreamConfig& a, const UpstreamConfig& b) {
  return a.*Member == b.*Member;
}

template <auto Member>
constexpr UpstreamKey upstream_field(std::string_view key, OnUpstreamReload on_reload) {
  return UpstreamKey{key, on_reload, &same_upstream_field<Member>};
}

bool same_address(const UpstreamConfig& a, const UpstreamConfig& b) {
  return a.host == b.host && a.port == b.port;
}

// The TLS settings, not the context built from them: every load builds a new context, and a
// reload of unchanged settings keeps the connections it has.
bool same_tls_settings(const UpstreamConfig& a, const UpstreamConfig& b) {
  upstream::UpstreamTlsConfig a_settings = a.tls;
  upstream::UpstreamTlsConfig b_settings = b.tls;
  a_settings.context = nullptr;
  b_settings.context = nullptr;
  return a_settings == b_settings;
}

constexpr std::array kUpstreamKeys{
    upstream_field<&UpstreamConfig::name>("name", OnUpstreamReload::Identity),
    UpstreamKey{"address", OnUpstreamReload::Reconnect, &same_address},
    // New sentinels or master name: Server::reload reconfigures the upstream's MasterResolver
    // first, then new pools ask it, as a new address: would be connected to.
    upstream_field<&UpstreamConfig::sentinel>("sentinel", OnUpstreamReload::Reconnect),
    // The shards were built from the map the seeds gave at startup (app::Server): new seeds
    // need a restart.
    upstream_field<&UpstreamConfig::cluster>("cluster", OnUpstreamReload::Identity),
    upstream_field<&UpstreamConfig::connections>("connections", OnUpstreamReload::Reconnect),
    upstream_field<&UpstreamConfig::connect_timeout>("connect_timeout",
                                                     OnUpstreamReload::Reconnect),
    upstream_field<&UpstreamConfig::request_timeout>("request_timeout",
                                                     OnUpstreamReload::Reconnect),
    upstream_field<&UpstreamConfig::reconnect_backoff_min>("reconnect_backoff_min",
                                                           OnUpstreamReload::Reconnect),
    upstream_field<&UpstreamConfig::reconnect_backoff_max>("reconnect_backoff_max",
                                                           OnUpstreamReload::Reconnect),
    upstream_field<&UpstreamConfig::max_pending>("max_pending", OnUpstreamReload::Reconnect),
    upstream_field<&UpstreamConfig::breaker>("breaker", OnUpstreamReload::Breaker),
    upstream_field<&UpstreamConfig::health_check>("health_check", OnUpstreamReload::HealthCheck),
    upstream_field<&UpstreamConfig::recovery_ramp>("recovery_ramp", OnUpstreamReload::Snapshot),
    upstream_field<&UpstreamConfig::auth>("auth", OnUpstreamReload::Reconnect),
    UpstreamKey{"tls", OnUpstreamReload::Reconnect, &same_tls_settings},
    // Its listener runs beside the health checker, and is replaced with it.
    upstream_field<&UpstreamConfig::eviction_events>("eviction_events",
                                                     OnUpstreamReload::HealthCheck),
};

bool changed(OnUpstreamReload on_reload, const UpstreamConfig& before, const UpstreamConfig& now) {
  for (const UpstreamKey& key : kUpstreamKeys) {
    if (key.on_reload == on_reload && !key.same(before, now)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::span<const ConfigKey> config_keys() { return kConfigKeys; }

std::span<const UpstreamKey> upstream_keys() { return kUpstreamKeys; }

bool same_upstream_identities(const Config& a, const Config& b) {
  if (a.upstreams.size() != b.upstreams.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.upstreams.size(); ++i) {
    if (changed(OnUpstreamReload::Identity, a.upstreams[i], b.upstreams[i])) {
      return false;
    }
  }
  return true;
}

UpstreamRebuild upstream_rebuild(const UpstreamConfig& before, const UpstreamConfig& now) {
  UpstreamRebuild rebuild;
  rebuild.connections = changed(OnUpstreamReload::Reconnect, before, now);
  rebuild.health_checker =
      rebuild.connections || changed(OnUpstreamReload::HealthCheck, before, now);
  return rebuild;
}

}  // namespace seawall::app::detail
