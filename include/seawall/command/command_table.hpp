#pragma once
// The one table of Redis commands (Redis 7.0): arity, flags and key positions. Every other module
// asks this table what a command is; nothing else hard-codes command names.
// Thread safety: the table is immutable static data.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace seawall::command {

enum Flag : std::uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kAdmin = 1u << 2,
  kBlocking = 1u << 3,         // may block the connection (BLPOP, XREAD BLOCK, WAIT, ...)
  kPubsub = 1u << 4,           // SUBSCRIBE family, PUBLISH
  kTransaction = 1u << 5,      // MULTI, EXEC, DISCARD, WATCH, UNWATCH
  kConnectionState = 1u << 6,  // changes per-connection state: SELECT, HELLO, AUTH, CLIENT ...
  kNoKey = 1u << 7,            // takes no key arguments
  kMovableKeys = 1u << 8,      // key positions depend on the arguments
  kFast = 1u << 9,
  kDenyOom = 1u << 10,
  kNoScript = 1u << 11,
  kLoading = 1u << 12,
  kStale = 1u << 13,
  kNoAuth = 1u << 14,
  kMayReplicate = 1u << 15,
  kScripting = 1u << 16,  // EVAL family, FCALL family, SCRIPT, FUNCTION
  kNonDeterministicOutput = 1u << 17,  // RANDOMKEY, SPOP, SCAN, TIME ... never cacheable
};

// How to find keys when kMovableKeys is set (the legacy first/last/step range does not cover it).
enum class KeySpecial : std::uint8_t {
  None,
  NumkeysAt1,        // ZUNION/ZINTER/ZDIFF/SINTERCARD/ZINTERCARD/LMPOP/ZMPOP numkeys key...
  NumkeysAt2,        // EVAL/EVALSHA/FCALL script numkeys key...; ZUNIONSTORE dst numkeys key...
  NumkeysAt2Dest,    // ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE: dst (index 1) + numkeys at 2
  NumkeysAt3Block,   // BLMPOP/BZMPOP timeout numkeys key...
  Streams,           // XREAD/XREADGROUP ... STREAMS k1 k2 id1 id2
  Sort,              // SORT key ... STORE dst
  Migrate,           // MIGRATE host port key|"" ... KEYS k1 k2
  GeoradiusStore,    // GEORADIUS[BYMEMBER] key ... STORE|STORedist dst
};

struct CommandInfo {
  std::string_view name;  // lowercase, as COMMAND reports it ("client|setname" for subcommands)
  int arity;              // Redis convention: N exact, -N at least N (name included)
  std::uint32_t flags;
  int first_key;  // 0 when none
  int last_key;   // negative counts from the end (-1 = last argument)
  int step;
  KeySpecial special;
  std::span<const CommandInfo> subcommands;  // empty unless a container (CLIENT, CONFIG, ...)

  bool has(Flag f) const { return (flags & f) != 0; }
};

// Case-insensitive lookup of a top-level command. nullptr when unknown.
const CommandInfo* lookup(std::string_view name);
// Case-insensitive lookup of a subcommand of a container command. nullptr when unknown.
const CommandInfo* lookup_subcommand(const CommandInfo& parent, std::string_view sub);
// The command and, for containers with argc >= 2, its subcommand. nullptr when unknown.
const CommandInfo* resolve(std::span<const std::string_view> args);
// Whether argc (name included) satisfies the arity.
bool arity_ok(const CommandInfo& info, std::size_t argc);
// Appends the indexes into `args` (args[0] is the name) of every key argument.
void key_indexes(const CommandInfo& info, std::span<const std::string_view> args,
                 std::vector<std::uint32_t>& out);
// Every top-level command, in table order.
std::span<const CommandInfo> all_commands();

}  // namespace seawall::command
