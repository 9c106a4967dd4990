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

TEST(CommandRules, SubcommandsHaveTheDefaults) {
  const CommandInfo* client = lookup("client");
  ASSERT_NE(client, nullptr);
  const CommandInfo* list = lookup_subcommand(*client, "list");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(rules(*list), CommandRules{});
}

}  // namespace
}  // namespace seawall::command
