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
constexpr CommandRules journal(Journaled j, CommandRules r = {}) {
  r.journaled = j;
  return r;
}
constexpr CommandRules answered(Seawall what) {
  CommandRules r;
  r.seawall = what;
  return r;
}
constexpr CommandRules flush() {
  CommandRules r;
  r.flushes_all = true;
  return r;
}
constexpr CommandRules runs_queued() {
  CommandRules r;
  r.runs_queued = true;
  return r;
}

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
    Row{"flushall", flush()}, Row{"flushdb", flush()}, Row{"swapdb", flush()},
    // A transaction's queued writes reach the data.
    Row{"exec", runs_queued()},
    // Completed by seawall.
    Row{"info", answered(Seawall::Info)},
    Row{"monitor", answered(Seawall::Monitor)},
    Row{"select", answered(Seawall::Select)},
    Row{"client|pause", answered(Seawall::Pause)},
    Row{"client|unpause", answered(Seawall::Unpause)},
    Row{"client|tracking", answered(Seawall::Tracking)},
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
