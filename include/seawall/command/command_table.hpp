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
  kScripting = 1u << 16,               // EVAL family, FCALL family, SCRIPT, FUNCTION
  kNonDeterministicOutput = 1u << 17,  // RANDOMKEY, SPOP, SCAN, TIME ... never cacheable
  // The remaining Redis 7.0 COMMAND flags, so the table carries everything Redis reports.
  kSkipMonitor = 1u << 18,
  kSkipSlowlog = 1u << 19,
  kAsking = 1u << 20,           // accepted on an importing slot after ASKING (cluster)
  kNoMandatoryKeys = 1u << 21,  // may take keys, but may also be given none (EVAL with 0 keys)
  kNoAsyncLoading = 1u << 22,
  kNoMulti = 1u << 23,  // refused inside MULTI
  kAllowBusy = 1u << 24,
};
// Notes on what Redis 7.0 reports, which the generated table follows:
// - EVAL/EVALSHA/FCALL carry neither kWrite nor kReadonly (the script decides); treat kScripting
//   without kReadonly as a possible write.
// - kMayReplicate is never set: Redis 7.0's COMMAND does not report "may_replicate".
// - kBlocking is Redis's "blocking" flag plus WAIT, which blocks but is not flagged by Redis.
// - SPUBLISH/SSUBSCRIBE/SUNSUBSCRIBE report shard channels in the key range; key_indexes() returns
//   them, since they hash to cluster slots exactly like keys.

// Name of a single flag as Redis spells it ("write", "no_auth"), or ours for the derived ones
// ("transaction", "connection_state", "no_key", "scripting", "nondeterministic_output").
// Empty for a value that is not exactly one known flag.
std::string_view flag_name(Flag f);

// How to find keys when kMovableKeys is set (the legacy first/last/step range does not cover it).
enum class KeySpecial : std::uint8_t {
  None,
  NumkeysAt1,       // ZUNION/ZINTER/ZDIFF/SINTERCARD/ZINTERCARD/LMPOP/ZMPOP numkeys key...
  NumkeysAt2,       // EVAL/EVALSHA/FCALL (and _RO) script numkeys key...
  NumkeysAt2Dest,   // ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE: dst (index 1) + numkeys at 2
  NumkeysAt3Block,  // BLMPOP/BZMPOP timeout numkeys key... (numkeys at index 2, keys from 3)
  Streams,          // XREAD/XREADGROUP ... STREAMS k1 k2 id1 id2
  Sort,             // SORT key ... STORE dst (the last STORE wins, as in SORT itself)
  Migrate,          // MIGRATE host port key|"" ... KEYS k1 k2 (KEYS only when key is "")
  GeoradiusStore,   // GEORADIUS[BYMEMBER] key ... STORE|STOREDIST dst (each one, as GETKEYS)
};
// SORT_RO is kMovableKeys (for its BY/GET patterns) with KeySpecial::None: its only key is the
// legacy range. A malformed argument list (bad numkeys, odd STREAMS tail) never reads out of
// bounds: key_indexes() yields only the keys that are present, or none where Redis finds none.

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

// Case-insensitive lookup of a top-level command. nullptr when unknown. Allocation-free.
const CommandInfo* lookup(std::string_view name);
// Case-insensitive lookup of a subcommand of a container command. nullptr when unknown.
const CommandInfo* lookup_subcommand(const CommandInfo& parent, std::string_view sub);
// The command and, for containers with argc >= 2, its subcommand. nullptr when unknown (an
// unknown subcommand of a known container included).
const CommandInfo* resolve(std::span<const std::string_view> args);
// The same, given `top` = lookup(args[0]) already.
const CommandInfo* resolve(const CommandInfo* top, std::span<const std::string_view> args);
// Whether argc (name included) satisfies the arity.
bool arity_ok(const CommandInfo& info, std::size_t argc);
// Appends the indexes into `args` (args[0] is the name) of every key argument, in the order
// COMMAND GETKEYS gives them. Given a container (OBJECT), it resolves the subcommand from args[1]
// itself; indexes always count from args[0]. Allocates only if `out` must grow.
void key_indexes(const CommandInfo& info, std::span<const std::string_view> args,
                 std::vector<std::uint32_t>& out);
// Every top-level command, in table order.
std::span<const CommandInfo> all_commands();

}  // namespace seawall::command
