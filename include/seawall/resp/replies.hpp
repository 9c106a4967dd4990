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
// Prefixes: the upstream name, then kSuffix*.
inline constexpr std::string_view kUpstreamPrefix = "-ERR seawall: upstream '";
inline constexpr std::string_view kTimeoutSuffix = "' timed out\r\n";
inline constexpr std::string_view kUnavailableSuffix = "' unavailable\r\n";
// For commands that need a dedicated connection, not yet supported: the command name follows.
inline constexpr std::string_view kUnsupportedPrefix = "-ERR seawall: unsupported command '";
inline constexpr std::string_view kUnsupportedSuffix =
    "' (needs a dedicated connection; not supported yet)\r\n";
inline constexpr std::string_view kSelectNonZero =
    "-ERR seawall: SELECT of a database other than 0 is not supported yet\r\n";
inline constexpr std::string_view kNoProto =
    "-NOPROTO sorry, this protocol version is not supported\r\n";
inline constexpr std::string_view kShuttingDown = "-ERR seawall: shutting down\r\n";

}  // namespace seawall::resp::replies
