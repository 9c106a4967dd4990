#pragma once
// What seawall does with a command, beside what Redis says it is (command_table.hpp): how a
// command split across upstreams by its keys is merged back, what a read answers as a miss while
// Redis is unavailable, what seawall acknowledges for a write it journals, whether a write leaves
// its values as GET's answers, and whether it drops every L1 copy. One row per command that has
// a rule; every other command takes the defaults. A decision about one command reads this table
// instead of comparing its name.
// Thread safety: immutable static data.
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "seawall/command/command_table.hpp"

namespace seawall::command {

// How the parts of a command split across upstreams by its keys are merged back.
enum class Merge : std::uint8_t {
  None,         // not split: its keys must share an upstream
  Mget,         // one GET reply per key, in request order (also: MGET's copies are GET's)
  SumIntegers,  // DEL, UNLINK, EXISTS, TOUCH: the parts' counts added
  AllOk,        // MSET: +OK when every part said +OK
  // Commands without keys sent to every shard of a cluster (CommandRules::fanout):
  Concat,       // KEYS: every shard's array, one after the other
  Scan,         // SCAN: one shard's reply, its cursor made a cursor over every shard
  FirstNonNil,  // RANDOMKEY: the first shard's answer that is not nil
};

// The reply a read gets as a miss (on_unavailable: miss): what Redis answers for a missing key
// (policy::miss_reply builds it).
enum class MissReply : std::uint8_t {
  Nil,                // $-1
  Zero,               // :0 (counts, lengths, EXISTS)
  EmptyString,        // GETRANGE, SUBSTR
  TypeNone,           // TYPE: +none
  EmptyArray,         // *0 (range and member lists)
  EmptyArrayIfCount,  // LPOS: *0 with COUNT, else nil
  NilPerKey,          // MGET: one nil per key
  NilPerField,        // HMGET, ZMSCORE: one nil per field after the key
  NilArrayPerField,   // GEOPOS: one *-1 per member
  ZeroPerField,       // SMISMEMBER: one :0 per member
};

// The type of an empty collection reply in RESP3 (RESP2 has only arrays).
enum class Resp3Empty : std::uint8_t { Array, Map, Set };

// What seawall answers for a write it journals (the reply Redis would give), from its arguments
// (policy::acknowledgement builds it); None: seawall cannot know it without the data, so the
// write cannot be acknowledged.
enum class Ack : std::uint8_t {
  None,
  Ok,                      // SETEX, PSETEX, MSET, HMSET
  OkWithoutOptions,        // SET: not with NX, XX or GET (they depend on the data)
  CountKeys,               // DEL, UNLINK: every key counted as removed
  CountFieldPairs,         // HSET: field/value pairs
  CountMembers,            // HDEL, SADD, SREM, ZREM: every member counted
  CountPairsWithoutFlags,  // ZADD: not with NX, XX, GT, LT, CH, INCR
  OneWithoutFlags,         // EXPIRE family: :1, not with NX/XX/GT/LT
  One,                     // PERSIST
};

// Whether a write's values are what GET of its keys answers once Redis acknowledged it.
enum class WrittenValue : std::uint8_t {
  None,
  KeyValue,  // SET key value, without options
  Pairs,     // MSET key value [key value ...]
};

// How the journal stores a write it keeps for replay and answers a read of its keys meanwhile
// (upstream/journal.cpp: compaction per key and the read-your-writes overlay); None: neither.
enum class Journaled : std::uint8_t {
  None,
  // Writes (the set policy::acknowledgement() can acknowledge).
  Set,
  Setex,
  Psetex,
  Mset,
  Hset,
  Hmset,
  Del,
  Unlink,
  Hdel,
  Sadd,
  Srem,
  Zadd,
  Zrem,
  Expire,
  Pexpire,
  Expireat,
  Pexpireat,
  Persist,
  // Reads the journal answers.
  Get,
  Mget,
  Hget,
  Exists,
};

// Commands seawall answers (or completes) itself beside forwarding them, by what they are about.
enum class Seawall : std::uint8_t {
  None,
  Info,      // INFO: Redis's sections merged with seawall's (introspection.info)
  Pause,     // CLIENT PAUSE: requests wait out Redis's pause instead of timing out
  Unpause,   // CLIENT UNPAUSE: ends that wait
  Monitor,   // MONITOR: the commands of seawall's clients, not of its connections to Redis
  Tracking,  // CLIENT TRACKING: a REDIRECT names a seawall id, Redis needs its own
  Select,    // SELECT: kept for the next dedicated connection when none can be opened now
};

// When a command needs a dedicated upstream connection (pinned mode), read by proxy's needs_pin.
// Commands flagged kBlocking in the command table pin too unless their row says otherwise.
enum class Pin : std::uint8_t {
  ByFlags,         // no rule of its own: pins when blocking
  Always,          // MULTI, WATCH, MONITOR, AUTH, SYNC, PSYNC, (P|S)SUBSCRIBE, CLIENT TRACKING ...
  WithBlockArg,    // XREAD, XREADGROUP: only with BLOCK (they are flagged blocking)
  NonZeroDb,       // SELECT n: any database but 0
  WithAuthArg,     // HELLO ... AUTH: the connection becomes its user's
  BusySubcommand,  // SCRIPT, FUNCTION: a subcommand Redis runs while a script is busy
  BySubcommand,    // CLIENT: its subcommand's row says (Always or not)
};

// The connection state a command starts or ends on the connection it runs on: what pinned mode
// tracks to know when its pin may end, and what the client's CLIENT INFO record shows.
enum class State : std::uint8_t {
  None,
  Multi,      // starts a transaction
  EndsMulti,  // EXEC, DISCARD: end it, and WATCH with it
  Watch,
  Unwatch,    // ends WATCH outside a transaction
  Select,     // the database
  Reset,      // ends every state: db 0, RESP2, no transaction
  Quit,       // the connection ends after its reply
  Hello,      // the protocol (HELLO 2|3), the client's name (SETNAME)
  Subscribe,  // pub/sub mode (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE): only ends with the connection
  Monitor,    // monitor mode: only ends with the connection
  Auth,       // the connection's user: only ends with the connection
  Replica,    // SYNC, PSYNC: a replication stream
  Client,     // CLIENT: its subcommand may set per-connection state (see Pin::BySubcommand)
};

// Which subscriptions a (un)subscribe command, or Redis's confirmation named after it, is about.
enum class Channels : std::uint8_t { None, Channel, Pattern, Shard };

// What seawall answers itself on a shared connection instead of forwarding (proxy's dispatch).
enum class Local : std::uint8_t {
  None,
  Ping,         // +PONG or the argument
  Echo,         // the argument
  Quit,         // +OK, then the connection ends
  Reset,        // +RESET, the session's state back to a new connection's
  Unsubscribe,  // (P|S)UNSUBSCRIBE when not subscribed: one reply per channel, count 0
  Select,       // SELECT 0 (another database pins)
  Hello,        // HELLO without AUTH: the session's protocol
  Client,       // CLIENT: a per-client subcommand (see ClientSelf), else forwarded
};

// CLIENT subcommands about the client itself: answered per client, never about seawall's own
// connection to Redis.
enum class ClientSelf : std::uint8_t { None, Id, Info, GetName, SetName, SetInfo, Tracking };

// What the script registry (upstream/script_registry) learns from a command: the scripts it loads
// again on each new connection to Redis, so EVALSHA runs there as it did on the old one.
enum class Scripts : std::uint8_t {
  None,
  EvalBody,      // EVAL, EVAL_RO: the script is args[1]
  LoadBody,      // SCRIPT LOAD: the script is args[2]
  Forget,        // SCRIPT FLUSH: Redis forgot every script
  BySubcommand,  // SCRIPT: its subcommand's row says
};

struct CommandRules {
  Merge merge = Merge::None;
  std::uint8_t merge_step = 1;  // arguments per key in a part (MSET: key and value)
  MissReply miss = MissReply::Nil;
  Resp3Empty resp3_empty = Resp3Empty::Array;
  Ack ack = Ack::None;
  WrittenValue written = WrittenValue::None;
  bool flushes_all = false;  // FLUSHALL, FLUSHDB, SWAPDB: every L1 copy goes
  bool runs_queued = false;  // EXEC: the writes queued since MULTI run now
  // In front of a Redis Cluster, a command without keys that describes the whole keyspace goes
  // to every shard and the replies are merged (DBSIZE summed, KEYS concatenated, ...).
  Merge fanout = Merge::None;
  // CLUSTER, READONLY, READWRITE, ASKING: in front of a cluster seawall is one plain Redis, so
  // they get the error of a Redis without cluster support.
  bool cluster_only = false;
  Journaled journaled = Journaled::None;
  Seawall seawall = Seawall::None;
  Pin pin = Pin::ByFlags;
  State state = State::None;
  Channels channels = Channels::None;
  Local local = Local::None;
  ClientSelf client = ClientSelf::None;
  Scripts scripts = Scripts::None;

