#include "seawall/upstream/sentinel_replies.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/upstream/master_resolver.hpp"

namespace seawall::upstream {
namespace {

TEST(SentinelRepliesTest, GetMasterAddrCommandIsEncoded) {
  EXPECT_EQ(get_master_addr_command("mymaster"),
            "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n");
}

TEST(SentinelRepliesTest, SubscribeCommandNamesTheFailoverChannels) {
  EXPECT_EQ(subscribe_command(),
            "*4\r\n$9\r\nSUBSCRIBE\r\n$14\r\n+switch-master\r\n$15\r\n+selected-slave\r\n"
            "$29\r\n-failover-abort-slave-timeout\r\n");
}

TEST(SentinelRepliesTest, MasterAddressAtEverySplitPoint) {
  const std::string reply = "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n";
  for (std::size_t n = 0; n < reply.size(); ++n) {
    EXPECT_EQ(parse_master_addr_reply(reply.substr(0, n)).status, ParseStatus::NeedMore) << n;
  }
  const MasterAddrReply r = parse_master_addr_reply(reply);
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.length, reply.size());
  ASSERT_TRUE(r.master);
  EXPECT_EQ(*r.master, (HostPort{"127.0.0.1", 6380}));
}

TEST(SentinelRepliesTest, UnknownMasterIsNil) {
  for (const std::string reply : {"*-1\r\n", "$-1\r\n", "_\r\n"}) {
    const MasterAddrReply r = parse_master_addr_reply(reply);
    EXPECT_EQ(r.status, ParseStatus::Ok) << reply;
    EXPECT_FALSE(r.master) << reply;
  }
}

TEST(SentinelRepliesTest, ErrorReplyIsKept) {
  const MasterAddrReply r = parse_master_addr_reply("-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(r.status, ParseStatus::Ok);
  EXPECT_FALSE(r.master);
  EXPECT_EQ(r.error, "NOAUTH Authentication required.");
}

TEST(SentinelRepliesTest, MalformedAddressesAreInvalid) {
  EXPECT_EQ(parse_master_addr_reply("*1\r\n$9\r\n127.0.0.1\r\n").status, ParseStatus::Invalid);
  EXPECT_EQ(parse_master_addr_reply("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n").status,
            ParseStatus::Invalid);
  EXPECT_EQ(parse_master_addr_reply("*2\r\n$0\r\n\r\n$4\r\n6379\r\n").status, ParseStatus::Invalid);
  EXPECT_EQ(parse_master_addr_reply("+OK\r\n").status, ParseStatus::Invalid);
  EXPECT_EQ(parse_master_addr_reply("x\r\n").status, ParseStatus::Invalid);
}

TEST(SentinelRepliesTest, RoleOfAMaster) {
  const std::string reply =
      "*3\r\n$6\r\nmaster\r\n:3129659\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n$7\r\n"
      "3129242\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9002\r\n$7\r\n3129543\r\n";
  for (std::size_t n = 0; n < reply.size(); ++n) {
    EXPECT_EQ(parse_role_reply(reply.substr(0, n)).status, ParseStatus::NeedMore) << n;
  }
  const RoleReply r = parse_role_reply(reply);
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.length, reply.size());
  EXPECT_EQ(r.role, "master");
}

TEST(SentinelRepliesTest, RoleOfAReplica) {
  const RoleReply r = parse_role_reply(
      "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9000\r\n$9\r\nconnected\r\n:3167038\r\n");
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.role, "slave");
  EXPECT_EQ(r.link, "connected");
  // A replica that has not synced with its master yet (it would answer reads from nothing).
  EXPECT_EQ(parse_role_reply("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9000\r\n$4\r\nsync\r\n"
                             ":-1\r\n")
                .link,
            "sync");
  EXPECT_EQ(parse_role_reply("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n").link, "");
}

TEST(SentinelRepliesTest, RoleErrorIsNoRole) {
  const RoleReply r = parse_role_reply("-NOPERM this user has no permissions\r\n");
  EXPECT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.role, "");
  EXPECT_EQ(parse_role_reply("*0\r\n").status, ParseStatus::Invalid);
  EXPECT_EQ(parse_role_reply(":1\r\n").status, ParseStatus::Invalid);
}

