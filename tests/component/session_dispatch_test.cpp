// Session dispatch end to end: seawall in-process in front of two fake upstreams, a plain client
// socket, exact reply bytes. Ordering, local answers, splitting, transactions; and what happens
// when the main upstream fails: the breaker opens, reads are answered from the L1 or a policy's
// default without reaching Redis, and a half-open probe brings the breaker back.
#include <gtest/gtest.h>

#include "component/proxy_fixture.hpp"

namespace seawall::support {
namespace {

using SessionDispatchTest = ProxyTest;

TEST_F(SessionDispatchTest, AnswersPipelineInRequestOrder) {
  main_.set("a", "1");
  sessions_.set("session:b", "2");
  // The main upstream answers last, the local replies are ready first: only the order in which
  // the requests came may decide the order of the replies.
  main_.delay_replies(50ms);
  TestClient c = client();
  c.send(command({"SET", "x", "10"}) + command({"GET", "a"}) + command({"PING"}) +
         command({"GET", "session:b"}) + command({"GET", "missing"}) + command({"ECHO", "hi"}) +
         command({"INCR", "x"}));
  EXPECT_EQ(c.read_replies(7), simple("OK") + bulk("1") + simple("PONG") + bulk("2") + nil() +
                                   bulk("hi") + integer(11));
  EXPECT_EQ(main_.get("x"), "11");
}

TEST_F(SessionDispatchTest, AnswersLocalCommandsWithoutUpstream) {
  TestClient c = client();
  EXPECT_EQ(c.call({"PING"}), simple("PONG"));
  EXPECT_EQ(c.call({"PING", "hello"}), bulk("hello"));
  EXPECT_EQ(c.call({"ECHO", "a b"}), bulk("a b"));
  EXPECT_EQ(c.call({"SELECT", "0"}), simple("OK"));
  EXPECT_EQ(c.call({"QUIT"}), simple("OK"));
  EXPECT_TRUE(c.closed_within(kReplyDeadline));
  EXPECT_EQ(c.unread(), "");
  EXPECT_EQ(main_.request_count(), 0u);
  EXPECT_EQ(sessions_.request_count(), 0u);
}

TEST_F(SessionDispatchTest, MergesMgetAcrossUpstreamsInKeyOrder) {
  main_.set("a", "1");
  main_.set("c", "3");
  sessions_.set("session:b", "2");
  TestClient c = client();
  EXPECT_EQ(c.call({"MGET", "a", "session:b", "c", "session:none"}),
            array({bulk("1"), bulk("2"), bulk("3"), nil()}));
  const auto to_main = main_.received();
  const auto to_sessions = sessions_.received();
  ASSERT_EQ(to_main.size(), 1u);
  ASSERT_EQ(to_sessions.size(), 1u);
  EXPECT_EQ(to_main[0].args, (std::vector<std::string>{"MGET", "a", "c"}));
  EXPECT_EQ(to_sessions[0].args, (std::vector<std::string>{"MGET", "session:b", "session:none"}));
}

TEST_F(SessionDispatchTest, RelaysErrorRepliesWithoutOpeningBreaker) {
  main_.reply_error("ERR something the application did wrong");
  TestClient c = client();
  for (std::uint32_t i = 0; i < kFailuresToOpen + 2; ++i) {
    EXPECT_EQ(c.call({"GET", "k"}), error("ERR something the application did wrong"));
  }
  EXPECT_EQ(breaker(kMain), "closed");
  EXPECT_EQ(main_.request_count("GET"), kFailuresToOpen + 2);
}

TEST_F(SessionDispatchTest, OpensBreakerAfterFailures) {
  TestClient c = client();
  // Redis refuses with -LOADING: seawall passes nothing of it on for a read, it takes the
  // fallback chain (nil for these keys, the application falls through to its database).
  EXPECT_EQ(open_main_breaker(c), nil() + nil() + nil());
  EXPECT_EQ(main_.request_count("GET"), kFailuresToOpen);
  EXPECT_EQ(breaker(kMain), "open");

  // While open, nothing reaches the main upstream; the other upstream is unaffected.
  main_.answer_normally();
  main_.set("k", "v");
  const std::size_t before = main_.request_count();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(c.call({"GET", "k"}), nil());
  }
  EXPECT_EQ(main_.request_count(), before);
  sessions_.set("session:s", "up");
  EXPECT_EQ(c.call({"GET", "session:s"}), bulk("up"));
  EXPECT_EQ(breaker(kSessions), "closed");
}

TEST_F(SessionDispatchTest, OpensBreakerWhenUpstreamHangs) {
  for (const char* key : {"h:1", "h:2", "h:3"}) {
    main_.set(key, "held");  // answered at once, these would read "held"
  }
  TestClient c = client();
  main_.hang();
  // Pipelined, so the timeouts run together rather than one after another.
  c.send(command({"GET", "h:1"}) + command({"GET", "h:2"}) + command({"GET", "h:3"}));
  EXPECT_EQ(c.read_replies(3), nil() + nil() + nil());
  EXPECT_TRUE(eventually([&] { return breaker_is(kMain, "open"); }));
  // The fake reads on its own thread: all three arrive, perhaps after their timeouts.
  EXPECT_TRUE(eventually([&] { return main_.request_count() == 3u; }));
  const std::size_t before = main_.request_count();
  EXPECT_EQ(c.call({"GET", "h:4"}), nil());
  EXPECT_EQ(main_.request_count(), before);
  main_.answer_normally();  // the hung replies arrive late; seawall drops them
}

TEST_F(SessionDispatchTest, AnswersFromL1CopyWhileOpen) {
  main_.set("cfg:a", "v1");
  TestClient c = client();
  EXPECT_EQ(c.call({"GET", "cfg:a"}), bulk("v1"));  // fills the L1
  EXPECT_EQ(main_.request_count("GET"), 1u);
  open_main_breaker(c);
  ASSERT_EQ(breaker(kMain), "open");

  main_.set("cfg:a", "v2");  // Redis moved on: a reply of v1 can only come from the copy
  const std::size_t before = main_.request_count();
  EXPECT_EQ(c.call({"GET", "cfg:a"}), bulk("v1"));
  EXPECT_EQ(main_.request_count(), before);
}

TEST_F(SessionDispatchTest, AnswersPolicyDefaultWhenNoCopy) {
  TestClient c = client();
  open_main_breaker(c);
  ASSERT_EQ(breaker(kMain), "open");
  const std::size_t before = main_.request_count();
  EXPECT_EQ(c.call({"GET", "views:home"}), integer(0));  // "views:*" default
  EXPECT_EQ(c.call({"GET", "cfg:never-read"}), nil());   // an L1 policy, but no copy
  EXPECT_EQ(c.call({"GET", "other"}), nil());            // the fallback policy: a miss
  EXPECT_EQ(main_.request_count(), before);
}

TEST_F(SessionDispatchTest, RejectsWritesWhileOpen) {
  TestClient c = client();
  open_main_breaker(c);
  ASSERT_EQ(breaker(kMain), "open");
  const std::size_t before = main_.request_count();
  // The fallback policy's writes_when_open is reject.
  EXPECT_EQ(c.call({"SET", "other", "v"}),
            error("UNAVAILABLE seawall: upstream 'main' is unavailable: write rejected"));
  EXPECT_EQ(main_.request_count(), before);
  EXPECT_EQ(main_.get("other"), std::nullopt);
}

TEST_F(SessionDispatchTest, AnswersFromL1CopyWhenReplyIsLate) {
  main_.set("cfg:d", "v1");
  TestClient c = client();
  EXPECT_EQ(c.call({"GET", "cfg:d"}), bulk("v1"));
  main_.set("cfg:d", "v2");
  // Shorter than request_timeout: just slower, and Redis's value.
  main_.delay_replies(kRequestTimeout / 5);
  EXPECT_EQ(c.call({"GET", "cfg:d"}), bulk("v2"));
  main_.set("cfg:d", "v3");
  // Past request_timeout: seawall gives up on Redis and answers from its copy (the last value
  // it read), with the breaker still closed. (Last: replies on a connection keep their order,
  // so this late one would hold back any after it.)
  main_.delay_replies(kRequestTimeout * 3);
  EXPECT_EQ(c.call({"GET", "cfg:d"}), bulk("v2"));
  EXPECT_EQ(breaker(kMain), "closed");
  EXPECT_EQ(main_.request_count("GET"), 3u);
}

TEST_F(SessionDispatchTest, ReconnectsAfterUpstreamClosesConnection) {
  main_.set("k", "v");
  TestClient c = client();
  main_.close_on_request();
  EXPECT_EQ(c.call({"GET", "k"}), nil());  // no reply, no copy: the fallback's miss
  main_.answer_normally();
  // The pool reconnects (backoff 10-100 ms); reads reach Redis again on the new connection.
  EXPECT_TRUE(eventually([&] { return main_.connections_accepted() == 2; }));
  EXPECT_TRUE(eventually([&] { return c.call({"GET", "k"}) == bulk("v"); }));
  EXPECT_EQ(breaker(kMain), "closed");
}

TEST_F(SessionDispatchTest, OpensBreakerWhenConnectionsAreRefused) {
  main_.set("k", "v");
  main_.refuse_connections(true);
  main_.drop_connections();
  ASSERT_TRUE(eventually([&] { return main_.open_connections() == 0; }));
  TestClient c = client();
  for (std::uint32_t i = 0; i < kFailuresToOpen; ++i) {
    EXPECT_EQ(c.call({"GET", "k"}), nil());
  }
  EXPECT_TRUE(eventually([&] { return breaker_is(kMain, "open"); }));
  EXPECT_EQ(main_.connections_accepted(), 1u);
  EXPECT_EQ(main_.request_count(), 0u);
  // Redis listens again: within a few open periods a probe finds it and the breaker closes.
  main_.refuse_connections(false);
  EXPECT_TRUE(eventually([&] { return c.call({"GET", "k"}) == bulk("v"); }, 10000ms));
  EXPECT_EQ(breaker(kMain), "closed");
}

TEST_F(SessionDispatchTest, ClosesBreakerAfterHalfOpenProbeSucceeds) {
  TestClient c = client();
  open_main_breaker(c);
  ASSERT_EQ(breaker(kMain), "open");
  main_.set("k", "v");

  // The open period ends; one probe reaches the fake, which still fails: open again.
  ASSERT_TRUE(eventually([&] { return breaker_is(kMain, "half_open"); }));
  std::size_t before = main_.request_count();
  EXPECT_EQ(c.call({"GET", "k"}), nil());
  EXPECT_EQ(main_.request_count(), before + 1);
  EXPECT_EQ(breaker(kMain), "open");
  EXPECT_EQ(c.call({"GET", "k"}), nil());
  EXPECT_EQ(main_.request_count(), before + 1);

  // The fake heals; the next open period (twice as long) ends; the probe succeeds and closes it.
  main_.answer_normally();
  ASSERT_TRUE(eventually([&] { return breaker_is(kMain, "half_open"); }, 10000ms));
  before = main_.request_count();
  EXPECT_EQ(c.call({"GET", "k"}), bulk("v"));
  EXPECT_EQ(main_.request_count(), before + 1);
  EXPECT_EQ(breaker(kMain), "closed");

  // Traffic flows again, reads and writes.
  EXPECT_EQ(c.call({"SET", "k", "w"}), simple("OK"));
  EXPECT_EQ(c.call({"GET", "k"}), bulk("w"));
  EXPECT_EQ(main_.request_count(), before + 3);
  EXPECT_EQ(main_.get("k"), "w");
}

TEST_F(SessionDispatchTest, RelaysTransactionOnPinnedConnection) {
  TestClient c = client();
  EXPECT_EQ(c.call({"MULTI"}), simple("OK"));
  EXPECT_EQ(c.call({"SET", "t", "1"}), simple("QUEUED"));
  EXPECT_EQ(c.call({"INCR", "t"}), simple("QUEUED"));
  EXPECT_EQ(c.call({"EXEC"}), array({simple("OK"), integer(2)}));
  EXPECT_EQ(main_.get("t"), "2");
  // A dedicated connection (the second the fake accepted) carried the whole transaction, after
  // seawall asked its id; the shared connection saw none of it.
  ASSERT_EQ(main_.connections_accepted(), 2u);
  EXPECT_EQ(names_on(main_, 2),
            (std::vector<std::string>{"CLIENT", "MULTI", "SET", "INCR", "EXEC"}));
  EXPECT_EQ(names_on(main_, 1), std::vector<std::string>{});
  // After EXEC the session goes on as before.
  EXPECT_EQ(c.call({"GET", "t"}), bulk("2"));
}

TEST_F(SessionDispatchTest, AnswersWholeMgetFromFallbackWhenOneUpstreamIsOpen) {
  main_.set("cfg:a", "1");
  sessions_.set("session:b", "2");
  TestClient c = client();
  EXPECT_EQ(c.call({"GET", "cfg:a"}), bulk("1"));
  EXPECT_EQ(c.call({"GET", "session:b"}), bulk("2"));
  open_main_breaker(c);
  ASSERT_EQ(breaker(kMain), "open");
  sessions_.set("session:b", "2-new");
  const std::size_t main_before = main_.request_count();
  const std::size_t sessions_before = sessions_.request_count();
  // By design (forward_split) a split command whose upstreams are not all available takes the
  // fallback whole: the healthy sessions upstream is not asked either; every key is answered
  // from its L1 copy, else the fallback's miss.
  EXPECT_EQ(c.call({"MGET", "cfg:a", "session:b", "session:c", "other"}),
            array({bulk("1"), bulk("2"), nil(), nil()}));
  EXPECT_EQ(main_.request_count(), main_before);
  EXPECT_EQ(sessions_.request_count(), sessions_before);
}

class NoDedicatedConnectionTest : public ProxyTest {
 protected:
  void configure(proxy::ProxyConfig& config) override { config.limits.max_pinned = 0; }
};

TEST_F(NoDedicatedConnectionTest, AbortsTransactionWithoutReachingUpstream) {
  TestClient c = client();
  EXPECT_EQ(c.call({"MULTI"}), simple("OK"));
  EXPECT_EQ(c.call({"SET", "t", "1"}),
            error("ERR seawall: too many dedicated connections (limits.max_pinned)"));
  // Every later command of the transaction gets the error its pin failed with, not another.
  EXPECT_EQ(c.call({"INCR", "t"}),
            error("ERR seawall: too many dedicated connections (limits.max_pinned)"));
  EXPECT_EQ(c.call({"EXEC"}), error("EXECABORT Transaction discarded because of previous errors."));
  EXPECT_EQ(main_.request_count(), 0u);
  EXPECT_EQ(main_.connections_accepted(), 1u);
  // The session is usable after the aborted transaction.
  EXPECT_EQ(c.call({"SET", "t", "2"}), simple("OK"));
  EXPECT_EQ(main_.get("t"), "2");
}

// Writes of one key keep their order: a write behind another client's write of its key waits
// for that write's outcome, bounded by request_timeout + 50 ms (4 s here). A pinned write has no
// deadline; when the breaker opens meanwhile, the waiting write takes the fallback chain at once.
class WriteOrderTest : public ProxyTest {
 protected:
  void configure(proxy::ProxyConfig& config) override {
    config.upstreams[kMain].request_timeout = 4000ms;
  }
};

TEST_F(WriteOrderTest, StopsWaitingForAnotherWriteOnceBreakerOpens) {
  main_.set("k", "0");
  TestClient pinned = client();
  EXPECT_EQ(pinned.call({"MULTI"}), simple("OK"));  // its own connection from now on
  EXPECT_EQ(pinned.call({"SET", "k", "a"}), simple("QUEUED"));
  main_.delay_replies(3000ms);
  pinned.send(command({"EXEC"}));
  ASSERT_TRUE(eventually([&] { return main_.request_count("EXEC") == 1; }));
  TestClient other = client();
  other.send(command({"SET", "k", "b"}));  // waits: the transaction's SET of k has no outcome
  proxy_->force_open(kMain);
  // Long before the pinned SET's reply (3 s) and the wait's bound (4.05 s): the fallback
  // policy's writes_when_open is reject.
  EXPECT_EQ(other.read_replies(1, 1500ms),
            error("UNAVAILABLE seawall: upstream 'main' is unavailable: write rejected"));
  EXPECT_EQ(pinned.read_replies(1, 5000ms), array({simple("OK")}));
  EXPECT_EQ(main_.request_count("SET"), 1u);
  EXPECT_EQ(main_.get("k"), "a");
}

}  // namespace
}  // namespace seawall::support