  bool operator==(const CommandRules&) const = default;
};

// The rules of `info` (a row of all_commands(), or a subcommand such as "client|pause"); the
// defaults for a command without a row.
const CommandRules& rules(const CommandInfo& info);

// Rows in the table (each names a command of the command table; a test checks none is lost).
std::size_t rule_rows();
// Of them, rows of subcommands.
std::size_t subcommand_rule_rows();

// The rules of a command that may be unknown (nullptr): the defaults then.
const CommandRules& rules_of(const CommandInfo* info);

// A request's command, looked up once when it is read and carried along with it: the command
// table's row (nullptr when unknown) and its rules (the defaults when it has none).
struct Command {
  const CommandInfo* info = nullptr;
  const CommandRules* rules = nullptr;

  static Command of(std::string_view name) {
    const CommandInfo* info = lookup(name);
    return Command{info, &rules_of(info)};
  }
  static Command of(const CommandInfo* info) { return Command{info, &rules_of(info)}; }
  const CommandRules& rule() const { return *rules; }
  explicit operator bool() const { return info != nullptr; }
};

// GET `key`, as a request: the L1 keeps a write's value under the cache key of GET (the name
// lower-case, as cache keys are normalised).
std::array<std::string_view, 2> get_request(std::string_view key);
// Options seawall reads in requests it forwards: HELLO ... AUTH user password / SETNAME name,
// XREAD ... BLOCK ms.
inline constexpr std::string_view kAuthOption = "auth";
inline constexpr std::string_view kSetnameOption = "setname";
inline constexpr std::string_view kBlockOption = "block";
// Options that make a write's reply depend on the data (no acknowledgement without Redis):
// SET's NX, XX, GET; ZADD's NX, XX, GT, LT, CH, INCR.
inline constexpr std::array<std::string_view, 3> kSetDataOptions{"nx", "xx", "get"};
inline constexpr std::array<std::string_view, 6> kZaddDataOptions{"nx", "xx", "gt",
                                                                  "lt", "ch", "incr"};

// True when the request writes values GET then answers (see WrittenValue).
bool writes_values(const CommandRules& rules, std::span<const std::string_view> args);

}  // namespace seawall::command
