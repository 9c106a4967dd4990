#pragma once
// Every reply text seawall itself sends to a client. Listed in the README; tests match them.
#include <string_view>

namespace seawall::resp::replies {

inline constexpr std::string_view kPong = "+PONG\r\n";
inline constexpr std::string_view kOk = "+OK\r\n";
inline constexpr std::string_view kQueued = "+QUEUED\r\n";
inline constexpr std::string_view kReset = "+RESET\r\n";
inline constexpr std::string_view kNullBulk = "$-1\r\n";

// A nil of either protocol: RESP2's null bulk string or null array, RESP3's null.
inline bool is_nil(std::string_view reply) {
  return reply == kNullBulk || reply == "_\r\n" || reply == "*-1\r\n";
}

// Prefix of a protocol error; the parser's message (resp::message) follows.
inline constexpr std::string_view kProtocolErrorPrefix = "ERR Protocol error: ";
inline constexpr std::string_view kMaxClients = "-ERR max number of clients reached\r\n";
inline constexpr std::string_view kTooManyPinned =
    "-ERR seawall: too many dedicated connections (limits.max_pinned)\r\n";
inline constexpr std::string_view kShuttingDown = "-ERR seawall: shutting down\r\n";

// deny_commands: "-ERR seawall: command 'KEYS' is denied by configuration" ('CONFIG|SET' for a
// subcommand), uppercase between the two parts.
inline constexpr std::string_view kDeniedPrefix = "-ERR seawall: command '";
inline constexpr std::string_view kDeniedSuffix = "' is denied by configuration\r\n";

// Client authentication (auth:). Redis 7.0's own texts, so clients react as they do to Redis.
inline constexpr std::string_view kNoAuth = "-NOAUTH Authentication required.\r\n";
inline constexpr std::string_view kNoAuthHello =
    "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
    "protocol version at the same time\r\n";
inline constexpr std::string_view kWrongPass =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
inline constexpr std::string_view kAuthArity =
    "-ERR wrong number of arguments for 'auth' command\r\n";
inline constexpr std::string_view kSyntaxError = "-ERR syntax error\r\n";
inline constexpr std::string_view kHelloProtocolNotInteger =
    "-ERR Protocol version is not an integer or out of range\r\n";
inline constexpr std::string_view kNoProto = "-NOPROTO unsupported protocol version\r\n";
// "-ERR Syntax error in HELLO option 'FOO'": the option as sent between the two parts.
inline constexpr std::string_view kHelloOptionPrefix = "-ERR Syntax error in HELLO option '";
inline constexpr std::string_view kHelloOptionSuffix = "'\r\n";
// AUTH (or HELLO ... AUTH) between MULTI and EXEC: seawall checks credentials at once and
// cannot queue them, so it refuses, and EXEC then aborts the transaction (-EXECABORT).
inline constexpr std::string_view kAuthInMulti =
    "-ERR seawall: AUTH inside MULTI is not supported\r\n";

// Connection introspection (CLIENT LIST / KILL / SETINFO answered by seawall). Redis's own texts;
// a name sent by the client goes between a prefix and kQuoteEnd.
inline constexpr std::string_view kQuoteEnd = "'\r\n";
inline constexpr std::string_view kUnknownClientTypePrefix = "-ERR Unknown client type '";
inline constexpr std::string_view kNoSuchUserPrefix = "-ERR No such user '";
inline constexpr std::string_view kInvalidClientId = "-ERR Invalid client ID\r\n";
inline constexpr std::string_view kClientIdNotPositive =
    "-ERR client-id should be greater than 0\r\n";
inline constexpr std::string_view kNoSuchClient = "-ERR No such client\r\n";
inline constexpr std::string_view kClientNameInvalid =
    "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";
// CLIENT SETINFO: "-ERR Unrecognized option 'FOO'"; "-ERR LIB-NAME cannot contain ...", with
// the attribute as the client wrote it.
inline constexpr std::string_view kUnrecognizedOptionPrefix = "-ERR Unrecognized option '";
inline constexpr std::string_view kAttributeInvalidSuffix =
    " cannot contain spaces, newlines or special characters.\r\n";

// Degraded mode. Every one starts with "-UNAVAILABLE seawall: upstream '<name>' " so clients
// and operators can tell them from Redis's own errors.
inline constexpr std::string_view kUnavailablePrefix = "-UNAVAILABLE seawall: upstream '";
// A read nothing could answer (no L1 copy, no default, on_unavailable: error or budget spent).
inline constexpr std::string_view kNoFallbackSuffix = "' is unavailable and nothing can answer\r\n";
// writes_when_open: reject.
inline constexpr std::string_view kWriteRejectedSuffix = "' is unavailable: write rejected\r\n";
// A write whose acknowledgement seawall cannot compute without Redis (INCR, LPUSH, SET NX...).
inline constexpr std::string_view kCannotAcknowledgeSuffix =
    "' is unavailable: this write cannot be acknowledged without Redis\r\n";
// The journal reached journal.max_entries or journal.max_bytes.
inline constexpr std::string_view kJournalFullSuffix =
    "' is unavailable: journal full, write rejected\r\n";
// A write sent to Redis whose outcome is unknown (timeout or connection lost).
inline constexpr std::string_view kWriteUnknownSuffix =
    "' failed during a write: outcome unknown\r\n";
// A multi-key command whose keys route to different upstreams and cannot be split.
// EXEC of a transaction with a queueing error, in Redis's words.
inline constexpr std::string_view kExecAbort =
    "-EXECABORT Transaction discarded because of previous errors.\r\n";
// faults: an injected error, in place of Redis's reply (unless the fault sets its own message).
// Clients see it only where they would see Redis's own error: the breaker counts it as a
// failure and the fallback chain answers reads (see README, "Rehearsing an outage in staging").
inline constexpr std::string_view kInjectedFault = "-ERR seawall injected fault\r\n";
inline constexpr std::string_view kCrossUpstream =
    "-CROSSSLOT Keys in request don't route to the same upstream\r\n";
// SCAN's cursor is not a number (Redis's words), or not one of seawall's cursors over a cluster.
inline constexpr std::string_view kInvalidCursor = "-ERR invalid cursor\r\n";
// What a Redis without cluster support answers CLUSTER, READONLY, READWRITE and ASKING: in front
// of a cluster, seawall is one plain Redis to its clients.
inline constexpr std::string_view kClusterDisabled =
    "-ERR This instance has cluster support disabled\r\n";
// A key (or shard channel) of another cluster shard than the one a pinned connection (WATCH,
// SUBSCRIBE/SSUBSCRIBE, a blocking command ...) is on: Redis Cluster would answer MOVED, which a
// plain client cannot follow.
inline constexpr std::string_view kKeyOfAnotherShard =
    "-CROSSSLOT seawall: this connection holds state on one cluster shard (WATCH, SSUBSCRIBE, a "
    "blocking command ...) and this key or shard channel lives on another; use another "
    "connection for it\r\n";
// A redirect on a pinned connection (proxy::ClusterRedirects::pinned_retry): prefix, slot, suffix.
inline constexpr std::string_view kPinnedSlotMovingPrefix = "-TRYAGAIN seawall: slot ";
inline constexpr std::string_view kPinnedSlotMovingSuffix =
    " is moving between cluster shards and this connection holds state (WATCH, MULTI, "
    "SSUBSCRIBE ...) on one of them; retry\r\n";
// Redis Cluster's own words, for a command seawall cannot split whose keys hash to two slots.
inline constexpr std::string_view kCrossSlot =
    "-CROSSSLOT Keys in request don't hash to the same slot\r\n";

}  // namespace seawall::resp::replies
