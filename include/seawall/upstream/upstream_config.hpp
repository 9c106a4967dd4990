#pragma once
// Settings of one upstream Redis server: its address, connection pool, deadlines, breaker,
// health check, AUTH and TLS. The config loader fills them from YAML and validates them.
// Thread safety: value types; immutable once loaded, share as const freely.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "seawall/breaker/breaker_config.hpp"

namespace seawall::cluster {
class SlotTable;  // cluster/slot_table.hpp
}  // namespace seawall::cluster

namespace seawall::upstream {

class TlsContext;  // upstream/tls_context.hpp; opaque here so that settings stay free of OpenSSL
class MasterResolver;   // upstream/master_resolver.hpp
class ClusterTopology;  // upstream/cluster_topology.hpp

using Millis = std::chrono::milliseconds;

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
  // Built at load when enabled (upstream/tls_build.hpp); shared read-only by every connection of
  // every thread. Compared by identity: two loads of one file give unequal configs when TLS is
  // enabled.
  std::shared_ptr<const TlsContext> context;

  bool operator==(const UpstreamTlsConfig&) const = default;
};

// One Sentinel's address.
struct SentinelAddress {
  std::string host;  // IPv4/IPv6 literal or hostname
  std::uint16_t port = 26379;

  bool operator==(const SentinelAddress&) const = default;
};

// A master found through Redis Sentinel instead of a fixed address (`sentinel:` in place of
// `address:`): the sentinels are asked in order for the master's address, the answer is checked
// with ROLE on each new connection, and `+switch-master` moves every connection to the new one
// (upstream/master_resolver.hpp).
struct SentinelConfig {
  std::vector<SentinelAddress> sentinels;  // empty: not sentinel-managed (`address:` is used)
  std::string master;                      // the name the sentinels monitor it under
  UpstreamAuthConfig auth;                 // AUTH sent to the sentinels themselves

  bool enabled() const { return !sentinels.empty(); }
  bool operator==(const SentinelConfig&) const = default;
};

// Whether seawall listens to Redis's `evicted` keyspace events (see EvictionListener).
enum class EvictionEvents : std::uint8_t {
  Off,
  Subscribe,  // subscribe; Redis publishes them if its notify-keyspace-events has E and e
  Configure,  // add E and e to Redis's notify-keyspace-events too (CONFIG SET), then subscribe
};

// Where a cluster upstream's reads go (`cluster.read_from`).
enum class ReadFrom : std::uint8_t {
  Primary,        // every command to the master of its key's shard
  PreferReplica,  // reads outside pinned sessions to a replica of the shard while one is usable
};

// A Redis Cluster instead of one server (`cluster:` in place of `address:`): the seeds are asked
// CLUSTER SLOTS at startup, and app::Server serves the cluster as one internal upstream per
// shard (upstream/cluster_topology.hpp), and, under read_from: prefer_replica, one more per shard
// for its replicas.
struct ClusterConfig {
  std::vector<SentinelAddress> seeds;  // host:port of some nodes; empty: not a cluster
  ReadFrom read_from = ReadFrom::Primary;
  // Shards beyond the masters found at startup, for masters added to the cluster later
  // (ClusterTopology); each is an internal upstream that stays idle until a master takes it.
  std::uint32_t spare_shards = 2;

  bool enabled() const { return !seeds.empty(); }
  bool operator==(const ClusterConfig&) const = default;
};

// The node of a cluster shard an internal upstream connects to (see UpstreamConfig::shard_role).
enum class ShardRole : std::uint8_t { Master, Replica };

struct UpstreamConfig {
  std::string name;
  std::string host;  // IPv4/IPv6 literal or hostname; empty when sentinel-managed
  std::uint16_t port = 6379;
  SentinelConfig sentinel;
  ClusterConfig cluster;
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
  EvictionEvents eviction_events = EvictionEvents::Subscribe;
  // Set by app::Server (not the loader) on a sentinel-managed upstream: the upstream's resolver,
  // shared by every connection of every thread (UpstreamState::resolver). Null: connect to
  // host:port. Compared by identity; the server gives every snapshot the same one.
  std::shared_ptr<MasterResolver> resolver;
  // Set by app::Server (not the loader) on each shard of a cluster upstream: the cluster's
  // topology, which names shard `shard`'s master on each connect, and the slot table the router
  // reads (on the shard in the cluster upstream's own place, the one routes name). Null: not a
  // cluster shard. Compared by identity.
  std::shared_ptr<ClusterTopology> topology;
  std::shared_ptr<cluster::SlotTable> slots;
  std::uint32_t shard = 0;
  // Which of the shard's nodes the internal upstream connects to: its master, or (read_from:
  // prefer_replica) one of its replicas, which only ever gets reads and never journals.
  ShardRole shard_role = ShardRole::Master;

  bool operator==(const UpstreamConfig&) const = default;
};

}  // namespace seawall::upstream
