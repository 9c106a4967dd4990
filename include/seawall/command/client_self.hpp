#pragma once
// Which of CLIENT's subcommands about the client itself a request names (command_rules.hpp's
// ClientSelf). The row of the subcommand says, except for CLIENT SETINFO: Redis 7.2 added it,
// so the command table (generated from Redis 7.0) has no row for it, and it is known by name.
// Thread safety: pure function.
#include <span>
#include <string_view>

#include "seawall/command/command_rules.hpp"

namespace seawall::command {

// `client`: CLIENT's row (lookup(args[0])); args.size() >= 2.
ClientSelf client_self(const CommandInfo* client, std::span<const std::string_view> args);

}  // namespace seawall::command
