#include "seawall/command/command_set.hpp"

#include <initializer_list>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace seawall::command {
namespace {

// What `set` matches for a request written as separate arguments (nullptr when nothing).
const CommandInfo* match_line(const CommandSet& set, std::initializer_list<std::string_view> line) {
  const std::vector<std::string_view> args(line);
  const CommandInfo* info = lookup(args.front());
  if (info == nullptr) {
    ADD_FAILURE() << "unknown command " << args.front();
    return nullptr;
  }
  return set.match(*info, args);
}

TEST(CommandSetTest, LookupNameFindsCommandsAndSubcommandsInAnyCase) {
  ASSERT_NE(lookup_name("keys"), nullptr);
  EXPECT_EQ(lookup_name("KEYS"), lookup("keys"));
  const CommandInfo* config_set = lookup_name("Config|SET");
  ASSERT_NE(config_set, nullptr);
  EXPECT_EQ(config_set->name, "config|set");
  EXPECT_EQ(config_set, lookup_subcommand(*lookup("config"), "set"));
}

TEST(CommandSetTest, LookupNameRejectsUnknownNames) {
  EXPECT_EQ(lookup_name(""), nullptr);
  EXPECT_EQ(lookup_name("nosuchcommand"), nullptr);
  EXPECT_EQ(lookup_name("config|nosuch"), nullptr);
  EXPECT_EQ(lookup_name("nosuch|set"), nullptr);
  EXPECT_EQ(lookup_name("get|set"), nullptr);  // GET has no subcommands
  EXPECT_EQ(lookup_name("config|"), nullptr);
  EXPECT_EQ(lookup_name("|set"), nullptr);
  EXPECT_EQ(lookup_name("config|set|x"), nullptr);
}

TEST(CommandSetTest, AddRejectsUnknownNamesAndAddsNothing) {
  CommandSet set;
  EXPECT_FALSE(set.add("nosuchcommand"));
  EXPECT_FALSE(set.add("config|nosuch"));
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.size(), 0u);
}

TEST(CommandSetTest, EmptySetMatchesNothing) {
  const CommandSet set;
  EXPECT_EQ(match_line(set, {"GET", "k"}), nullptr);
  EXPECT_EQ(match_line(set, {"CONFIG", "SET", "a", "b"}), nullptr);
}

TEST(CommandSetTest, AWholeCommandMatchesEveryForm) {
  CommandSet set;
  ASSERT_TRUE(set.add("KEYS"));
  ASSERT_TRUE(set.add("config"));
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(match_line(set, {"keys", "*"}), lookup("keys"));
  EXPECT_EQ(match_line(set, {"KeYs"}), lookup("keys"));  // wrong arity: still matched
  // A whole container covers each of its subcommands, known or not, and the bare name.
  EXPECT_EQ(match_line(set, {"CONFIG", "GET", "maxmemory"}), lookup("config"));
  EXPECT_EQ(match_line(set, {"config", "nosuch"}), lookup("config"));
  EXPECT_EQ(match_line(set, {"config"}), lookup("config"));
  EXPECT_EQ(match_line(set, {"GET", "k"}), nullptr);
  EXPECT_EQ(match_line(set, {"SCAN", "0"}), nullptr);
}

TEST(CommandSetTest, ASubcommandMatchesOnlyThatSubcommand) {
  CommandSet set;
  ASSERT_TRUE(set.add("config|set"));
  ASSERT_TRUE(set.add("CLIENT|KILL"));
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(match_line(set, {"config", "set", "maxmemory", "1"}), lookup_name("config|set"));
  EXPECT_EQ(match_line(set, {"CONFIG", "Set", "maxmemory", "1"}), lookup_name("config|set"));
  EXPECT_EQ(match_line(set, {"client", "kill", "id", "3"}), lookup_name("client|kill"));
  EXPECT_EQ(match_line(set, {"CONFIG", "GET", "maxmemory"}), nullptr);
  EXPECT_EQ(match_line(set, {"CONFIG"}), nullptr);
  EXPECT_EQ(match_line(set, {"config", "nosuch"}), nullptr);
  EXPECT_EQ(match_line(set, {"CLIENT", "SETNAME", "x"}), nullptr);
}

TEST(CommandSetTest, AddingTwiceCountsOnce) {
  CommandSet set;
  ASSERT_TRUE(set.add("keys"));
  ASSERT_TRUE(set.add("KEYS"));
  ASSERT_TRUE(set.add("config|set"));
  ASSERT_TRUE(set.add("CONFIG|set"));
  EXPECT_EQ(set.size(), 2u);
}

TEST(CommandSetTest, WholeContainerWinsOverItsSubcommands) {
  CommandSet set;
  ASSERT_TRUE(set.add("config|set"));
  ASSERT_TRUE(set.add("config"));
  EXPECT_EQ(match_line(set, {"CONFIG", "GET", "x"}), lookup("config"));
  EXPECT_EQ(match_line(set, {"CONFIG", "SET", "x", "y"}), lookup("config"));
  CommandSet reversed;
  ASSERT_TRUE(reversed.add("config"));
  ASSERT_TRUE(reversed.add("config|set"));
  EXPECT_EQ(match_line(reversed, {"CONFIG", "GET", "x"}), lookup("config"));
}

}  // namespace
}  // namespace seawall::command
