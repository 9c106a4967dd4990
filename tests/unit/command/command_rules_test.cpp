#include "seawall/command/command_rules.hpp"

#include <gtest/gtest.h>

#include <array>

namespace seawall::command {
namespace {

const CommandRules& of(std::string_view name) {
  const CommandInfo* info = lookup(name);
  EXPECT_NE(info, nullptr) << name;
  return rules(*info);
}

TEST(CommandRules, EveryRowNamesACommand) {
  // A misspelt row would silently give its command the defaults.
  std::size_t with_rules = 0;
  for (const CommandInfo& info : all_commands()) {
    with_rules += rules(info) == CommandRules{} ? 0u : 1u;
    for (const CommandInfo& sub : info.subcommands) {
      with_rules += rules(sub) == CommandRules{} ? 0u : 1u;
    }
  }
  EXPECT_EQ(with_rules, rule_rows());
  EXPECT_GT(subcommand_rule_rows(), 0u);
}

TEST(CommandRules, CommandsSeawallCompletes) {
  EXPECT_EQ(of("info").seawall, Seawall::Info);
  const std::array<std::string_view, 3> pause{"CLIENT", "PAUSE", "100"};
  const std::array<std::string_view, 2> unpause{"client", "Unpause"};
  EXPECT_EQ(rules(*resolve(pause)).seawall, Seawall::Pause);
  EXPECT_EQ(rules(*resolve(unpause)).seawall, Seawall::Unpause);
  EXPECT_EQ(of("client").seawall, Seawall::None);
}

TEST(CommandRules, SplitCommandsAndTheirMerges) {
  EXPECT_EQ(of("mget").merge, Merge::Mget);
  EXPECT_EQ(of("del").merge, Merge::SumIntegers);
  EXPECT_EQ(of("exists").merge, Merge::SumIntegers);
  EXPECT_EQ(of("mset").merge, Merge::AllOk);
  EXPECT_EQ(of("mset").merge_step, 2);
  EXPECT_EQ(of("get").merge, Merge::None);
  EXPECT_EQ(of("msetnx").merge, Merge::None);  // all or nothing: cannot be split
}

TEST(CommandRules, WrittenValuesAndFlushes) {
  const std::array<std::string_view, 3> set{"SET", "k", "v"};
  const std::array<std::string_view, 5> set_ex{"SET", "k", "v", "EX", "10"};
  const std::array<std::string_view, 5> mset{"MSET", "a", "1", "b", "2"};
  EXPECT_TRUE(writes_values(of("set"), set));
  EXPECT_FALSE(writes_values(of("set"), set_ex));
  EXPECT_TRUE(writes_values(of("mset"), mset));
  EXPECT_FALSE(writes_values(of("setex"), set));
  EXPECT_TRUE(of("flushall").flushes_all);
  EXPECT_TRUE(of("swapdb").flushes_all);
  EXPECT_FALSE(of("del").flushes_all);
}

TEST(CommandRules, PinRules) {
  EXPECT_EQ(of("multi").pin, Pin::Always);
  EXPECT_EQ(of("watch").pin, Pin::Always);
  EXPECT_EQ(of("subscribe").pin, Pin::Always);
  EXPECT_EQ(of("monitor").pin, Pin::Always);
  EXPECT_EQ(of("psync").pin, Pin::Always);
  EXPECT_EQ(of("xread").pin, Pin::WithBlockArg);
  EXPECT_EQ(of("select").pin, Pin::NonZeroDb);
  EXPECT_EQ(of("hello").pin, Pin::WithAuthArg);
  EXPECT_EQ(of("script").pin, Pin::BusySubcommand);
  EXPECT_EQ(of("client").pin, Pin::BySubcommand);
  EXPECT_EQ(of("blpop").pin, Pin::ByFlags);  // blocking: its flag says
  EXPECT_EQ(of("get").pin, Pin::ByFlags);
  const std::array<std::string_view, 3> tracking{"CLIENT", "TRACKING", "on"};
  const std::array<std::string_view, 2> id{"CLIENT", "ID"};
  EXPECT_EQ(rules(*resolve(tracking)).pin, Pin::Always);
  EXPECT_EQ(rules(*resolve(id)).pin, Pin::ByFlags);
}

TEST(CommandRules, ConnectionStateStartedOrEnded) {
  EXPECT_EQ(of("multi").state, State::Multi);
  EXPECT_EQ(of("exec").state, State::EndsMulti);
  EXPECT_TRUE(of("exec").runs_queued);
  EXPECT_EQ(of("discard").state, State::EndsMulti);
  EXPECT_FALSE(of("discard").runs_queued);
  EXPECT_EQ(of("unwatch").state, State::Unwatch);
  EXPECT_EQ(of("reset").state, State::Reset);
  EXPECT_EQ(of("auth").state, State::Auth);
  EXPECT_EQ(of("sync").state, State::Replica);
  EXPECT_EQ(of("ssubscribe").state, State::Subscribe);
  EXPECT_EQ(of("ssubscribe").channels, Channels::Shard);
  EXPECT_EQ(of("punsubscribe").channels, Channels::Pattern);
  EXPECT_EQ(of("unsubscribe").channels, Channels::Channel);
  EXPECT_EQ(of("get").state, State::None);
}

TEST(CommandRules, LocalAnswers) {
  EXPECT_EQ(of("ping").local, Local::Ping);
  EXPECT_EQ(of("echo").local, Local::Echo);
  EXPECT_EQ(of("quit").local, Local::Quit);
  EXPECT_EQ(of("reset").local, Local::Reset);
  EXPECT_EQ(of("select").local, Local::Select);
  EXPECT_EQ(of("hello").local, Local::Hello);
  EXPECT_EQ(of("client").local, Local::Client);
  EXPECT_EQ(of("sunsubscribe").local, Local::Unsubscribe);
  EXPECT_EQ(of("get").local, Local::None);
  const std::array<std::string_view, 2> id{"client", "id"};
  const std::array<std::string_view, 3> setname{"CLIENT", "SETNAME", "x"};
  EXPECT_EQ(rules(*resolve(id)).client, ClientSelf::Id);
  EXPECT_EQ(rules(*resolve(setname)).client, ClientSelf::SetName);
}

TEST(CommandRules, LookedUpOnce) {
  const Command get = Command::of("GeT");
  ASSERT_TRUE(get);
  EXPECT_EQ(get.info, lookup("get"));
  EXPECT_EQ(&get.rule(), &rules(*get.info));
  const Command unknown = Command::of("nosuchcommand");
  EXPECT_FALSE(unknown);
  EXPECT_EQ(unknown.rule(), CommandRules{});
  EXPECT_EQ(rules_of(nullptr), CommandRules{});
}

TEST(CommandRules, SubcommandsHaveTheDefaults) {
  const CommandInfo* client = lookup("client");
  ASSERT_NE(client, nullptr);
  const CommandInfo* list = lookup_subcommand(*client, "list");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(rules(*list), CommandRules{});
}

}  // namespace
}  // namespace seawall::command
