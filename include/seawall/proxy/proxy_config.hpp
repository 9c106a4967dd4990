#pragma once
// What the data path is built from: the listener, the upstreams and routes, the L1, the
// fallback chain, the journal, policies, limits, client authentication, denied commands,
// introspection and injected faults. config::Config extends it with what only the process
// around the data path reads (admin port, logging, shutdown).
// Thread safety: value types; immutable once loaded, share as const freely.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "seawall/cache/cache_config.hpp"
#include "seawall/fault/fault_config.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/policy/protect_database_config.hpp"
#include "seawall/router/route_config.hpp"
#include "seawall/upstream/journal_config.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::proxy {

struct ListenConfig {
  // One listener per address, all on `port`: several let a client find seawall whichever
  // loopback its resolver gives for "localhost" (127.0.0.1 or ::1).
  std::vector<std::string> addresses{"127.0.0.1"};
  std::uint16_t port = 6380;

  bool operator==(const ListenConfig&) const = default;
};

struct LimitsConfig {
  std::uint32_t max_clients = 10000;
  std::uint64_t max_bulk = 512ull * 1024 * 1024;  // largest bulk string in a request
  std::uint64_t max_array = 1024ull * 1024;       // most elements in a request's multibulk
  std::uint64_t max_inline = 64ull * 1024;        // longest inline command line
  std::uint32_t max_depth = 64;                   // deepest nesting in an upstream reply
  std::uint64_t client_output_buffer = 64ull * 1024 * 1024;  // close the client past this
  std::uint32_t max_pipeline = 16384;         // pending replies per client before reading pauses
  std::uint32_t max_pinned = 1024;            // sessions holding a dedicated upstream connection
  std::chrono::milliseconds idle_timeout{0};  // 0 = never close idle clients

  bool operator==(const LimitsConfig&) const = default;
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

// Keys no policy matches: replies cached for 5s fresh + 60s stale, nil when nothing can answer
// (the application falls through to its database), writes rejected while Redis is unavailable.
inline policy::Policy default_fallback_policy() {
  policy::Policy p;
  p.name = "fallback";
  p.l1 = policy::L1Policy{true, std::chrono::milliseconds{5000}, std::chrono::milliseconds{60000}};
  return p;
}

struct ProxyConfig {
  std::string source_path;  // file it was loaded from, for messages
  ListenConfig listen;
  std::uint32_t threads = 1;
  std::vector<upstream::UpstreamConfig> upstreams;
  std::vector<router::RouteConfig> routes;
  std::string default_upstream;  // empty = the first upstream
  std::size_t default_upstream_index = 0;
  cache::CacheConfig cache;
  policy::ProtectDatabaseConfig protect_database;
  upstream::JournalConfig journal;
  // Per key pattern, first match wins; keys matching none get `fallback_policy`.
  std::vector<policy::PolicyRule> policies;
  policy::Policy fallback_policy = default_fallback_policy();
  LimitsConfig limits;
  AuthConfig auth;
  // Commands refused with an error and never sent to Redis: "keys", or "config|set" for one
  // subcommand. Lowercase, each known to the command table.
  std::vector<std::string> deny_commands;
  IntrospectionConfig introspection;
  // Faults injected into commands sent to the upstreams (staging rehearsals); none by default.
  std::vector<fault::FaultConfig> faults;

  bool operator==(const ProxyConfig&) const = default;
};

}  // namespace seawall::proxy
