#pragma once
// The commands seawall itself sends to Redis, spelled once beside the command table: connection
// setup (AUTH, HELLO, PING), health checks, the journal's replay, script reloading, a pinned
// transaction's MULTI, the CLIENT ID of a dedicated connection and ACL GETUSER for CLIENT KILL
// USER. No other module writes a
// command name; what seawall does with a client's command is in command_rules.hpp.
// Thread safety: immutable static data.
#include <string_view>

namespace seawall::command::sent {

// Names, as the first argument of a request seawall encodes (upper case, as clients send them).
inline constexpr std::string_view kAuth = "AUTH";
inline constexpr std::string_view kPing = "PING";
inline constexpr std::string_view kGet = "GET";    // a cache repair's read
inline constexpr std::string_view kPttl = "PTTL";  // a near copy's server TTL
inline constexpr std::string_view kSet = "SET";
inline constexpr std::string_view kMset = "MSET";  // a transaction's SETs journaled as one write
inline constexpr std::string_view kDel = "DEL";
inline constexpr std::string_view kUnlink = "UNLINK";
inline constexpr std::string_view kHset = "HSET";
inline constexpr std::string_view kHdel = "HDEL";
inline constexpr std::string_view kSadd = "SADD";
inline constexpr std::string_view kSrem = "SREM";
inline constexpr std::string_view kZadd = "ZADD";
inline constexpr std::string_view kZrem = "ZREM";
inline constexpr std::string_view kPexpireat = "PEXPIREAT";
inline constexpr std::string_view kPersist = "PERSIST";
inline constexpr std::string_view kScript = "SCRIPT";
// ACL GETUSER: whether Redis has a user a CLIENT KILL USER names that seawall has not seen.
inline constexpr std::string_view kAcl = "ACL";
// A sentinel-managed upstream (upstream/master_resolver.hpp): SENTINEL get-master-addr-by-name
// asked of the sentinels, ROLE on each new connection to the master they name, and SUBSCRIBE to
// their failover events.
inline constexpr std::string_view kSentinel = "SENTINEL";
inline constexpr std::string_view kSubscribe = "SUBSCRIBE";
// Options and subcommands of those.
inline constexpr std::string_view kGetMasterAddrByName = "get-master-addr-by-name";
inline constexpr std::string_view kKeepTtl = "KEEPTTL";
inline constexpr std::string_view kPxAt = "PXAT";
inline constexpr std::string_view kLoad = "LOAD";
inline constexpr std::string_view kGetUser = "GETUSER";
// The eviction listener (upstream/eviction_listener.hpp): CONFIG GET / SET of
// notify-keyspace-events (eviction_events: configure), then SUBSCRIBE.
inline constexpr std::string_view kClient = "CLIENT";  // near mode's tracking connection
inline constexpr std::string_view kSetname = "SETNAME";
inline constexpr std::string_view kTracking = "TRACKING";
inline constexpr std::string_view kOn = "ON";
inline constexpr std::string_view kBcast = "BCAST";
inline constexpr std::string_view kPrefix = "PREFIX";
inline constexpr std::string_view kConfig = "CONFIG";
inline constexpr std::string_view kConfigGet = "GET";
inline constexpr std::string_view kConfigSet = "SET";

// Requests that never change, encoded.
inline constexpr std::string_view kPingRequest = "*1\r\n$4\r\nPING\r\n";
inline constexpr std::string_view kHello2Request = "*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n";
inline constexpr std::string_view kHello3Request = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
inline constexpr std::string_view kRoleRequest = "*1\r\n$4\r\nROLE\r\n";
inline constexpr std::string_view kMultiRequest = "*1\r\n$5\r\nMULTI\r\n";
// A cluster upstream (upstream/cluster_topology.hpp): its slot map, asked of its nodes; ASKING
// before a command an -ASK reply redirected.
inline constexpr std::string_view kClusterSlotsRequest = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
inline constexpr std::string_view kAskingRequest = "*1\r\n$6\r\nASKING\r\n";
// READONLY on each connection to a cluster replica (read_from: prefer_replica), which otherwise
// redirects every read to the master.
inline constexpr std::string_view kReadonly = "READONLY";
inline constexpr std::string_view kReadonlyRequest = "*1\r\n$8\r\nREADONLY\r\n";
// CLIENT ID on a dedicated connection: Redis's id for it (CLIENT INFO's upstream id, TRACKING's
// REDIRECT target).
inline constexpr std::string_view kClientIdRequest = "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n";

}  // namespace seawall::command::sent
