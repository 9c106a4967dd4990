#include "seawall/upstream/multiplexer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

// The multiplexer fed bytes, events and time, as Boost.Redis tests its reader: no socket, no
// timer, no sleep. Every time point is t0 plus an offset.
namespace seawall::upstream {
namespace {

using namespace std::chrono_literals;
using Clock = Multiplexer::Clock;
using ReadStatus = Multiplexer::ReadStatus;

struct Answer {
  std::uint64_t token = 0;
  std::string bytes;
  ReplyStatus status = ReplyStatus::Ok;
  Clock::time_point at;
};

class RecordingTarget : public ReplyTarget {
 public:
  void on_reply(std::uint64_t token, std::string_view bytes, ReplyStatus status,
                Clock::time_point now) override {
    answers.push_back(Answer{token, std::string(bytes), status, now});
  }
  void on_batch_end() override { ++batch_ends; }

  std::vector<std::uint64_t> tokens(ReplyStatus status) const {
    std::vector<std::uint64_t> out;
    for (const Answer& a : answers) {
      if (a.status == status) {
        out.push_back(a.token);
      }
    }
    return out;
  }

  std::vector<Answer> answers;
  int batch_ends = 0;
};

// Copies `bytes` into the multiplexer's read space (as a socket read would, in as many reads as
// the space needs) and returns the first result that is not Ok, else Ok.
Multiplexer::ReadResult feed(Multiplexer& mux, std::string_view bytes, Clock::time_point now) {
  Multiplexer::ReadResult result;
  do {
    const std::span<char> space = mux.read_space();
    const std::size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    bytes.remove_prefix(n);
    const Multiplexer::ReadResult r = mux.on_read(n, now);
    if (r.status != ReadStatus::Ok) {
      return r;
    }
    result = r;
  } while (!bytes.empty());
  return result;
}

breaker::BreakerConfig never_trips() {
  breaker::BreakerConfig config;
  config.consecutive_failures = 0;
  config.failure_rate_threshold = 0;
  config.slow_call_rate_threshold = 0;
  config.slow_call_duration = 50ms;
  return config;
}

// A multiplexer with a 100 ms request timeout, connected at t0.
class MultiplexerTest : public ::testing::Test {
 protected:
  MultiplexerTest() { mux.on_connected(t0); }

  void submit(std::uint64_t token, Clock::duration at,
              std::string_view command = "*1\r\n$4\r\nPING\r\n") {
    ASSERT_TRUE(mux.submit(command, &target, token, t0 + at, {}, nullptr));
  }
  std::vector<std::uint64_t> expire_at(Clock::duration at) {
    const std::size_t before = target.answers.size();
    mux.on_deadline(t0 + at);
    std::vector<std::uint64_t> tokens;
    for (std::size_t i = before; i < target.answers.size(); ++i) {
      EXPECT_EQ(target.answers[i].status, ReplyStatus::Timeout);
      tokens.push_back(target.answers[i].token);
    }
    return tokens;
  }

