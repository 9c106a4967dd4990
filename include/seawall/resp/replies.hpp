#pragma once
// Every reply text seawall itself sends to a client. Listed in the README; tests match them.
#include <string_view>

namespace seawall::resp::replies {

inline constexpr std::string_view kPong = "+PONG\r\n";
inline constexpr std::string_view kOk = "+OK\r\n";
inline constexpr std::string_view kReset = "+RESET\r\n";
inline constexpr std::string_view kNullBulk = "$-1\r\n";

// Prefix of a protocol error; the parser's message (resp::message) follows.
inline constexpr std::string_view kProtocolErrorPrefix = "ERR Protocol error: ";
inline constexpr std::string_view kMaxClients = "-ERR max number of clients reached\r\n";
inline constexpr std::string_view kTooManyPinned =
    "-ERR seawall: too many dedicated connections (limits.max_pinned)\r\n";
inline constexpr std::string_view kShuttingDown = "-ERR seawall: shutting down\r\n";

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
inline constexpr std::string_view kCrossUpstream =
    "-CROSSSLOT Keys in request don't route to the same upstream\r\n";

}  // namespace seawall::resp::replies
