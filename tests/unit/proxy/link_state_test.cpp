#include "seawall/proxy/link_state.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string_view>
#include <vector>

#include "seawall/proxy/introspection.hpp"

namespace seawall::proxy {
namespace {

class LinkStateTest : public ::testing::Test {
 protected:
  LinkChange relay(std::initializer_list<std::string_view> words, bool client_pins = false) {
    args_.assign(words);
    return state_.relayed(command::Command::of(args_[0]), args_, client_pins);
  }

  LinkState state_;
  std::vector<std::string_view> args_;
};

TEST_F(LinkStateTest, NewLinkHoldsNothing) {
  state_.opened();
  EXPECT_FALSE(state_.holds_state());
  EXPECT_EQ(relay({"GET", "k"}).multi, -1);
  EXPECT_FALSE(state_.holds_state());
}

TEST_F(LinkStateTest, TransactionCountsQueuedCommandsUntilExec) {
  EXPECT_EQ(relay({"MULTI"}).multi, 0);
  EXPECT_TRUE(state_.in_multi());
  EXPECT_EQ(relay({"SET", "k", "v"}).multi, 1);
  EXPECT_EQ(relay({"INCR", "n"}).multi, 2);
  EXPECT_EQ(relay({"EXEC"}).multi, -1);
  EXPECT_FALSE(state_.in_multi());
  EXPECT_FALSE(state_.holds_state());
}

TEST_F(LinkStateTest, DiscardEndsTransactionAndWatch) {
  relay({"WATCH", "k"});
  EXPECT_TRUE(state_.watching());
  relay({"MULTI"});
  relay({"DISCARD"});
  EXPECT_FALSE(state_.in_multi());
  EXPECT_FALSE(state_.watching());
}

TEST_F(LinkStateTest, UnwatchInsideTransactionIsQueued) {
  relay({"WATCH", "k"});
  relay({"MULTI"});
  relay({"UNWATCH"});
  EXPECT_TRUE(state_.watching());  // runs at EXEC, which ends WATCH anyway
  relay({"EXEC"});
  EXPECT_FALSE(state_.watching());
  relay({"WATCH", "k"});
  relay({"unwatch"});
  EXPECT_FALSE(state_.watching());
}

TEST_F(LinkStateTest, SelectFollowsTheDatabase) {
  const LinkChange change = relay({"SELECT", "3"});
  EXPECT_TRUE(state_.db_nonzero());
  ASSERT_TRUE(change.db.has_value());
  EXPECT_EQ(*change.db, 3);
  relay({"select", "0"});
  EXPECT_FALSE(state_.holds_state());
  EXPECT_FALSE(relay({"SELECT", "x"}).db.has_value());  // Redis refuses it: not listed
}

TEST_F(LinkStateTest, SubscribeMonitorAuthAndSyncOnlyEndWithTheConnection) {
  EXPECT_EQ(relay({"SUBSCRIBE", "c"}).flags, introspection::kFlagPubsub);
  EXPECT_TRUE(state_.sticky());
  state_.opened();
  EXPECT_EQ(relay({"MONITOR"}).flags, introspection::kFlagMonitor);
  EXPECT_TRUE(state_.sticky());
  state_.opened();
  EXPECT_EQ(relay({"PSYNC", "?", "-1"}).flags, introspection::kFlagReplica);
  state_.opened();
  EXPECT_EQ(relay({"AUTH", "pw"}).flags, 0u);
  EXPECT_TRUE(state_.sticky());
}

TEST_F(LinkStateTest, ResetEndsEveryState) {
  relay({"SUBSCRIBE", "c"});
  relay({"SELECT", "2"});
  relay({"WATCH", "k"});
  const LinkChange change = relay({"RESET"});
  EXPECT_TRUE(change.reset);
  ASSERT_TRUE(change.protocol.has_value());
  EXPECT_EQ(*change.protocol, resp::Protocol::Resp2);
  EXPECT_FALSE(state_.holds_state());
}

TEST_F(LinkStateTest, QuitStopsReading) {
  EXPECT_TRUE(relay({"QUIT"}).stop_reading);
  EXPECT_TRUE(state_.quit_relayed());
}

TEST_F(LinkStateTest, HelloSetsProtocolAndName) {
  const LinkChange change = relay({"HELLO", "3", "SETNAME", "app"});
  ASSERT_TRUE(change.protocol.has_value());
  EXPECT_EQ(*change.protocol, resp::Protocol::Resp3);
  ASSERT_TRUE(change.name.has_value());
  EXPECT_EQ(*change.name, "app");
  EXPECT_TRUE(state_.sticky());
  state_.opened();
  EXPECT_FALSE(relay({"HELLO"}).protocol.has_value());
  EXPECT_FALSE(state_.sticky());  // HELLO alone changes nothing
}

TEST_F(LinkStateTest, ClientSubcommandsFeedTheRecord) {
  EXPECT_EQ(*relay({"CLIENT", "SETNAME", "n"}).name, "n");
  EXPECT_FALSE(relay({"CLIENT", "SETNAME", "a b"}).name.has_value());  // Redis refuses spaces
  const LinkChange info = relay({"CLIENT", "SETINFO", "lib-name", "x"});
  ASSERT_TRUE(info.setinfo.has_value());
  EXPECT_EQ(info.setinfo->first, "lib-name");
  EXPECT_FALSE(state_.sticky());
  EXPECT_EQ(relay({"CLIENT", "TRACKING", "on"}, true).tracking, true);
  EXPECT_TRUE(state_.sticky());
  EXPECT_EQ(relay({"client", "tracking", "off"}, true).tracking, false);
}

}  // namespace
}  // namespace seawall::proxy
