#include "seawall/command/command_table.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::command {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// key_indexes for a command line written as separate arguments.
std::vector<std::uint32_t> keys_of(std::initializer_list<std::string_view> line) {
  const std::vector<std::string_view> args(line);
  std::vector<std::uint32_t> out;
  const CommandInfo* info = lookup(args.front());
  if (info == nullptr) {
    ADD_FAILURE() << "unknown command " << args.front();
    return out;
  }
  key_indexes(*info, args, out);
  return out;
}

const CommandInfo& must_lookup(std::string_view name) {
  const CommandInfo* info = lookup(name);
  EXPECT_NE(info, nullptr) << name;
  static const CommandInfo kMissing{};
  return info != nullptr ? *info : kMissing;
}

TEST(CommandTableTest, LookupIsCaseInsensitive) {
  const CommandInfo* lower = lookup("get");
  ASSERT_NE(lower, nullptr);
  EXPECT_EQ(lower->name, "get");
  EXPECT_EQ(lookup("GET"), lower);
  EXPECT_EQ(lookup("gEt"), lower);
  EXPECT_EQ(lookup("ZUNIONSTORE"), lookup("zunionstore"));
  EXPECT_EQ(lookup("Client"), lookup("client"));
}

TEST(CommandTableTest, LookupRejectsUnknownNames) {
  EXPECT_EQ(lookup(""), nullptr);
  EXPECT_EQ(lookup("gett"), nullptr);
  EXPECT_EQ(lookup("ge"), nullptr);
  EXPECT_EQ(lookup("get "), nullptr);
  EXPECT_EQ(lookup("client|setname"), nullptr);  // subcommands are not top-level
  EXPECT_EQ(lookup(std::string(200, 'a')), nullptr);
  EXPECT_EQ(lookup(std::string_view("get\0", 4)), nullptr);
  EXPECT_EQ(lookup("g\xc3\xa9t"), nullptr);
}

TEST(CommandTableTest, EveryCommandAndSubcommandIsFoundByItsOwnName) {
  std::size_t total = 0;
  for (const CommandInfo& c : all_commands()) {
    EXPECT_EQ(lookup(c.name), &c) << c.name;
    std::string upper(c.name);
    for (char& ch : upper) {
      ch = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 'a' + 'A') : ch;
    }
    EXPECT_EQ(lookup(upper), &c) << upper;
    for (const CommandInfo& s : c.subcommands) {
      const std::string prefix = std::string(c.name) + "|";
      ASSERT_EQ(s.name.substr(0, prefix.size()), prefix);
      EXPECT_EQ(lookup_subcommand(c, s.name.substr(prefix.size())), &s) << s.name;
      EXPECT_TRUE(s.subcommands.empty()) << s.name;
      ++total;
    }
    ++total;
  }
  // Redis 7.0.15 reports 240 commands and 126 subcommands.
  EXPECT_EQ(all_commands().size(), 240u);
  EXPECT_EQ(total, 366u);
}

TEST(CommandTableTest, Subcommands) {
  const CommandInfo& client = must_lookup("client");
  EXPECT_FALSE(client.subcommands.empty());
  const CommandInfo* setname = lookup_subcommand(client, "SetName");
  ASSERT_NE(setname, nullptr);
  EXPECT_EQ(setname->name, "client|setname");
  EXPECT_EQ(setname->arity, 3);
  EXPECT_TRUE(setname->has(kConnectionState));
  EXPECT_NE(lookup_subcommand(client, "no-evict"), nullptr);
  EXPECT_EQ(lookup_subcommand(client, "nosuch"), nullptr);
  EXPECT_EQ(lookup_subcommand(client, ""), nullptr);
  EXPECT_EQ(lookup_subcommand(client, "client|setname"), nullptr);
  EXPECT_EQ(lookup_subcommand(must_lookup("get"), "setname"), nullptr);  // not a container

  const CommandInfo* freq = lookup_subcommand(must_lookup("object"), "FREQ");
  ASSERT_NE(freq, nullptr);
  EXPECT_EQ(freq->first_key, 2);
  EXPECT_TRUE(freq->has(kNonDeterministicOutput));
}

