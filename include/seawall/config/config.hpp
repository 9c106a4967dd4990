#pragma once
// Immutable configuration snapshot. Built by config::load, then passed by const& to constructors.
// Thread safety: immutable after load; share freely.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "seawall/breaker/breaker_config.hpp"
#include "seawall/fault/fault_config.hpp"
#include "seawall/policy/policy_table.hpp"

namespace seawall::upstream {
class TlsContext;  // upstream/tls_context.hpp; opaque here so config stays free of OpenSSL
}  // namespace seawall::upstream

namespace seawall::config {

using Millis = std::chrono::milliseconds;

enum class LogFormat { Text, Json };

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 6380;

  bool operator==(const ListenConfig&) const = default;
};

// Active health check: a PING on a dedicated connection, so a dead upstream is noticed while no
// traffic flows, and the breaker's half-open probes happen without client traffic.
struct HealthCheckConfig {
  bool enabled = true;
  Millis interval{1000};
  Millis timeout{250};

  bool operator==(const HealthCheckConfig&) const = default;
};

// AUTH sent on every new connection to the upstream before it carries any request. The password
// comes from the environment or from a file, never from the config text, and is read at load.
struct UpstreamAuthConfig {
  std::string username;       // empty: AUTH <password> (the default user, requirepass)
  std::string password_env;   // name of the environment variable holding the password
  std::string password_file;  // or a file holding it; one trailing newline is dropped
  std::string password;       // resolved at load; never logged

  bool enabled() const { return !password.empty(); }
  bool operator==(const UpstreamAuthConfig&) const = default;
};

// TLS from seawall to the upstream (TLS 1.2 or later).
struct UpstreamTlsConfig {
  bool enabled = false;
  std::string ca_file;      // PEM CA certificates to trust; empty = the system's trust store
  std::string server_name;  // sent as SNI and checked against the certificate; empty = the host
  bool verify = true;       // check the certificate chain and name; false accepts any server
  std::string cert_file;    // client certificate chain (PEM), for servers that require one
  std::string key_file;     // its private key (PEM); set with cert_file
  // Built by the loader when enabled; shared read-only by every connection of every thread.
  // Compared by identity: two loads of one file give unequal configs when TLS is enabled.
  std::shared_ptr<const upstream::TlsContext> context;

  bool operator==(const UpstreamTlsConfig&) const = default;
};

struct UpstreamConfig {
  std::string name;
  std::string host;  // IPv4/IPv6 literal or hostname
  std::uint16_t port = 6379;
  std::uint32_t connections = 2;  // pipelined connections per thread
  Millis connect_timeout{250};
  Millis request_timeout{100};
  Millis reconnect_backoff_min{10};
  Millis reconnect_backoff_max{1000};
  std::uint32_t max_pending = 65536;  // in-flight requests per connection before failing fast
  breaker::BreakerConfig breaker;
  HealthCheckConfig health_check;
  // Accepted and ignored: the ramp answered reads from L1 copies while the breaker was closed,
  // which could return a value older than Redis's. Kept so that existing configs still load.
  Millis recovery_ramp{1000};
  UpstreamAuthConfig auth;
  UpstreamTlsConfig tls;

  bool operator==(const UpstreamConfig&) const = default;
};

// Keys starting with `prefix` go to `upstream` (first match wins).
struct RouteConfig {
  std::string prefix;
  std::string upstream;
  std::size_t upstream_index = 0;  // resolved at load

  bool operator==(const RouteConfig&) const = default;
};

struct CacheConfig {
  std::uint64_t max_bytes = 64ull * 1024 * 1024;
  std::uint64_t max_entry_bytes = 1024ull * 1024;  // larger replies are never cached

  bool operator==(const CacheConfig&) const = default;
};

// While an upstream is unavailable, at most this many reads per second (per process) are
// answered "miss" (nil) so the application falls through to its database; beyond it, an error.
struct ProtectDatabaseConfig {
  std::uint32_t fallthrough_per_second = 500;
  std::uint32_t burst = 0;  // 0 = same as fallthrough_per_second

  bool operator==(const ProtectDatabaseConfig&) const = default;
};

// When the journal file is flushed to disk, as Redis's appendfsync: Always before a write is
// acknowledged (survives a machine crash), Everysec at most once a second (a machine crash may
// lose the last second; a seawall crash loses nothing), No when the OS decides.
enum class JournalFsync { Always, Everysec, No };

// Writes accepted while an upstream is unavailable (journal and invalidate modes).
struct JournalConfig {
  std::uint64_t max_entries = 100000;             // live (replayable) entries, after compaction
  std::uint64_t max_bytes = 64ull * 1024 * 1024;  // bytes of the live entries
  std::string path;  // when set, the journal is also appended to this file and survives restarts
  JournalFsync fsync = JournalFsync::Everysec;