TEST(SentinelRepliesTest, PubSubMessageAndSubscribeConfirmation) {
  const std::string confirm = "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n";
  const std::string message =
      "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$38\r\nmymaster 127.0.0.1 6379 "
      "127.0.0.1 6380\r\n";
  const std::string both = confirm + message;
  PubSubFrame f = parse_pubsub_frame(both);
  ASSERT_EQ(f.status, ParseStatus::Ok);
  EXPECT_EQ(f.length, confirm.size());
  EXPECT_EQ(f.elements, (std::vector<std::string>{"subscribe", "+switch-master", "1"}));
  f = parse_pubsub_frame(std::string_view(both).substr(confirm.size()));
  ASSERT_EQ(f.status, ParseStatus::Ok);
  EXPECT_EQ(f.elements, (std::vector<std::string>{"message", "+switch-master",
                                                  "mymaster 127.0.0.1 6379 127.0.0.1 6380"}));
  EXPECT_EQ(parse_pubsub_frame(message.substr(0, 20)).status, ParseStatus::NeedMore);
  // RESP3 push.
  f = parse_pubsub_frame(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n");
  ASSERT_EQ(f.status, ParseStatus::Ok);
  EXPECT_EQ(f.elements, (std::vector<std::string>{"message", "c", "p"}));
  EXPECT_EQ(parse_pubsub_frame("+OK\r\n").status, ParseStatus::Invalid);
}

TEST(SentinelRepliesTest, SwitchMasterEvent) {
  const auto e = parse_failover_event("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, FailoverEventKind::SwitchMaster);
  EXPECT_EQ(e->master, "mymaster");
  EXPECT_EQ(e->from, (HostPort{"127.0.0.1", 6379}));
  EXPECT_EQ(e->to, (HostPort{"127.0.0.1", 6380}));
  EXPECT_FALSE(parse_failover_event("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1"));
  EXPECT_FALSE(parse_failover_event("+switch-master", "mymaster 127.0.0.1 x 127.0.0.1 6380"));
}

TEST(SentinelRepliesTest, SelectedSlaveAndAbortEvents) {
  auto e = parse_failover_event("+selected-slave",
                                "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, FailoverEventKind::SelectedSlave);
  EXPECT_EQ(e->master, "mymaster");
  EXPECT_EQ(e->from, (HostPort{"127.0.0.1", 6379}));
  EXPECT_EQ(e->to, (HostPort{"127.0.0.1", 6380}));
  e = parse_failover_event("-failover-abort-slave-timeout", "master mymaster 127.0.0.1 6379");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, FailoverEventKind::Aborted);
  EXPECT_EQ(e->from, (HostPort{"127.0.0.1", 6379}));
  EXPECT_FALSE(parse_failover_event("+sdown", "master mymaster 127.0.0.1 6379"));
  EXPECT_FALSE(parse_failover_event("+selected-slave", "slave 127.0.0.1:6380"));
}

TEST(SentinelRepliesTest, HostPortText) {
  EXPECT_EQ((HostPort{"127.0.0.1", 6379}).to_string(), "127.0.0.1:6379");
  EXPECT_EQ((HostPort{"::1", 6379}).to_string(), "[::1]:6379");
}

TEST(SentinelRepliesTest, NotMasterRepliesAreClassified) {
  EXPECT_TRUE(breaker::classify_not_master_reply(
      "-READONLY You can't write against a read only replica.\r\n"));
  EXPECT_TRUE(breaker::classify_not_master_reply(
      "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"));
  EXPECT_FALSE(breaker::classify_not_master_reply("-READONLYX nope\r\n"));
  EXPECT_FALSE(breaker::classify_not_master_reply("-ERR wrong\r\n"));
  EXPECT_FALSE(breaker::classify_not_master_reply("+READONLY\r\n"));
  // READONLY is not a breaker failure by itself (a fixed-address upstream relays it).
  EXPECT_FALSE(breaker::classify_error_reply("-READONLY You can't write\r\n"));
}

// The subscriber's logic, fed the messages a failover publishes.
class MasterResolverEventsTest : public ::testing::Test {
 protected:
  using Clock = MasterResolver::Clock;
  static SentinelConfig config() {
    SentinelConfig c;
    c.sentinels = {SentinelAddress{"127.0.0.1", 26379}};
    c.master = "mymaster";
    return c;
  }
  std::shared_ptr<MasterResolver> resolver_ =
      std::make_shared<MasterResolver>("main", config(), std::chrono::milliseconds(100));
  Clock::time_point t0_ = Clock::now();
};

TEST_F(MasterResolverEventsTest, SelectedSlaveHoldsUntilSwitchMaster) {
  EXPECT_TRUE(resolver_->on_message(
      "+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379", t0_));
  EXPECT_TRUE(resolver_->failover_in_progress());
  EXPECT_FALSE(resolver_->current());
  // A second report of the same step changes nothing.
  EXPECT_FALSE(resolver_->on_message(
      "+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379", t0_));
  EXPECT_TRUE(resolver_->on_message("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380",
                                    t0_ + std::chrono::seconds(1)));
  EXPECT_FALSE(resolver_->failover_in_progress());
  EXPECT_EQ(resolver_->current(), (HostPort{"127.0.0.1", 6380}));
  EXPECT_EQ(resolver_->switches(), 1u);
  // The other sentinels' reports of the same switch change nothing.
  EXPECT_FALSE(resolver_->on_message("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380",
                                     t0_ + std::chrono::seconds(3)));
  EXPECT_EQ(resolver_->switches(), 1u);
}

TEST_F(MasterResolverEventsTest, AbortEndsTheHold) {
  EXPECT_TRUE(resolver_->on_message(
      "+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379", t0_));
  EXPECT_TRUE(resolver_->on_message("-failover-abort-slave-timeout",
                                    "master mymaster 127.0.0.1 6379", t0_));
  EXPECT_FALSE(resolver_->failover_in_progress());
  EXPECT_EQ(resolver_->switches(), 0u);
}

TEST_F(MasterResolverEventsTest, OtherMastersAreIgnored) {
  EXPECT_FALSE(resolver_->on_message("+switch-master", "other 127.0.0.1 6379 127.0.0.1 6380", t0_));
  EXPECT_FALSE(resolver_->on_message(
      "+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ other 127.0.0.1 6379", t0_));
  EXPECT_FALSE(resolver_->failover_in_progress());
  EXPECT_FALSE(resolver_->current());
}

TEST_F(MasterResolverEventsTest, HoldEndsByItselfAfterItsLimit) {
  EXPECT_TRUE(resolver_->on_message(
      "+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379",
      t0_ - MasterResolver::kFailoverHoldMax - std::chrono::milliseconds(1)));
  EXPECT_FALSE(resolver_->failover_in_progress());
}

}  // namespace
}  // namespace seawall::upstream
