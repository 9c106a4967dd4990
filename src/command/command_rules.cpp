#include "seawall/command/command_rules.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <vector>

#include "seawall/command/command_set.hpp"

namespace seawall::command {
namespace {

struct Row {
  std::string_view name;
  CommandRules rules;
};

constexpr CommandRules merge(Merge m, std::uint8_t step, CommandRules r = {}) {
  r.merge = m;
  r.merge_step = step;
  return r;
}
constexpr CommandRules miss(MissReply m, Resp3Empty e = Resp3Empty::Array) {
  CommandRules r;
  r.miss = m;
  r.resp3_empty = e;
  return r;
}
constexpr CommandRules ack(Ack a, WrittenValue w = WrittenValue::None) {
  CommandRules r;
  r.ack = a;
  r.written = w;
  return r;
}
// One field of a row set on top of `r`: rows read as nested calls, journal(..., merge(...)).
template <auto Field, class Value>
constexpr CommandRules with(Value value, CommandRules r) {
  r.*Field = value;
  return r;
}
constexpr CommandRules journal(Journaled v, CommandRules r = {}) {
  return with<&CommandRules::journaled>(v, r);
}
constexpr CommandRules answered(Seawall v, CommandRules r = {}) {
  return with<&CommandRules::seawall>(v, r);
}
constexpr CommandRules pin(Pin v, CommandRules r = {}) { return with<&CommandRules::pin>(v, r); }
constexpr CommandRules state(State v, CommandRules r = {}) {
  return with<&CommandRules::state>(v, r);
}
constexpr CommandRules local(Local v, CommandRules r = {}) {
  return with<&CommandRules::local>(v, r);
}
constexpr CommandRules channels(Channels v, CommandRules r = {}) {
  return with<&CommandRules::channels>(v, r);
}
constexpr CommandRules client(ClientSelf v, CommandRules r = {}) {
  return with<&CommandRules::client>(v, r);
}
constexpr CommandRules scripts(Scripts v, CommandRules r = {}) {
  return with<&CommandRules::scripts>(v, r);
}
constexpr CommandRules flush() {
  CommandRules r;
  r.flushes_all = true;
  return r;
}
constexpr CommandRules runs_queued(CommandRules r = {}) {
  return with<&CommandRules::runs_queued>(true, r);
}
constexpr CommandRules fanout(Merge v, CommandRules r = {}) {
  return with<&CommandRules::fanout>(v, r);
}
constexpr CommandRules cluster_only() { return with<&CommandRules::cluster_only>(true, {}); }

// clang-format off
constexpr std::array kRows{
    // Split across upstreams and merged.
    Row{"mget", journal(Journaled::Mget, merge(Merge::Mget, 1, miss(MissReply::NilPerKey)))},
    Row{"exists", journal(Journaled::Exists, merge(Merge::SumIntegers, 1, miss(MissReply::Zero)))},
    Row{"touch", merge(Merge::SumIntegers, 1)},
    Row{"del", journal(Journaled::Del, merge(Merge::SumIntegers, 1, ack(Ack::CountKeys)))},
    Row{"unlink", journal(Journaled::Unlink, merge(Merge::SumIntegers, 1, ack(Ack::CountKeys)))},
    Row{"mset", journal(Journaled::Mset, merge(Merge::AllOk, 2, ack(Ack::Ok, WrittenValue::Pairs)))},
    // Reads: their miss replies.
    Row{"strlen", miss(MissReply::Zero)},       Row{"llen", miss(MissReply::Zero)},
    Row{"scard", miss(MissReply::Zero)},        Row{"hlen", miss(MissReply::Zero)},
    Row{"zcard", miss(MissReply::Zero)},        Row{"hexists", miss(MissReply::Zero)},
    Row{"sismember", miss(MissReply::Zero)},    Row{"hstrlen", miss(MissReply::Zero)},
    Row{"bitcount", miss(MissReply::Zero)},     Row{"zcount", miss(MissReply::Zero)},
    Row{"zlexcount", miss(MissReply::Zero)},    Row{"pfcount", miss(MissReply::Zero)},
    Row{"getbit", miss(MissReply::Zero)},       Row{"sintercard", miss(MissReply::Zero)},
    Row{"zintercard", miss(MissReply::Zero)},   Row{"bitpos", miss(MissReply::Zero)},
    Row{"getrange", miss(MissReply::EmptyString)},
    Row{"substr", miss(MissReply::EmptyString)},
    Row{"type", miss(MissReply::TypeNone)},
    Row{"hgetall", miss(MissReply::EmptyArray, Resp3Empty::Map)},
    Row{"smembers", miss(MissReply::EmptyArray, Resp3Empty::Set)},
    Row{"sunion", miss(MissReply::EmptyArray, Resp3Empty::Set)},
    Row{"sinter", miss(MissReply::EmptyArray, Resp3Empty::Set)},
    Row{"sdiff", miss(MissReply::EmptyArray, Resp3Empty::Set)},
    Row{"hkeys", miss(MissReply::EmptyArray)},  Row{"hvals", miss(MissReply::EmptyArray)},
    Row{"lrange", miss(MissReply::EmptyArray)}, Row{"zrange", miss(MissReply::EmptyArray)},
    Row{"zrangebyscore", miss(MissReply::EmptyArray)},
    Row{"zrevrange", miss(MissReply::EmptyArray)},
    Row{"zrevrangebyscore", miss(MissReply::EmptyArray)},
    Row{"zrangebylex", miss(MissReply::EmptyArray)},
    Row{"zrevrangebylex", miss(MissReply::EmptyArray)},
    Row{"xrange", miss(MissReply::EmptyArray)}, Row{"xrevrange", miss(MissReply::EmptyArray)},
    Row{"zunion", miss(MissReply::EmptyArray)}, Row{"zinter", miss(MissReply::EmptyArray)},
    Row{"zdiff", miss(MissReply::EmptyArray)},
    Row{"lpos", miss(MissReply::EmptyArrayIfCount)},
    Row{"hmget", miss(MissReply::NilPerField)}, Row{"zmscore", miss(MissReply::NilPerField)},
    Row{"geopos", miss(MissReply::NilArrayPerField)},
    Row{"smismember", miss(MissReply::ZeroPerField)},
    // Writes seawall can acknowledge (and journal).
    Row{"set", journal(Journaled::Set, ack(Ack::OkWithoutOptions, WrittenValue::KeyValue))},
    Row{"setex", journal(Journaled::Setex, ack(Ack::Ok))},                 Row{"psetex", journal(Journaled::Psetex, ack(Ack::Ok))},
    Row{"hmset", journal(Journaled::Hmset, ack(Ack::Ok))},                 Row{"hset", journal(Journaled::Hset, ack(Ack::CountFieldPairs))},
    Row{"hdel", journal(Journaled::Hdel, ack(Ack::CountMembers))},        Row{"sadd", journal(Journaled::Sadd, ack(Ack::CountMembers))},
    Row{"srem", journal(Journaled::Srem, ack(Ack::CountMembers))},        Row{"zrem", journal(Journaled::Zrem, ack(Ack::CountMembers))},
    Row{"zadd", journal(Journaled::Zadd, ack(Ack::CountPairsWithoutFlags))},
    Row{"expire", journal(Journaled::Expire, ack(Ack::OneWithoutFlags))},   Row{"pexpire", journal(Journaled::Pexpire, ack(Ack::OneWithoutFlags))},
    Row{"expireat", journal(Journaled::Expireat, ack(Ack::OneWithoutFlags))}, Row{"pexpireat", journal(Journaled::Pexpireat, ack(Ack::OneWithoutFlags))},
    Row{"persist", journal(Journaled::Persist, ack(Ack::One))},
    // Reads the journal answers besides MGET and EXISTS.
    Row{"get", journal(Journaled::Get)},        Row{"hget", journal(Journaled::Hget)},
    // Writes that drop every copy.
    Row{"flushall", fanout(Merge::AllOk, flush())}, Row{"flushdb", fanout(Merge::AllOk, flush())},
    Row{"swapdb", flush()},
    // What describes the whole keyspace: every shard of a cluster asked, the replies merged.
    Row{"dbsize", fanout(Merge::SumIntegers)}, Row{"keys", fanout(Merge::Concat)},
    Row{"scan", fanout(Merge::Scan)},          Row{"randomkey", fanout(Merge::FirstNonNil)},
    // Cluster commands: seawall shows a cluster as one plain Redis.
    Row{"cluster", cluster_only()},   Row{"readonly", cluster_only()},
    Row{"readwrite", cluster_only()}, Row{"asking", cluster_only()},
    // Connection state: what pins a session to a dedicated connection, what it starts or ends
    // there, and what seawall answers itself on a shared one.
    Row{"multi", pin(Pin::Always, state(State::Multi))},
    Row{"exec", runs_queued(state(State::EndsMulti))},  // the queued writes reach the data
    Row{"discard", state(State::EndsMulti)},
    Row{"watch", pin(Pin::Always, state(State::Watch))},
    Row{"unwatch", state(State::Unwatch)},
    Row{"select", answered(Seawall::Select, pin(Pin::NonZeroDb, state(State::Select, local(Local::Select))))},
    Row{"reset", state(State::Reset, local(Local::Reset))},
    Row{"quit", state(State::Quit, local(Local::Quit))},
    Row{"hello", pin(Pin::WithAuthArg, state(State::Hello, local(Local::Hello)))},
    Row{"auth", pin(Pin::Always, state(State::Auth))},
    Row{"sync", pin(Pin::Always, state(State::Replica))},
    Row{"psync", pin(Pin::Always, state(State::Replica))},
    Row{"subscribe", pin(Pin::Always, state(State::Subscribe, channels(Channels::Channel)))},
    Row{"psubscribe", pin(Pin::Always, state(State::Subscribe, channels(Channels::Pattern)))},
    Row{"ssubscribe", pin(Pin::Always, state(State::Subscribe, channels(Channels::Shard)))},
    Row{"unsubscribe", local(Local::Unsubscribe, channels(Channels::Channel))},
    Row{"punsubscribe", local(Local::Unsubscribe, channels(Channels::Pattern))},
    Row{"sunsubscribe", local(Local::Unsubscribe, channels(Channels::Shard))},
    Row{"xread", pin(Pin::WithBlockArg)},
    Row{"xreadgroup", pin(Pin::WithBlockArg)},
    Row{"script", scripts(Scripts::BySubcommand, pin(Pin::BusySubcommand))},
    // Scripts the registry loads again on new connections.
    Row{"eval", scripts(Scripts::EvalBody)},
    Row{"eval_ro", scripts(Scripts::EvalBody)},
    Row{"script|load", scripts(Scripts::LoadBody, fanout(Merge::FirstNonNil))},
    Row{"script|flush", scripts(Scripts::Forget, fanout(Merge::AllOk))},
    Row{"function", pin(Pin::BusySubcommand)},
    Row{"ping", local(Local::Ping)},
    Row{"echo", local(Local::Echo)},
    Row{"client", pin(Pin::BySubcommand, state(State::Client, local(Local::Client)))},
    Row{"client|reply", pin(Pin::Always)},
    Row{"client|caching", pin(Pin::Always)},
    Row{"client|no-evict", pin(Pin::Always)},
    Row{"client|id", client(ClientSelf::Id)},
    Row{"client|info", client(ClientSelf::Info)},
    Row{"client|getname", client(ClientSelf::GetName)},
    Row{"client|setname", client(ClientSelf::SetName)},
    // Completed by seawall.
    Row{"info", answered(Seawall::Info)},
    Row{"monitor", answered(Seawall::Monitor, pin(Pin::Always, state(State::Monitor)))},
    Row{"client|pause", answered(Seawall::Pause)},
    Row{"client|unpause", answered(Seawall::Unpause)},
    Row{"client|tracking", answered(Seawall::Tracking, pin(Pin::Always, client(ClientSelf::Tracking)))},
};
// clang-format on

bool contains(std::span<const CommandInfo> all, const CommandInfo* info) {
  const std::less<const CommandInfo*> before;
  return !before(info, all.data()) && before(info, all.data() + all.size());
}

constexpr bool is_subcommand_row(std::string_view name) {
  return name.find('|') != std::string_view::npos;
}

// Subcommands with a row: few, so a lookup scans them.
const std::vector<std::pair<const CommandInfo*, CommandRules>>& subcommand_table() {
  static const std::vector<std::pair<const CommandInfo*, CommandRules>> table = [] {
    std::vector<std::pair<const CommandInfo*, CommandRules>> out;
    for (const Row& row : kRows) {
      if (is_subcommand_row(row.name)) {
        if (const CommandInfo* info = lookup_name(row.name)) {
          out.emplace_back(info, row.rules);
        }
      }
    }
    return out;
  }();
  return table;
}

// One entry per row of all_commands(), built once: a lookup is an index, not a name compare.
const std::vector<CommandRules>& by_index() {
  static const std::vector<CommandRules> table = [] {
    const std::span<const CommandInfo> all = all_commands();
    std::vector<CommandRules> out(all.size());
    for (const Row& row : kRows) {
      const CommandInfo* info = lookup(row.name);
      if (info != nullptr && contains(all, info)) {
        out[static_cast<std::size_t>(info - all.data())] = row.rules;
      }
    }
    return out;
  }();
  return table;
}

}  // namespace

const CommandRules& rules(const CommandInfo& info) {
  static const CommandRules kNone{};
  const std::span<const CommandInfo> all = all_commands();
  const std::vector<CommandRules>& table = by_index();
  if (!contains(all, &info)) {
    for (const auto& [sub, sub_rules] : subcommand_table()) {
      if (sub == &info) {
        return sub_rules;
      }
    }
    return kNone;
  }
  return table[static_cast<std::size_t>(&info - all.data())];
}

const CommandRules& rules_of(const CommandInfo* info) {
  static const CommandRules kNone{};
  return info == nullptr ? kNone : rules(*info);
}

std::array<std::string_view, 2> get_request(std::string_view key) { return {"get", key}; }

std::size_t rule_rows() { return kRows.size(); }

std::size_t subcommand_rule_rows() {
  return static_cast<std::size_t>(std::count_if(
      kRows.begin(), kRows.end(), [](const Row& row) { return is_subcommand_row(row.name); }));
}

bool writes_values(const CommandRules& rules, std::span<const std::string_view> args) {
  switch (rules.written) {
    case WrittenValue::KeyValue:
      return args.size() == 3;  // options (TTLs, NX/XX, GET) change what GET answers
    case WrittenValue::Pairs:
      return args.size() % 2 == 1;
    case WrittenValue::None:
      break;
  }
  return false;
}

}  // namespace seawall::command