  bool operator==(const JournalConfig&) const = default;
};

struct LimitsConfig {
  std::uint32_t max_clients = 10000;
  std::uint64_t max_bulk = 512ull * 1024 * 1024;  // largest bulk string in a request
  std::uint64_t max_array = 1024ull * 1024;       // most elements in a request's multibulk
  std::uint64_t max_inline = 64ull * 1024;        // longest inline command line
  std::uint32_t max_depth = 64;                   // deepest nesting in an upstream reply
  std::uint64_t client_output_buffer = 64ull * 1024 * 1024;  // close the client past this
  std::uint32_t max_pipeline = 16384;  // pending replies per client before reading pauses
  std::uint32_t max_pinned = 1024;     // sessions holding a dedicated upstream connection
  Millis idle_timeout{0};              // 0 = never close idle clients

  bool operator==(const LimitsConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error | critical | off
  LogFormat format = LogFormat::Text;

  bool operator==(const LogConfig&) const = default;
};

struct ShutdownConfig {
  Millis drain_timeout{5000};

  bool operator==(const ShutdownConfig&) const = default;
};

// Keys no policy matches: replies cached for 5s fresh + 60s stale, nil when nothing can answer
// (the application falls through to its database), writes rejected while Redis is unavailable.
inline policy::Policy default_fallback_policy() {
  policy::Policy p;
  p.name = "fallback";
  p.l1 = policy::L1Policy{true, Millis{5000}, Millis{60000}};
  return p;
}

struct AdminConfig {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 9380;
  std::uint32_t max_connections = 16;             // admin connections open at once
  std::uint64_t max_request_size = 16ull * 1024;  // request line + headers, and body
  Millis read_timeout{5000};                      // per request, and per response write

  bool operator==(const AdminConfig&) const = default;
};

// A user clients authenticate as: AUTH name password, or AUTH password for the user "default".
// `password` is the secret itself, read at load from the environment or a file that the config
// names; nothing logs or prints it.
struct AuthUser {
  std::string name;
  std::string password;

  bool operator==(const AuthUser&) const = default;
};

// seawall's own client authentication (checked by seawall, never forwarded to Redis). With no
// users, clients need not authenticate to seawall, and AUTH goes to Redis as it always did.
struct AuthConfig {
  std::vector<AuthUser> users;  // `password_env` alone yields one user, "default"

  bool enabled() const { return !users.empty(); }
  bool operator==(const AuthConfig&) const = default;
};

// Who answers a connection-introspection command: Redis, as for any command (it then describes
// seawall's shared connections, not the application's), or seawall, from its own client sessions.
enum class AnsweredBy { Upstream, Seawall };

// Who answers INFO. Upstream: Redis alone (its clients are seawall's shared connections).
// Seawall: seawall's own sections alone (no redis_version). Merged: Redis's sections as Redis
// gives them, with `connected_clients` counting seawall's clients, plus a `# Seawall` section;
// seawall's sections alone while Redis cannot answer.
enum class InfoMode { Upstream, Seawall, Merged };

// Commands about connections that seawall may answer itself. CLIENT INFO, ID, SETNAME, GETNAME
// and SETINFO are always per client and answered by seawall; CONFIG and DEBUG always go to Redis
// (deny_commands refuses them). The defaults keep every answer about the application's own
// connections, so that an id or a name one command gives is what the others find.
struct IntrospectionConfig {
  AnsweredBy client_list = AnsweredBy::Seawall;  // CLIENT LIST and CLIENT KILL
  InfoMode info = InfoMode::Merged;              // INFO

  bool operator==(const IntrospectionConfig&) const = default;
};

struct Config {
  std::string source_path;  // file it was loaded from, for messages
  ListenConfig listen;
  std::uint32_t threads = 1;
  std::vector<UpstreamConfig> upstreams;
  std::vector<RouteConfig> routes;
  std::string default_upstream;  // empty = the first upstream
  std::size_t default_upstream_index = 0;
  CacheConfig cache;
  ProtectDatabaseConfig protect_database;
  JournalConfig journal;
  // Per key pattern, first match wins; keys matching none get `fallback_policy`.
  std::vector<policy::PolicyRule> policies;
  policy::Policy fallback_policy = default_fallback_policy();
  LimitsConfig limits;
  LogConfig log;
  ShutdownConfig shutdown;
  AdminConfig admin;
  AuthConfig auth;
  // Commands refused with an error and never sent to Redis: "keys", or "config|set" for one
  // subcommand. Lowercase, each known to the command table.
  std::vector<std::string> deny_commands;
  IntrospectionConfig introspection;
  // Faults injected into commands sent to the upstreams (staging rehearsals); none by default.
  std::vector<fault::FaultConfig> faults;

  bool operator==(const Config&) const = default;
};

}  // namespace seawall::config
