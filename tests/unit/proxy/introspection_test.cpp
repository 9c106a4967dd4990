#include "seawall/proxy/introspection.hpp"

#include <array>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::proxy::introspection {
namespace {

using ::testing::ElementsAre;

template <std::size_t N>
std::vector<std::string_view> args(const std::array<std::string_view, N>& a) {
  return {a.begin(), a.end()};
}

bool any_user(std::string_view) { return true; }

ClientView sample_client() {
  ClientView c;
  c.id = 7;
  c.addr = "127.0.0.1:50000";
  c.laddr = "127.0.0.1:6380";
  c.fd = 12;
  c.name = "worker-1";
  c.age_seconds = 42;
  c.idle_seconds = 3;
  c.db = 0;
  c.cmd = "client|info";
  c.lib_name = "redis-py";
  c.lib_ver = "5.0.1";
  c.qbuf = 26;
  c.qbuf_free = 16358;
  c.argv_mem = 10;
  return c;
}

// ---- the client line ----------------------------------------------------------------------------

TEST(IntrospectionTest, ClientLineHasRedis70FieldsThenLibraryFields) {
  std::string line;
  append_client_line(line, sample_client());
  EXPECT_EQ(line,
            "id=7 addr=127.0.0.1:50000 laddr=127.0.0.1:6380 fd=12 name=worker-1 age=42 idle=3 "
            "flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=16358 argv-mem=10 "
            "multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info "
            "user=default redir=-1 resp=2 lib-name=redis-py lib-ver=5.0.1");
}

TEST(IntrospectionTest, ClientLineShowsStateFlagsInRedisOrder) {
  ClientView c = sample_client();
  c.flags = kFlagMulti | kFlagPubsub | kFlagTracking;
  c.multi = 2;
  c.db = 3;
  c.resp = Protocol::Resp3;
  c.cmd = "";
  c.name.clear();
  std::string line;
  append_client_line(line, c);
  EXPECT_THAT(line, ::testing::HasSubstr(" name= age="));
  EXPECT_THAT(line, ::testing::HasSubstr(" flags=Pxt db=3 "));
  EXPECT_THAT(line, ::testing::HasSubstr(" multi=2 "));
  EXPECT_THAT(line, ::testing::HasSubstr(" cmd=NULL "));
  EXPECT_THAT(line, ::testing::HasSubstr(" redir=0 resp=3 "));
  c.flags = kFlagMonitor | kFlagReplica;
  line.clear();
  append_client_line(line, c);
  EXPECT_THAT(line, ::testing::HasSubstr(" flags=O "));
}

TEST(IntrospectionTest, TypeFollowsRedis) {
  ClientView c;
  EXPECT_EQ(type_of(c), ClientType::Normal);
  c.flags = kFlagPubsub;
  EXPECT_EQ(type_of(c), ClientType::Pubsub);
  c.flags = kFlagReplica;
  EXPECT_EQ(type_of(c), ClientType::Replica);
  c.flags = kFlagReplica | kFlagMonitor;  // MONITOR counts as a normal client
  EXPECT_EQ(type_of(c), ClientType::Normal);
  EXPECT_EQ(parse_client_type("NORMAL"), ClientType::Normal);
  EXPECT_EQ(parse_client_type("slave"), ClientType::Replica);
  EXPECT_EQ(parse_client_type("Replica"), ClientType::Replica);
  EXPECT_EQ(parse_client_type("pubsub"), ClientType::Pubsub);
  EXPECT_EQ(parse_client_type("master"), ClientType::Master);
  EXPECT_EQ(parse_client_type("other"), std::nullopt);
}

TEST(IntrospectionTest, AddressesAreFormattedLikeRedis) {
  EXPECT_EQ(format_address("127.0.0.1", 6380), "127.0.0.1:6380");
  EXPECT_EQ(format_address("::1", 6380), "[::1]:6380");
}

TEST(IntrospectionTest, ClientAttributesMustBePrintableWithoutSpaces) {
  EXPECT_TRUE(valid_client_attribute("redis-py"));
  EXPECT_TRUE(valid_client_attribute(""));
  EXPECT_TRUE(valid_client_attribute("a!~z"));
  EXPECT_FALSE(valid_client_attribute("two words"));
  EXPECT_FALSE(valid_client_attribute("line\n"));
  EXPECT_FALSE(valid_client_attribute("\x7f"));
  EXPECT_FALSE(valid_client_attribute("caf\xc3\xa9"));
}

TEST(IntrospectionTest, TextRepliesAreBulkInResp2AndVerbatimInResp3) {
  std::string out;
  append_text_reply(out, "id=1\n", Protocol::Resp2);
  EXPECT_EQ(out, "$5\r\nid=1\n\r\n");
  out.clear();
  append_text_reply(out, "id=1\n", Protocol::Resp3);
  EXPECT_EQ(out, "=9\r\ntxt:id=1\n\r\n");
  out.clear();
  append_text_reply(out, "", Protocol::Resp2);
  EXPECT_EQ(out, "$0\r\n\r\n");
}

// ---- CLIENT LIST --------------------------------------------------------------------------------

TEST(IntrospectionTest, ClientListWithoutOptionsListsEveryone) {
  const auto parsed = parse_client_list(args<2>({"CLIENT", "LIST"}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed.value.by_id);
  EXPECT_TRUE(parsed.value.matches(ClientView{}));
}

TEST(IntrospectionTest, ClientListTypeFilters) {
  const auto parsed = parse_client_list(args<4>({"client", "list", "TYPE", "pubsub"}));
  ASSERT_TRUE(parsed.ok());
  ClientView c;
  EXPECT_FALSE(parsed.value.matches(c));
  c.flags = kFlagPubsub;
  EXPECT_TRUE(parsed.value.matches(c));
  EXPECT_EQ(parse_client_list(args<4>({"client", "list", "type", "bogus"})).error,
            "-ERR Unknown client type 'bogus'\r\n");
}

TEST(IntrospectionTest, ClientListIdsKeepTheirOrder) {
  const auto parsed = parse_client_list(args<6>({"client", "list", "id", "9", "3", "-1"}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed.value.by_id);
  EXPECT_THAT(parsed.value.ids, ElementsAre(9u, 3u, static_cast<std::uint64_t>(-1)));
}

TEST(IntrospectionTest, ClientListRejectsWhatRedisRejects) {
  EXPECT_EQ(parse_client_list(args<4>({"client", "list", "id", "x"})).error,
            "-ERR Invalid client ID\r\n");
  EXPECT_EQ(parse_client_list(args<4>({"client", "list", "id", "01"})).error,
            "-ERR Invalid client ID\r\n");
  EXPECT_EQ(parse_client_list(args<4>({"client", "list", "id", "99999999999999999999"})).error,
            "-ERR Invalid client ID\r\n");
  EXPECT_EQ(parse_client_list(args<3>({"client", "list", "id"})).error, "-ERR syntax error\r\n");
  EXPECT_EQ(parse_client_list(args<3>({"client", "list", "type"})).error, "-ERR syntax error\r\n");
  EXPECT_EQ(parse_client_list(args<6>({"client", "list", "type", "normal", "id", "1"})).error,
            "-ERR syntax error\r\n");
  EXPECT_EQ(parse_client_list(args<4>({"client", "list", "foo", "bar"})).error,
            "-ERR syntax error\r\n");
}

// ---- CLIENT KILL --------------------------------------------------------------------------------

TEST(IntrospectionTest, KillOldFormMatchesTheAddressAndMayKillItself) {
  const auto parsed = parse_client_kill(args<3>({"client", "kill", "127.0.0.1:50000"}), any_user);
  ASSERT_TRUE(parsed.ok());
  const KillFilter& f = parsed.value;
  EXPECT_TRUE(f.old_form);
  EXPECT_FALSE(f.skipme);
  ClientView c = sample_client();
  EXPECT_TRUE(f.matches(c, false));
  EXPECT_TRUE(f.matches(c, true));
  c.addr = "127.0.0.1:50001";
  EXPECT_FALSE(f.matches(c, false));
  EXPECT_EQ(kill_reply(f, 0), "-ERR No such client\r\n");
  EXPECT_EQ(kill_reply(f, 1), "+OK\r\n");
}

TEST(IntrospectionTest, KillNewFormCombinesOptionsAndSkipsTheCaller) {
  const auto parsed = parse_client_kill(
      args<6>({"client", "kill", "ID", "7", "laddr", "127.0.0.1:6380"}), any_user);
  ASSERT_TRUE(parsed.ok());
  const KillFilter& f = parsed.value;
  EXPECT_FALSE(f.old_form);
  EXPECT_TRUE(f.skipme);
  ClientView c = sample_client();
  EXPECT_TRUE(f.matches(c, false));
  EXPECT_FALSE(f.matches(c, true));  // SKIPME yes is the default
  c.id = 8;
  EXPECT_FALSE(f.matches(c, false));
  EXPECT_EQ(kill_reply(f, 0), ":0\r\n");
  EXPECT_EQ(kill_reply(f, 2), ":2\r\n");
}

TEST(IntrospectionTest, KillSkipmeNoIncludesTheCaller) {
  const auto parsed =
      parse_client_kill(args<6>({"client", "kill", "type", "normal", "skipme", "NO"}), any_user);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed.value.matches(sample_client(), true));
  ClientView subscriber = sample_client();
  subscriber.flags = kFlagPubsub;
  EXPECT_FALSE(parsed.value.matches(subscriber, false));
}

TEST(IntrospectionTest, KillUserMustExistAndMatches) {
  auto only_app = [](std::string_view user) { return user == "app"; };
  EXPECT_EQ(parse_client_kill(args<4>({"client", "kill", "user", "nobody"}), only_app).error,
            "-ERR No such user 'nobody'\r\n");
  const auto parsed = parse_client_kill(args<4>({"client", "kill", "user", "app"}), only_app);
  ASSERT_TRUE(parsed.ok());
  ClientView c = sample_client();
  EXPECT_FALSE(parsed.value.matches(c, false));
  c.user = "app";
  EXPECT_TRUE(parsed.value.matches(c, false));
}

TEST(IntrospectionTest, KillRejectsWhatRedisRejects) {
  const std::string syntax = "-ERR syntax error\r\n";
  EXPECT_EQ(parse_client_kill(args<2>({"client", "kill"}), any_user).error, syntax);
  EXPECT_EQ(parse_client_kill(args<5>({"client", "kill", "id", "1", "skipme"}), any_user).error,
            syntax);
  EXPECT_EQ(parse_client_kill(args<4>({"client", "kill", "bogus", "1"}), any_user).error, syntax);
  EXPECT_EQ(parse_client_kill(args<4>({"client", "kill", "skipme", "maybe"}), any_user).error,
            syntax);
  const std::string not_positive = "-ERR client-id should be greater than 0\r\n";
  EXPECT_EQ(parse_client_kill(args<4>({"client", "kill", "id", "0"}), any_user).error,
            not_positive);
  EXPECT_EQ(parse_client_kill(args<4>({"client", "kill", "id", "-3"}), any_user).error,
            not_positive);
  EXPECT_EQ(parse_client_kill(args<4>({"client", "kill", "id", "abc"}), any_user).error,
            not_positive);
  EXPECT_EQ(parse_client_kill(args<4>({"client", "kill", "type", "boss"}), any_user).error,
            "-ERR Unknown client type 'boss'\r\n");
  // The first bad option decides, as Redis parses them in order.
  EXPECT_EQ(
      parse_client_kill(args<6>({"client", "kill", "type", "boss", "id", "0"}), any_user).error,
      "-ERR Unknown client type 'boss'\r\n");
}

// ---- INFO ---------------------------------------------------------------------------------------

InfoData sample_info() {
  InfoData d;
  d.version = "0.1.0";
  d.process_id = 1234;
  d.tcp_port = 6380;
  d.uptime_seconds = 90000;
  d.threads = 2;
  d.config_file = "/etc/seawall.yaml";
  d.connected_clients = 3;
  d.maxclients = 10000;
  d.pinned_clients = 1;
  d.max_pinned = 1024;
  d.clients_per_thread = {2, 1};
  d.total_connections_received = 5;
  d.total_commands_processed = 99;
  d.answers = {{"upstream", 90}, {"l1_stale", 2}};
  d.upstreams = {{"main", "127.0.0.1:6379", "closed"}, {"spare", "[::1]:6379", "open"}};
  return d;
}

TEST(IntrospectionTest, InfoWithoutArgumentsHasEverySectionInRedisFormat) {
  EXPECT_EQ(render_info(sample_info(), parse_info_sections({})),
            "# Server\r\n"
            "seawall_version:0.1.0\r\n"
            "process_id:1234\r\n"
            "tcp_port:6380\r\n"
            "uptime_in_seconds:90000\r\n"
            "uptime_in_days:1\r\n"
            "threads:2\r\n"
            "config_file:/etc/seawall.yaml\r\n"
            "\r\n"
            "# Clients\r\n"
            "connected_clients:3\r\n"
            "maxclients:10000\r\n"
            "pinned_clients:1\r\n"
            "max_pinned:1024\r\n"
            "clients_per_thread:2,1\r\n"
            "\r\n"
            "# Stats\r\n"
            "total_connections_received:5\r\n"
            "total_commands_processed:99\r\n"
            "answers_upstream:90\r\n"
            "answers_l1_stale:2\r\n"
            "\r\n"
            "# Upstreams\r\n"
            "upstream0:name=main,address=127.0.0.1:6379,breaker=closed\r\n"
            "upstream1:name=spare,address=[::1]:6379,breaker=open\r\n");
}

TEST(IntrospectionTest, InfoSectionsFilterCaseInsensitively) {
  const std::array<std::string_view, 2> names{"STATS", "clients"};
  const InfoSections s = parse_info_sections(names);
  EXPECT_FALSE(s.server);
  EXPECT_TRUE(s.clients);
  EXPECT_TRUE(s.stats);
  EXPECT_FALSE(s.upstreams);
  const std::string text = render_info(sample_info(), s);
  // Sections come in their fixed order, whatever the order asked.
  EXPECT_EQ(text.find("# Clients\r\n"), 0u);
  EXPECT_NE(text.find("\r\n\r\n# Stats\r\n"), std::string::npos);
  EXPECT_EQ(text.find("# Server"), std::string::npos);
}

TEST(IntrospectionTest, InfoUnknownSectionIsEmptyAndAllMeansEverything) {
  const std::array<std::string_view, 1> unknown{"keyspace"};
  EXPECT_EQ(render_info(sample_info(), parse_info_sections(unknown)), "");
  for (std::string_view all : {"default", "ALL", "everything"}) {
    const std::array<std::string_view, 1> names{all};
    const InfoSections s = parse_info_sections(names);
    EXPECT_TRUE(s.server && s.clients && s.stats && s.upstreams && s.seawall) << all;
  }
}

TEST(IntrospectionTest, MergedInfoKeepsRedisSectionsWithSeawallsClientCount) {
  const std::string redis =
      "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:4\r\n"
      "blocked_clients:0\r\n";
  const std::array<std::string_view, 1> clients{"clients"};
  EXPECT_EQ(merge_info(redis, sample_info(), parse_info_sections(clients)),
            "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\n"
            "blocked_clients:0\r\n");
  const std::string all = merge_info(redis, sample_info(), parse_info_sections({}));
  EXPECT_EQ(all.find("# Server\r\nredis_version:7.0.15\r\n"), 0u);
  EXPECT_NE(all.find("blocked_clients:0\r\n\r\n# Seawall\r\nseawall_version:0.1.0\r\n"),
            std::string::npos);
  EXPECT_NE(all.find("answers_l1_stale:2\r\n"), std::string::npos);
  EXPECT_NE(all.find("upstream1:name=spare,address=[::1]:6379,breaker=open\r\n"),
            std::string::npos);
  // INFO seawall: Redis gives nothing for a section it does not know.
  const std::array<std::string_view, 1> seawall{"Seawall"};
  EXPECT_EQ(merge_info("", sample_info(), parse_info_sections(seawall)).find("# Seawall\r\n"), 0u);
  // Without Redis, seawall's own sections stand for `seawall`.
  EXPECT_EQ(render_info(sample_info(), parse_info_sections(seawall)),
            render_info(sample_info(), parse_info_sections({})));
}

TEST(IntrospectionTest, TextReplyBodyReadsBulkAndVerbatimStrings) {
  EXPECT_EQ(text_reply_body("$5\r\nab\r\nc\r\n"), "ab\r\nc");
  EXPECT_EQ(text_reply_body("=9\r\ntxt:ab\r\nc\r\n"), "ab\r\nc");
  EXPECT_EQ(text_reply_body("$0\r\n\r\n"), "");
  EXPECT_EQ(text_reply_body("-ERR x\r\n"), std::nullopt);
  EXPECT_EQ(text_reply_body("$9\r\nshort\r\n"), std::nullopt);
  EXPECT_EQ(text_reply_body("$-1\r\n"), std::nullopt);
}

TEST(SubscriptionReplyTest, ReadsKindAndCountOfEachConfirmation) {
  using Kind = SubscriptionReply::Kind;
  struct Case {
    std::string_view reply;
    Kind kind;
    std::int64_t count;
  };
  const Case cases[] = {
      {"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", Kind::Channel, 1},
      {"*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n", Kind::Channel, 0},
      {"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n", Kind::Channel, 0},  // nothing subscribed
      {"*3\r\n$10\r\npsubscribe\r\n$3\r\nn.*\r\n:12\r\n", Kind::Pattern, 12},
      {"*3\r\n$12\r\npunsubscribe\r\n$3\r\nn.*\r\n:11\r\n", Kind::Pattern, 11},
      {"*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n", Kind::Shard, 1},
      {"*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n", Kind::Shard, 0},
      {">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:2\r\n", Kind::Channel, 2},  // RESP3 push
      {">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n", Kind::Channel, 0},
      // A channel name holding CRLF and digits is read by its length.
      {"*3\r\n$9\r\nSUBSCRIBE\r\n$4\r\na\r\n1\r\n:3\r\n", Kind::Channel, 3},
  };
  for (const Case& c : cases) {
    const std::optional<SubscriptionReply> parsed = parse_subscription_reply(c.reply);
    ASSERT_TRUE(parsed.has_value()) << c.reply;
    EXPECT_EQ(parsed->kind, c.kind) << c.reply;
    EXPECT_EQ(parsed->count, c.count) << c.reply;
  }
}

TEST(SubscriptionReplyTest, IgnoresMessagesAndOtherReplies) {
  for (std::string_view reply : {
           "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
           "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$2\r\nch\r\n$2\r\nhi\r\n",
           "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",           // an EXEC or LRANGE result
           "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n$1\r\n1\r\n",  // count not an integer
           "*3\r\n$9\r\nsubscribe\r\n$20\r\nch\r\n:1\r\n",      // truncated
           "*2\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n",
           "+OK\r\n",
           "",
       }) {
    EXPECT_FALSE(parse_subscription_reply(reply).has_value()) << reply;
  }
}

}  // namespace
}  // namespace seawall::proxy::introspection
