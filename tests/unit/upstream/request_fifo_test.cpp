#include "seawall/upstream/request_fifo.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace seawall::upstream {
namespace {

using namespace std::chrono_literals;
using Clock = RequestFifo::Clock;

class Target : public ReplyTarget {
 public:
  void on_reply(std::uint64_t, std::string_view, ReplyStatus, Clock::time_point) override {}
};

std::vector<std::uint64_t> expire_at(RequestFifo& fifo, Clock::time_point t) {
  std::vector<std::uint64_t> tokens;
  fifo.expire(t, [&](const RequestFifo::Entry& e) { tokens.push_back(e.token); });
  return tokens;
}

// A FIFO with a 100 ms request timeout, connected at t0.
class RequestFifoTest : public ::testing::Test {
 protected:
  RequestFifoTest() { fifo.restart(t0); }
  void push(std::uint64_t token, Clock::duration at) {
    fifo.push(&target, token, t0 + at, {}, nullptr);
  }

  RequestFifo fifo{100ms};
  Target target;
  const Clock::time_point t0{};
};

TEST_F(RequestFifoTest, RepliesMatchRequestsInOrder) {
  push(1, 0ms);
  push(2, 0ms);
  EXPECT_EQ(fifo.waiting(), 2u);
  const auto first = fifo.pop_reply(t0 + 1ms);
  EXPECT_EQ(first.entry.token, 1u);
  EXPECT_FALSE(first.late);
  EXPECT_EQ(fifo.pop_reply(t0 + 2ms).entry.token, 2u);
  EXPECT_TRUE(fifo.empty());
}

TEST_F(RequestFifoTest, TimeQueuedBehindEarlierRepliesDoesNotCount) {
  push(1, 0ms);
  push(2, 0ms);
  // The first reply comes late but in time (90 ms): the second is served from then.
  EXPECT_TRUE(expire_at(fifo, t0 + 90ms).empty());
  fifo.pop_reply(t0 + 90ms);
  EXPECT_EQ(fifo.next_check(t0 + 90ms), t0 + 190ms);
  EXPECT_TRUE(expire_at(fifo, t0 + 150ms).empty());  // past its deadline, not stalled
  EXPECT_EQ(fifo.waiting(), 1u);
}

TEST_F(RequestFifoTest, APauseRedisWasAskedForIsWaitedOutAndIsNotLatency) {
  push(1, 0ms);
  push(2, 10ms);
  fifo.hold_until(t0 + 1000ms);  // CLIENT PAUSE 1000, seen at once
  EXPECT_TRUE(expire_at(fifo, t0 + 500ms).empty());
  EXPECT_EQ(fifo.next_check(t0 + 500ms), t0 + 1100ms);
  EXPECT_TRUE(expire_at(fifo, t0 + 1050ms).empty());
  // Answered after the pause: served from its end, not from the request's submission.
  EXPECT_EQ(fifo.served_from(fifo.front(), t0 + 1020ms), t0 + 1000ms);
  // A reply during the pause (a read under PAUSE WRITE) is served from when it came at most.
  EXPECT_EQ(fifo.served_from(fifo.front(), t0 + 200ms), t0 + 200ms);
  // Redis still silent a request_timeout after the pause: stalled, as without one.
  EXPECT_EQ(expire_at(fifo, t0 + 1100ms), (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(RequestFifoTest, AnUnpauseEndsTheWait) {
  push(1, 0ms);
  fifo.hold_until(t0 + 5000ms);
  fifo.hold_until(t0 + 300ms);  // CLIENT UNPAUSE at 300 ms
  EXPECT_EQ(fifo.next_check(t0 + 300ms), t0 + 400ms);
  EXPECT_EQ(expire_at(fifo, t0 + 400ms), (std::vector<std::uint64_t>{1}));
}

TEST_F(RequestFifoTest, AStalledHeadExpiresEveryRequestPastItsDeadlineAndLateRepliesAreDropped) {
  push(1, 0ms);
  push(2, 30ms);
  push(3, 150ms);
  EXPECT_EQ(expire_at(fifo, t0 + 140ms), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(fifo.expired(), 2u);
  EXPECT_EQ(fifo.waiting(), 1u);
  // Stalled: the next one is checked at its own deadline, not 100 ms after it is served.
  EXPECT_EQ(fifo.next_check(t0 + 140ms), t0 + 250ms);
  // Redis answers again: the two late replies are matched to the expired entries, in order.
  const auto late1 = fifo.pop_reply(t0 + 200ms);
  EXPECT_TRUE(late1.late);
  EXPECT_EQ(late1.entry.token, 1u);
  EXPECT_TRUE(fifo.pop_reply(t0 + 200ms).late);
  const auto third = fifo.pop_reply(t0 + 200ms);
  EXPECT_FALSE(third.late);
  EXPECT_EQ(third.entry.token, 3u);
}

TEST_F(RequestFifoTest, ClearAnswersOnlyWhatWasNotAnsweredYet) {
  push(1, 0ms);
  push(2, 50ms);
  push(3, 120ms);
  EXPECT_EQ(expire_at(fifo, t0 + 101ms), (std::vector<std::uint64_t>{1}));
  std::vector<std::uint64_t> failed;
  EXPECT_EQ(fifo.clear([&](const RequestFifo::Entry& e) { failed.push_back(e.token); }), 1u);
  EXPECT_EQ(failed, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_TRUE(fifo.empty());
  EXPECT_EQ(fifo.expired(), 0u);
}

TEST_F(RequestFifoTest, IdleChecksEveryRequestTimeout) {
  EXPECT_EQ(fifo.next_check(t0 + 5ms), t0 + 105ms);
  EXPECT_TRUE(expire_at(fifo, t0 + 500ms).empty());
}

}  // namespace
}  // namespace seawall::upstream