  const Clock::time_point t0 = Clock::time_point{} + 1h;
  std::atomic<std::int64_t> in_doubt{0};
  std::atomic<std::int64_t> paused_until{0};
  Multiplexer mux{100ms, 1000, 64, MultiplexerMetrics{nullptr, nullptr, &in_doubt, &paused_until}};
  RecordingTarget target;
};

TEST_F(MultiplexerTest, RequestsMoveFromWaitingToWrittenWhenStaged) {
  submit(1, 0ms, "*1\r\n$4\r\nPING\r\n");
  submit(2, 0ms, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  EXPECT_EQ(mux.waiting(), 2u);
  EXPECT_EQ(mux.written(), 0u);
  EXPECT_TRUE(mux.has_waiting());
  EXPECT_EQ(mux.stage_write(), "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  EXPECT_EQ(mux.waiting(), 0u);
  EXPECT_EQ(mux.written(), 2u);
  EXPECT_FALSE(mux.has_waiting());
  // Submitted while that write is in progress: waiting, in a batch of its own.
  submit(3, 1ms, "*1\r\n$4\r\nTIME\r\n");
  mux.write_done();
  EXPECT_EQ(mux.waiting(), 1u);
  EXPECT_EQ(mux.stage_write(), "*1\r\n$4\r\nTIME\r\n");
  EXPECT_EQ(mux.written(), 3u);
  EXPECT_EQ(mux.stats().requests, 3u);
}

TEST_F(MultiplexerTest, APartWrittenBatchLeavesItsRestAheadOfLaterRequests) {
  submit(1, 0ms, "*1\r\n$4\r\nPING\r\n");
  submit(2, 0ms, "*1\r\n$4\r\nTIME\r\n");
  EXPECT_EQ(mux.waiting_bytes(), 28u);
  EXPECT_EQ(mux.stage_write().size(), 28u);
  mux.write_partly(10);  // "*1\r\n$4\r\nPI" went out
  // Both count as written (they may run); only their bytes wait.
  EXPECT_EQ(mux.written(), 2u);
  EXPECT_TRUE(mux.has_waiting());
  submit(3, 1ms, "*1\r\n$4\r\nECHO\r\n");
  EXPECT_EQ(mux.stage_write(), "NG\r\n*1\r\n$4\r\nTIME\r\n*1\r\n$4\r\nECHO\r\n");
  mux.write_partly(32);  // all of it
  EXPECT_FALSE(mux.has_waiting());
  EXPECT_EQ(mux.written(), 3u);
  EXPECT_EQ(feed(mux, "+PONG\r\n:1\r\n+E\r\n", t0 + 1ms).status, ReadStatus::Ok);
  ASSERT_EQ(target.answers.size(), 3u);
  EXPECT_EQ(target.answers[2].bytes, "+E\r\n");
}

TEST_F(MultiplexerTest, RepliesMatchRequestsInFifoOrder) {
  submit(1, 0ms);
  submit(2, 0ms);
  submit(3, 0ms);
  mux.stage_write();
  EXPECT_EQ(feed(mux, "$1\r\na\r\n$1\r\nb\r\n:3\r\n", t0 + 1ms).status, ReadStatus::Ok);
  ASSERT_EQ(target.answers.size(), 3u);
  EXPECT_EQ(target.answers[0].token, 1u);
  EXPECT_EQ(target.answers[0].bytes, "$1\r\na\r\n");
  EXPECT_EQ(target.answers[1].token, 2u);
  EXPECT_EQ(target.answers[1].bytes, "$1\r\nb\r\n");
  EXPECT_EQ(target.answers[2].token, 3u);
  EXPECT_EQ(target.answers[2].bytes, ":3\r\n");
  EXPECT_EQ(target.answers[2].at, t0 + 1ms);
  EXPECT_EQ(target.batch_ends, 1);  // one read, one target: told once
  EXPECT_TRUE(mux.empty());
}

TEST_F(MultiplexerTest, EachReadEndsItsOwnBatch) {
  RecordingTarget other;
  submit(1, 0ms);
  ASSERT_TRUE(mux.submit("*1\r\n$4\r\nPING\r\n", &other, 2, t0, {}, nullptr));
  submit(3, 0ms);
  mux.stage_write();
  feed(mux, "+PONG\r\n+PONG\r\n", t0 + 1ms);
  EXPECT_EQ(target.batch_ends, 1);
  EXPECT_EQ(other.batch_ends, 1);
  feed(mux, "+PONG\r\n", t0 + 2ms);
  EXPECT_EQ(target.batch_ends, 2);
  EXPECT_EQ(other.batch_ends, 1);
}

TEST_F(MultiplexerTest, AReplyWithNoWrittenRequestIsAProtocolViolation) {
  EXPECT_EQ(feed(mux, "+OK\r\n", t0).status, ReadStatus::UnexpectedReply);
  // A request that is still waiting (not written) cannot be what Redis answers either.
  submit(1, 0ms);
  EXPECT_EQ(feed(mux, "+OK\r\n", t0).status, ReadStatus::UnexpectedReply);
  EXPECT_TRUE(target.answers.empty());
}

TEST_F(MultiplexerTest, AStreamTheFramerRejectsIsAProtocolError) {
  submit(1, 0ms);
  mux.stage_write();
  const auto result = feed(mux, "?what\r\n", t0);
  EXPECT_EQ(result.status, ReadStatus::ProtocolError);
  EXPECT_NE(result.error, resp::errc::ok);
  EXPECT_TRUE(target.answers.empty());
}

// Replies of every shape, in one stream, split at every byte: each read delivers exactly the
// replies complete so far, with their exact bytes.
TEST(MultiplexerSplitTest, PartialRepliesSplitAtEveryByteAreMatchedWhole) {
  const std::vector<std::string> replies = {
      "+OK\r\n",        "$5\r\nhello\r\n", "*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
      "-ERR wrong\r\n", "$-1\r\n",         "%1\r\n+k\r\n|1\r\n+ttl\r\n:3\r\n,1.5\r\n",
      "$0\r\n\r\n",
  };
  std::string stream;
  for (const auto& r : replies) {
    stream += r;
  }
  const Clock::time_point t0{};
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    Multiplexer mux(100ms, 1000, 64);
    mux.on_connected(t0);
    RecordingTarget target;
    for (std::uint64_t i = 0; i < replies.size(); ++i) {
      ASSERT_TRUE(mux.submit("*1\r\n$4\r\nPING\r\n", &target, i, t0, {}, nullptr));
    }
    mux.stage_write();
    ASSERT_EQ(feed(mux, std::string_view(stream).substr(0, split), t0).status, ReadStatus::Ok);
    std::size_t complete = 0;
    for (std::size_t at = 0; complete < replies.size() && at + replies[complete].size() <= split;
         at += replies[complete++].size()) {
    }
    EXPECT_EQ(target.answers.size(), complete);
    ASSERT_EQ(feed(mux, std::string_view(stream).substr(split), t0).status, ReadStatus::Ok);
    ASSERT_EQ(target.answers.size(), replies.size());
    for (std::size_t i = 0; i < replies.size(); ++i) {
      EXPECT_EQ(target.answers[i].token, i);
      EXPECT_EQ(target.answers[i].bytes, replies[i]);
    }
    EXPECT_TRUE(mux.empty());
  }
}

TEST(MultiplexerSplitTest, OneByteAtATime) {
  const std::string first = "*3\r\n$3\r\nfoo\r\n$-1\r\n:42\r\n";
  const std::string stream = first + "+OK\r\n";
  const Clock::time_point t0{};
  Multiplexer mux(100ms, 1000, 64);
  mux.on_connected(t0);
  RecordingTarget target;
  ASSERT_TRUE(mux.submit("x", &target, 1, t0, {}, nullptr));
  ASSERT_TRUE(mux.submit("y", &target, 2, t0, {}, nullptr));
  mux.stage_write();
  for (std::size_t i = 0; i < stream.size(); ++i) {
    ASSERT_EQ(feed(mux, stream.substr(i, 1), t0).status, ReadStatus::Ok);
    EXPECT_EQ(target.answers.size(), i + 1 < first.size() ? 0u : (i + 1 < stream.size() ? 1u : 2u));
  }
  ASSERT_EQ(target.answers.size(), 2u);
  EXPECT_EQ(target.answers[0].bytes, first);
  EXPECT_EQ(target.answers[1].bytes, "+OK\r\n");
}

TEST(MultiplexerSplitTest, AReplyLargerThanTheReadBufferGrowsIt) {
  const std::string big(200 * 1024, 'x');
  const std::string reply = "$" + std::to_string(big.size()) + "\r\n" + big + "\r\n";
  const Clock::time_point t0{};
  Multiplexer mux(100ms, 1000, 64);
  mux.on_connected(t0);
  RecordingTarget target;
  ASSERT_TRUE(mux.submit("x", &target, 1, t0, {}, nullptr));
  mux.stage_write();
  ASSERT_EQ(feed(mux, reply, t0).status, ReadStatus::Ok);
  ASSERT_EQ(target.answers.size(), 1u);
  EXPECT_EQ(target.answers[0].bytes, reply);
}

TEST_F(MultiplexerTest, TheDeadlineIsJudgedOnlyAtTheHead) {
  submit(1, 0ms);
  submit(2, 0ms);
  mux.stage_write();
  // The first reply comes late but in time (90 ms): the second is served from then.
  EXPECT_TRUE(expire_at(90ms).empty());
  feed(mux, "+1\r\n", t0 + 90ms);
  EXPECT_EQ(mux.next_deadline(t0 + 90ms), t0 + 190ms);
  EXPECT_TRUE(expire_at(150ms).empty());  // past its own deadline, but Redis is not stalled
  EXPECT_EQ(mux.unanswered(), 1u);
  EXPECT_EQ(expire_at(190ms), (std::vector<std::uint64_t>{2}));
}

TEST_F(MultiplexerTest, AStalledHeadExpiresEveryRequestOlderThanTheTimeout) {
  submit(1, 0ms);
  submit(2, 30ms);
  submit(3, 150ms);
  mux.stage_write();
  EXPECT_EQ(mux.next_deadline(t0 + 150ms), t0 + 100ms);
  EXPECT_EQ(expire_at(140ms), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(mux.expired(), 2u);
  EXPECT_EQ(mux.unanswered(), 1u);
  EXPECT_EQ(in_doubt.load(), 2);  // Redis may still run them
  // Stalled: the next one is looked at on its own deadline.
  EXPECT_EQ(mux.next_deadline(t0 + 140ms), t0 + 250ms);
  EXPECT_EQ(expire_at(250ms), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(mux.stats().timeouts, 3u);
}

TEST_F(MultiplexerTest, AnExpiredRequestsLateReplyIsDiscardedInOrder) {
  submit(1, 0ms);
  submit(2, 30ms);
  submit(3, 150ms);
  mux.stage_write();
  EXPECT_EQ(expire_at(140ms), (std::vector<std::uint64_t>{1, 2}));
  // Redis answers again: the late replies go nowhere, the third reply to the third request.
  feed(mux, "$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", t0 + 200ms);
  ASSERT_EQ(target.answers.size(), 3u);
  EXPECT_EQ(target.answers[2].token, 3u);
  EXPECT_EQ(target.answers[2].status, ReplyStatus::Ok);
  EXPECT_EQ(target.answers[2].bytes, "$1\r\nc\r\n");
  EXPECT_EQ(mux.stats().late_replies, 2u);
  EXPECT_EQ(in_doubt.load(), 0);
  EXPECT_TRUE(mux.empty());
}

TEST_F(MultiplexerTest, APauseRedisWasAskedForHoldsInsteadOfTimingOut) {
  submit(1, 0ms);
  submit(2, 10ms);
  mux.stage_write();
  // CLIENT PAUSE 1000, seen through the upstream's shared paused_until.
  paused_until.store((t0 + 1000ms).time_since_epoch().count());
  EXPECT_EQ(mux.next_deadline(t0 + 500ms), t0 + 1100ms);
  EXPECT_TRUE(expire_at(500ms).empty());
  EXPECT_TRUE(expire_at(1050ms).empty());
  feed(mux, "+OK\r\n", t0 + 1020ms);
  EXPECT_EQ(target.tokens(ReplyStatus::Ok), (std::vector<std::uint64_t>{1}));
  // Redis silent a request_timeout after the pause (and after the last reply): stalled again.
  EXPECT_EQ(expire_at(1120ms), (std::vector<std::uint64_t>{2}));
}

TEST_F(MultiplexerTest, TimeHeldByAPauseIsNotLatency) {
  breaker::CircuitBreaker breaker(never_trips(), 1);
  ASSERT_TRUE(mux.submit("x", &target, 1, t0, breaker.try_acquire(t0), &breaker));
  mux.stage_write();
  mux.hold_until(t0 + 1000ms);
  feed(mux, "+OK\r\n", t0 + 1020ms);  // 20 ms after the pause: not slow (50 ms)
  EXPECT_EQ(breaker.counters().successes, 1u);
  EXPECT_EQ(breaker.counters().slow_calls, 0u);
}

TEST_F(MultiplexerTest, ADropAnswersWrittenAndWaitingRequestsAlikeAndOnlyThem) {
  submit(1, 0ms);
  submit(2, 50ms);
  mux.stage_write();  // 1 and 2 written
  submit(3, 60ms);    // 3 waiting
  EXPECT_EQ(expire_at(101ms), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(in_doubt.load(), 1);
  mux.on_dropped(ReplyStatus::Unavailable, t0 + 120ms);
  EXPECT_EQ(target.tokens(ReplyStatus::Unavailable), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(target.tokens(ReplyStatus::Timeout), (std::vector<std::uint64_t>{1}));  // once
  EXPECT_EQ(in_doubt.load(), 0);  // the connection ended: Redis runs nothing more of it
  EXPECT_TRUE(mux.empty());
  EXPECT_FALSE(mux.has_waiting());  // nothing of 3 is written on the next connection
  EXPECT_EQ(mux.stats().unavailable, 2u);
}

TEST_F(MultiplexerTest, AFailedFirstConnectAnswersNotSent) {
  submit(1, 0ms);
  submit(2, 0ms);
  mux.on_dropped(ReplyStatus::NotSent, t0 + 250ms);
  EXPECT_EQ(target.tokens(ReplyStatus::NotSent), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_FALSE(mux.has_waiting());
}

TEST_F(MultiplexerTest, AReconnectForgetsAPartialReply) {
  submit(1, 0ms);
  mux.stage_write();
  feed(mux, "$5\r\nhel", t0 + 1ms);
  mux.on_dropped(ReplyStatus::Unavailable, t0 + 2ms);
  mux.on_connected(t0 + 10ms);
  submit(2, 10ms);
  mux.stage_write();
  EXPECT_EQ(feed(mux, "+OK\r\n", t0 + 11ms).status, ReadStatus::Ok);
  EXPECT_EQ(target.tokens(ReplyStatus::Ok), (std::vector<std::uint64_t>{2}));
  // Deadlines start from the new connection: nothing was waiting on Redis before it.
  submit(3, 20ms);
  mux.stage_write();
  EXPECT_EQ(mux.next_deadline(t0 + 20ms), t0 + 120ms);
}

TEST(MultiplexerLimitTest, AFullMultiplexerRefusesNotSent) {
  const Clock::time_point t0{};
  Multiplexer mux(100ms, 2, 64);
  mux.on_connected(t0);
  RecordingTarget target;
  EXPECT_TRUE(mux.submit("a", &target, 1, t0, {}, nullptr));
  EXPECT_TRUE(mux.submit("b", &target, 2, t0, {}, nullptr));
  EXPECT_FALSE(mux.submit("c", &target, 3, t0, {}, nullptr));
  EXPECT_EQ(target.tokens(ReplyStatus::NotSent), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(mux.stage_write(), "ab");
  EXPECT_EQ(mux.stats().requests, 3u);
  EXPECT_EQ(mux.stats().unavailable, 1u);
}

TEST_F(MultiplexerTest, InjectedDelaysHoldTheReplyThenDeliverOrTimeOut) {
  ASSERT_TRUE(mux.submit("a", &target, 1, t0, {}, nullptr, 30ms));
  ASSERT_TRUE(mux.submit("b", &target, 2, t0, {}, nullptr, 500ms));
  mux.stage_write();
  feed(mux, "+A\r\n+B\r\n", t0 + 10ms);
  EXPECT_TRUE(target.answers.empty());
  std::vector<Multiplexer::HeldReply> held = mux.take_held();
  ASSERT_EQ(held.size(), 2u);
  EXPECT_TRUE(mux.take_held().empty());
  EXPECT_FALSE(held[0].times_out());
  EXPECT_EQ(held[0].fire_at(), t0 + 40ms);
  EXPECT_TRUE(held[1].times_out());
  EXPECT_EQ(held[1].fire_at(), t0 + 110ms);  // served from t0 + 10ms, when the first reply came
  mux.finish_held(held[0], t0 + 40ms);
  mux.finish_held(held[1], t0 + 110ms);
  ASSERT_EQ(target.answers.size(), 2u);
  EXPECT_EQ(target.answers[0].status, ReplyStatus::Ok);
  EXPECT_EQ(target.answers[0].bytes, "+A\r\n");
  EXPECT_EQ(target.answers[1].status, ReplyStatus::Timeout);
  EXPECT_EQ(in_doubt.load(), 0);  // Redis did answer: nothing is in doubt
}

// Every permit is recorded exactly once, whatever becomes of its request.
TEST_F(MultiplexerTest, EveryPermitIsRecordedExactlyOnce) {
  breaker::CircuitBreaker breaker(never_trips(), 1);
  const auto permit = [&] { return breaker.try_acquire(t0); };
  ASSERT_TRUE(mux.submit("a", &target, 1, t0, permit(), &breaker));  // +OK: success
  ASSERT_TRUE(mux.submit("b", &target, 2, t0, permit(), &breaker));  // -LOADING: failure
  ASSERT_TRUE(mux.submit("c", &target, 3, t0, permit(), &breaker));  // -WRONGTYPE: success
  mux.stage_write();
  feed(mux, "+OK\r\n-LOADING Redis is loading\r\n-WRONGTYPE no\r\n", t0 + 1ms);
  EXPECT_EQ(target.answers[1].status, ReplyStatus::FailedReply);
  EXPECT_EQ(target.answers[2].status, ReplyStatus::Ok);
  EXPECT_EQ(breaker.counters().successes, 2u);
  EXPECT_EQ(breaker.counters().failures, 1u);

  ASSERT_TRUE(mux.submit("d", &target, 4, t0 + 10ms, permit(), &breaker));  // times out
  ASSERT_TRUE(mux.submit("e", &target, 5, t0 + 10ms, permit(), &breaker));  // times out
  mux.stage_write();
  mux.on_deadline(t0 + 111ms);
  EXPECT_EQ(breaker.counters().timeouts, 2u);
  feed(mux, "+late\r\n", t0 + 150ms);  // the late reply of 4 records nothing more
  ASSERT_TRUE(mux.submit("f", &target, 6, t0 + 150ms, permit(), &breaker));  // dropped
  mux.on_dropped(ReplyStatus::Unavailable, t0 + 160ms);    // 5 was answered already: not again
  mux.refuse(&target, 7, t0 + 170ms, permit(), &breaker);  // refused: a failure

  const breaker::BreakerCounters c = breaker.counters();
  EXPECT_EQ(c.successes, 2u);
  EXPECT_EQ(c.timeouts, 2u);
  EXPECT_EQ(c.failures, 1u + 2u + 1u + 1u);  // LOADING, 2 timeouts, the drop, the refusal
  EXPECT_EQ(target.answers.size(), 7u);      // each request answered once
}

}  // namespace
}  // namespace seawall::upstream
