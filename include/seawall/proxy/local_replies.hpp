#pragma once
// The local handler's replies: what seawall answers itself, without Redis, for the commands
// whose row in command_rules.hpp names a Local answer (PING, ECHO, (P|S)UNSUBSCRIBE outside
// pub/sub, HELLO). Pure functions of the request: each appends the reply Redis would give.
// Thread safety: pure functions.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "seawall/resp/resp3.hpp"

namespace seawall::proxy {

// PING [message]: +PONG, or the message as a bulk string (args.size() <= 2).
void append_ping_reply(std::string& out, std::span<const std::string_view> args);

// (P|S)UNSUBSCRIBE [channel ...] of a client subscribed to nothing: one reply per channel named
// (or one for none), each counting 0 subscriptions; a push in RESP3. `name`: the command's name.
void append_unsubscribe_reply(std::string& out, std::string_view name,
                              std::span<const std::string_view> args, resp::Protocol protocol);

// HELLO's reply, the fields Redis 7 answers: about this client (its seawall `id`) and the
// server's `version`.
void append_hello_reply(std::string& out, resp::Protocol protocol, std::int64_t id,
                        std::string_view version);

}  // namespace seawall::proxy