TEST(CommandTableTest, ResolveFollowsContainersOnly) {
  const std::vector<std::string_view> setname{"CLIENT", "setname", "x"};
  const CommandInfo* info = resolve(setname);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, "client|setname");

  const std::vector<std::string_view> client_alone{"client"};
  EXPECT_EQ(resolve(client_alone), lookup("client"));
  const std::vector<std::string_view> bad_sub{"client", "bogus"};
  EXPECT_EQ(resolve(bad_sub), nullptr);
  const std::vector<std::string_view> get{"get", "help"};  // "help" is a key, not a subcommand
  EXPECT_EQ(resolve(get), lookup("get"));
  const std::vector<std::string_view> unknown{"nosuch", "x"};
  EXPECT_EQ(resolve(unknown), nullptr);
  EXPECT_EQ(resolve({}), nullptr);
}

TEST(CommandTableTest, Arity) {
  const CommandInfo& get = must_lookup("get");  // 2: exactly
  EXPECT_FALSE(arity_ok(get, 1));
  EXPECT_TRUE(arity_ok(get, 2));
  EXPECT_FALSE(arity_ok(get, 3));
  const CommandInfo& set = must_lookup("set");  // -3: at least
  EXPECT_FALSE(arity_ok(set, 2));
  EXPECT_TRUE(arity_ok(set, 3));
  EXPECT_TRUE(arity_ok(set, 9));
  const CommandInfo& command = must_lookup("command");  // -1
  EXPECT_TRUE(arity_ok(command, 1));
  EXPECT_FALSE(arity_ok(command, 0));
  const CommandInfo& multi = must_lookup("multi");  // 1
  EXPECT_TRUE(arity_ok(multi, 1));
  EXPECT_FALSE(arity_ok(multi, 2));
}

TEST(CommandTableTest, KeysOfSingleKeyCommand) {
  EXPECT_THAT(keys_of({"GET", "k"}), ElementsAre(1u));
  EXPECT_THAT(keys_of({"GET"}), IsEmpty());  // malformed: the key is missing
  EXPECT_THAT(keys_of({"PING"}), IsEmpty());
}

TEST(CommandTableTest, KeysOfMsetStepTwo) {
  EXPECT_THAT(keys_of({"MSET", "a", "1", "b", "2", "c", "3"}), ElementsAre(1u, 3u, 5u));
  EXPECT_THAT(keys_of({"MSET", "a", "1", "b"}), ElementsAre(1u, 3u));
}

TEST(CommandTableTest, KeysOfDelNegativeLast) {
  EXPECT_THAT(keys_of({"DEL", "a", "b", "c"}), ElementsAre(1u, 2u, 3u));
  EXPECT_THAT(keys_of({"DEL"}), IsEmpty());
  // BLPOP's last key is -2: the timeout is not a key.
  EXPECT_THAT(keys_of({"BLPOP", "a", "b", "0"}), ElementsAre(1u, 2u));
  EXPECT_THAT(keys_of({"BLPOP"}), IsEmpty());
}

TEST(CommandTableTest, KeysOfEvalNumkeys) {
  EXPECT_THAT(keys_of({"EVAL", "return 1", "2", "a", "b", "arg"}), ElementsAre(3u, 4u));
  EXPECT_THAT(keys_of({"evalsha", "abc", "1", "a"}), ElementsAre(3u));
  EXPECT_THAT(keys_of({"FCALL_RO", "f", "0", "arg"}), IsEmpty());
}

