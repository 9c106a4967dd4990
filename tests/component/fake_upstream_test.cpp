// The fake upstream itself, through a plain client: the other component tests rely on each of
// its behaviours doing what fake_upstream.hpp says.
#include "support/fake_upstream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "support/eventually.hpp"
#include "support/resp_builders.hpp"
#include "support/test_client.hpp"

namespace seawall::support {
namespace {

using namespace std::chrono_literals;

TEST(FakeUpstreamTest, AnswersDataCommandsInOrder) {
  FakeUpstream fake;
  TestClient c(fake.port());
  c.send(command({"SET", "a", "1"}) + command({"GET", "a"}) + command({"MGET", "a", "b"}) +
         command({"INCR", "a"}) + command({"EXISTS", "a", "b"}) + command({"DEL", "a", "b"}) +
         command({"GET", "a"}) + command({"CLIENT", "ID"}) + command({"NOPE", "x"}));
  EXPECT_EQ(c.read_replies(9),
            simple("OK") + bulk("1") + array({bulk("1"), nil()}) + integer(2) + integer(1) +
                integer(1) + nil() + integer(1) +
                error("ERR unknown command 'NOPE', with args beginning with: 'x' "));
  EXPECT_EQ(fake.request_count(), 9u);
  EXPECT_EQ(fake.request_count("get"), 2u);
  ASSERT_EQ(fake.received().size(), 9u);
  EXPECT_EQ(fake.received()[2].args, (std::vector<std::string>{"MGET", "a", "b"}));
  EXPECT_EQ(fake.received()[2].connection, 1u);
}

TEST(FakeUpstreamTest, RunsTransactions) {
  FakeUpstream fake;
  TestClient c(fake.port());
  c.send(command({"MULTI"}) + command({"SET", "t", "1"}) + command({"INCR", "t"}) +
         command({"EXEC"}));
  EXPECT_EQ(c.read_replies(4),
            simple("OK") + simple("QUEUED") + simple("QUEUED") + array({simple("OK"), integer(2)}));
  EXPECT_EQ(fake.get("t"), "2");
}

TEST(FakeUpstreamTest, DelaysRepliesAndKeepsTheirOrder) {
  FakeUpstream fake;
  fake.set("a", "1");
  fake.delay_replies(100ms);
  TestClient c(fake.port());
  const auto start = std::chrono::steady_clock::now();
  c.send(command({"GET", "a"}) + command({"PING"}));
  EXPECT_EQ(c.read_replies(2), bulk("1") + simple("PONG"));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}

TEST(FakeUpstreamTest, HungRepliesComeWhenItResumes) {
  FakeUpstream fake;
  fake.hang();
  TestClient c(fake.port());
  c.send(command({"PING"}));
  EXPECT_EQ(c.read_replies(1, 100ms), "<timeout>");
  EXPECT_TRUE(eventually([&] { return fake.request_count() == 1u; }));
  fake.answer_normally();
  EXPECT_EQ(c.read_replies(1), simple("PONG"));
}

TEST(FakeUpstreamTest, RepliesErrorsAndClosesConnections) {
  FakeUpstream fake;
  TestClient c(fake.port());
  fake.reply_error("LOADING busy");
  EXPECT_EQ(c.call({"GET", "a"}), error("LOADING busy"));
  fake.close_on_request();
  c.send(command({"GET", "a"}));
  EXPECT_TRUE(c.closed_within(kReplyDeadline));
  EXPECT_EQ(c.unread(), "");
  EXPECT_TRUE(eventually([&] { return fake.open_connections() == 0; }));
}

TEST(FakeUpstreamTest, RefusesConnectionsUntilToldOtherwise) {
  FakeUpstream fake;
  TestClient first(fake.port());
  // The kernel completes a handshake before the fake accepts it; refusing before then would
  // reset `first` from the backlog, never counted as accepted.
  EXPECT_EQ(first.call({"PING"}), simple("PONG"));
  fake.refuse_connections(true);
  EXPECT_THROW(TestClient(fake.port()), std::runtime_error);
  fake.drop_connections();
  EXPECT_TRUE(first.closed_within(kReplyDeadline));
  fake.refuse_connections(false);
  TestClient again(fake.port());
  EXPECT_EQ(again.call({"PING"}), simple("PONG"));
  EXPECT_EQ(fake.connections_accepted(), 2u);
}

}  // namespace
}  // namespace seawall::support
