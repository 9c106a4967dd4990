#pragma once
// Immutable configuration snapshot. Built by config::load, then passed by const& to constructors.
// Each module declares the settings it reads beside its code (upstream/upstream_config.hpp,
// proxy/proxy_config.hpp, ...); this header aggregates them for the loader and adds what only the
// process around the data path reads: the admin port, logging and shutdown.
// Thread safety: immutable after load; share freely.
#include <chrono>
#include <cstdint>
#include <string>

#include "seawall/proxy/proxy_config.hpp"

namespace seawall::config {

using Millis = std::chrono::milliseconds;

// The modules' settings, under the names the loader and its tests use.
using breaker::BreakerConfig;
using cache::CacheConfig;
using policy::ProtectDatabaseConfig;
using proxy::AnsweredBy;
using proxy::AuthConfig;
using proxy::AuthUser;
using proxy::default_fallback_policy;
using proxy::InfoMode;
using proxy::IntrospectionConfig;
using proxy::LimitsConfig;
using proxy::ListenConfig;
using router::RouteConfig;
using upstream::ClusterConfig;
using upstream::HealthCheckConfig;
using upstream::JournalConfig;
using upstream::JournalFsync;
using upstream::SentinelAddress;
using upstream::SentinelConfig;
using upstream::UpstreamAuthConfig;
using upstream::UpstreamConfig;
using upstream::UpstreamTlsConfig;

enum class LogFormat { Text, Json };

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error | critical | off
  LogFormat format = LogFormat::Text;

  bool operator==(const LogConfig&) const = default;
};

struct ShutdownConfig {
  Millis drain_timeout{5000};

  bool operator==(const ShutdownConfig&) const = default;
};

struct AdminConfig {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 9380;
  std::uint32_t max_connections = 16;             // admin connections open at once
  std::uint64_t max_request_size = 16ull * 1024;  // request line + headers, and body
  Millis read_timeout{5000};                      // per request, and per response write

  bool operator==(const AdminConfig&) const = default;
};

// The data path's settings (proxy::ProxyConfig) and the process's own.
struct Config : proxy::ProxyConfig {
  LogConfig log;
  ShutdownConfig shutdown;
  AdminConfig admin;

  bool operator==(const Config&) const = default;
};

}  // namespace seawall::config