TEST(CommandTableTest, KeysOfMalformedNumkeysStayInBounds) {
  // More keys claimed than arguments present: only the present ones.
  EXPECT_THAT(keys_of({"EVAL", "s", "5", "a", "b"}), ElementsAre(3u, 4u));
  EXPECT_THAT(keys_of({"EVAL", "s", "99999999999999999999999", "a"}), ElementsAre(3u));
  EXPECT_THAT(keys_of({"EVAL", "s"}), IsEmpty());
  EXPECT_THAT(keys_of({"EVAL", "s", "-1", "a"}), IsEmpty());
  EXPECT_THAT(keys_of({"EVAL", "s", "+1", "a"}), IsEmpty());
  EXPECT_THAT(keys_of({"EVAL", "s", "1x", "a"}), IsEmpty());
  EXPECT_THAT(keys_of({"EVAL", "s", "", "a"}), IsEmpty());
  EXPECT_THAT(keys_of({"EVAL", "s", " 1", "a"}), IsEmpty());
  EXPECT_THAT(keys_of({"ZUNION", "3", "a"}), ElementsAre(2u));
  EXPECT_THAT(keys_of({"ZUNION"}), IsEmpty());
  EXPECT_THAT(keys_of({"BLMPOP", "0", "9"}), IsEmpty());
  EXPECT_THAT(keys_of({"ZUNIONSTORE", "dst", "junk", "a"}), ElementsAre(1u));
}

TEST(CommandTableTest, KeysOfZunionstoreAndNumkeysAt1) {
  EXPECT_THAT(keys_of({"ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"}),
              ElementsAre(1u, 3u, 4u));
  EXPECT_THAT(keys_of({"zdiffstore", "dst", "1", "a"}), ElementsAre(1u, 3u));
  EXPECT_THAT(keys_of({"ZINTER", "2", "a", "b", "WITHSCORES"}), ElementsAre(2u, 3u));
  EXPECT_THAT(keys_of({"LMPOP", "2", "a", "b", "LEFT", "COUNT", "3"}), ElementsAre(2u, 3u));
  EXPECT_THAT(keys_of({"SINTERCARD", "1", "a", "LIMIT", "5"}), ElementsAre(2u));
}

TEST(CommandTableTest, KeysOfXreadStreams) {
  EXPECT_THAT(keys_of({"XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "0", "$"}),
              ElementsAre(6u, 7u));
  EXPECT_THAT(keys_of({"xread", "streams", "a", "0"}), ElementsAre(2u));
  // A group and consumer named like the keyword are skipped as option arguments.
  EXPECT_THAT(keys_of({"XREADGROUP", "GROUP", "streams", "streams", "NOACK", "STREAMS", "s", ">"}),
              ElementsAre(6u));
  EXPECT_THAT(keys_of({"XREAD", "STREAMS", "a", "b", "0"}), IsEmpty());  // odd tail
  EXPECT_THAT(keys_of({"XREAD", "STREAMS"}), IsEmpty());
  EXPECT_THAT(keys_of({"XREAD", "COUNT"}), IsEmpty());
  EXPECT_THAT(keys_of({"XREAD", "BOGUS", "STREAMS", "a", "0"}), IsEmpty());
}

TEST(CommandTableTest, KeysOfSortStore) {
  EXPECT_THAT(keys_of({"SORT", "k"}), ElementsAre(1u));
  EXPECT_THAT(keys_of({"SORT", "k", "BY", "w_*", "LIMIT", "0", "5", "GET", "#", "STORE", "d"}),
              ElementsAre(1u, 10u));
  EXPECT_THAT(keys_of({"SORT", "k", "STORE", "a", "STORE", "b"}), ElementsAre(1u, 5u));
  // "store" as a BY/GET pattern is not the keyword.
  EXPECT_THAT(keys_of({"SORT", "k", "GET", "store", "ALPHA"}), ElementsAre(1u));
  EXPECT_THAT(keys_of({"SORT", "k", "STORE"}), ElementsAre(1u));
  EXPECT_THAT(keys_of({"SORT_RO", "k", "STORE", "d"}), ElementsAre(1u));
}

TEST(CommandTableTest, KeysOfMigrate) {
  EXPECT_THAT(keys_of({"MIGRATE", "h", "6379", "k", "0", "5000"}), ElementsAre(3u));
  EXPECT_THAT(keys_of({"MIGRATE", "h", "6379", "", "0", "5000", "COPY", "KEYS", "a", "b"}),
              ElementsAre(8u, 9u));
  // A password spelled "keys" is an AUTH argument, not the keyword.
  EXPECT_THAT(keys_of({"MIGRATE", "h", "6379", "", "0", "5000", "AUTH2", "u", "keys", "KEYS", "a"}),
              ElementsAre(10u));
  EXPECT_THAT(keys_of({"MIGRATE", "h", "6379", "", "0", "5000"}), ElementsAre(3u));
  EXPECT_THAT(keys_of({"MIGRATE", "h", "6379"}), IsEmpty());
}

TEST(CommandTableTest, KeysOfBlmpop) {
  EXPECT_THAT(keys_of({"BLMPOP", "0.5", "2", "a", "b", "LEFT"}), ElementsAre(3u, 4u));
  EXPECT_THAT(keys_of({"BZMPOP", "0", "1", "z", "MIN"}), ElementsAre(3u));
}

TEST(CommandTableTest, KeysOfGeoradiusStore) {
  EXPECT_THAT(keys_of({"GEORADIUS", "k", "1", "2", "3", "km", "STORE", "d"}), ElementsAre(1u, 7u));
  EXPECT_THAT(keys_of({"GEORADIUSBYMEMBER", "k", "m", "3", "km", "STOREDIST", "d"}),
              ElementsAre(1u, 6u));
  EXPECT_THAT(keys_of({"GEORADIUS", "k", "1", "2", "3", "km", "STORE", "a", "STOREDIST", "b"}),
              ElementsAre(1u, 7u, 9u));
  EXPECT_THAT(keys_of({"GEORADIUS", "k", "1", "2", "3", "km", "WITHDIST"}), ElementsAre(1u));
  EXPECT_THAT(keys_of({"GEORADIUS", "k", "1", "2", "3", "km", "STORE"}), ElementsAre(1u));
}

TEST(CommandTableTest, KeysOfSubcommandsCountFromTheContainerName) {
  EXPECT_THAT(keys_of({"OBJECT", "FREQ", "k"}), ElementsAre(2u));
  EXPECT_THAT(keys_of({"XINFO", "STREAM", "s", "FULL"}), ElementsAre(2u));
  EXPECT_THAT(keys_of({"OBJECT"}), IsEmpty());
  EXPECT_THAT(keys_of({"OBJECT", "nosuch", "k"}), IsEmpty());
}

TEST(CommandTableTest, KeyIndexesAppend) {
  const std::vector<std::string_view> args{"get", "k"};
  std::vector<std::uint32_t> out{42};
  key_indexes(must_lookup("get"), args, out);
  EXPECT_THAT(out, ElementsAre(42u, 1u));
}

TEST(CommandTableTest, FlagsOfWellKnownCommands) {
  const CommandInfo& multi = must_lookup("multi");
  EXPECT_TRUE(multi.has(kTransaction));
  EXPECT_TRUE(multi.has(kNoKey));
  EXPECT_FALSE(multi.has(kWrite));
  EXPECT_TRUE(must_lookup("exec").has(kTransaction));
  EXPECT_TRUE(must_lookup("watch").has(kTransaction));
  EXPECT_FALSE(must_lookup("watch").has(kNoKey));

  const CommandInfo& subscribe = must_lookup("subscribe");
  EXPECT_TRUE(subscribe.has(kPubsub));
  EXPECT_TRUE(subscribe.has(kNoScript));
  EXPECT_FALSE(subscribe.has(kWrite));

  const CommandInfo& blpop = must_lookup("blpop");
  EXPECT_TRUE(blpop.has(kBlocking));
  EXPECT_TRUE(blpop.has(kWrite));
  EXPECT_TRUE(must_lookup("wait").has(kBlocking));
  EXPECT_FALSE(must_lookup("lpop").has(kBlocking));

  const CommandInfo& select = must_lookup("select");
  EXPECT_TRUE(select.has(kConnectionState));
  EXPECT_TRUE(select.has(kNoKey));
  EXPECT_FALSE(must_lookup("ping").has(kConnectionState));

  const CommandInfo& get = must_lookup("get");
  EXPECT_TRUE(get.has(kReadonly));
  EXPECT_TRUE(get.has(kFast));
  EXPECT_FALSE(get.has(kWrite));
  EXPECT_FALSE(get.has(kNoKey));
  EXPECT_FALSE(get.has(kNonDeterministicOutput));
  EXPECT_EQ(get.first_key, 1);
  EXPECT_EQ(get.last_key, 1);
  EXPECT_EQ(get.step, 1);

  const CommandInfo& set = must_lookup("set");
  EXPECT_TRUE(set.has(kWrite));
  EXPECT_TRUE(set.has(kDenyOom));
  EXPECT_FALSE(set.has(kReadonly));

  const CommandInfo& keys = must_lookup("keys");
  EXPECT_TRUE(keys.has(kReadonly));
  EXPECT_TRUE(keys.has(kNoKey));
  EXPECT_FALSE(keys.has(kFast));

  const CommandInfo& flushall = must_lookup("flushall");
  EXPECT_TRUE(flushall.has(kWrite));
  EXPECT_TRUE(flushall.has(kNoKey));
}

TEST(CommandTableTest, DerivedFlags) {
  EXPECT_TRUE(must_lookup("eval").has(kScripting));
  EXPECT_TRUE(must_lookup("eval").has(kMovableKeys));
  EXPECT_FALSE(must_lookup("eval").has(kNoKey));
  EXPECT_TRUE(must_lookup("fcall_ro").has(kScripting));
  EXPECT_TRUE(must_lookup("function").has(kScripting));
  EXPECT_FALSE(must_lookup("get").has(kScripting));
  EXPECT_TRUE(must_lookup("randomkey").has(kNonDeterministicOutput));
  EXPECT_TRUE(must_lookup("scan").has(kNonDeterministicOutput));
  EXPECT_TRUE(must_lookup("ttl").has(kNonDeterministicOutput));
  EXPECT_FALSE(must_lookup("smembers").has(kNonDeterministicOutput));  // only the order varies
  EXPECT_TRUE(must_lookup("hello").has(kConnectionState));
  EXPECT_TRUE(must_lookup("monitor").has(kConnectionState));
  // A container whose subcommands take keys is not "no key".
  EXPECT_FALSE(must_lookup("object").has(kNoKey));
  EXPECT_TRUE(must_lookup("client").has(kNoKey));
  EXPECT_EQ(must_lookup("xread").special, KeySpecial::Streams);
  EXPECT_EQ(must_lookup("sort_ro").special, KeySpecial::None);
  EXPECT_EQ(must_lookup("blmpop").special, KeySpecial::NumkeysAt3Block);
}

TEST(CommandTableTest, EveryMovableCommandButSortRoHasASpecial) {
  for (const CommandInfo& c : all_commands()) {
    if (c.has(kMovableKeys) && c.name != "sort_ro") {
      EXPECT_NE(c.special, KeySpecial::None) << c.name;
    }
    if (!c.has(kMovableKeys)) {
      EXPECT_EQ(c.special, KeySpecial::None) << c.name;
    }
  }
}

TEST(CommandTableTest, FlagNames) {
  EXPECT_EQ(flag_name(kWrite), "write");
  EXPECT_EQ(flag_name(kNoAuth), "no_auth");
  EXPECT_EQ(flag_name(kConnectionState), "connection_state");
  EXPECT_EQ(flag_name(kAllowBusy), "allow_busy");
  EXPECT_EQ(flag_name(static_cast<Flag>(kWrite | kReadonly)), "");
  for (std::uint32_t bit = 0; bit <= 24; ++bit) {
    EXPECT_FALSE(flag_name(static_cast<Flag>(1u << bit)).empty()) << bit;
  }
}

}  // namespace
}  // namespace seawall::command
