#include "seawall/breaker/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace seawall::breaker {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint{} + hours(1);
constexpr std::uint64_t kSeed = 42;

// Every trigger off and no jitter, so each test turns on exactly what it checks.
BreakerConfig quiet_config() {
  BreakerConfig config;
  config.window_kind = WindowKind::Count;
  config.window_size = 10;
  config.minimum_calls = 1;
  config.failure_rate_threshold = 0.0;
  config.consecutive_failures = 0;
  config.slow_call_duration = milliseconds(100);
  config.slow_call_rate_threshold = 0.0;
  config.open_duration = seconds(1);
  config.max_open_duration = seconds(5);
  config.backoff_multiplier = 2.0;
  config.jitter = 0.0;
  config.half_open_probes = 2;
  config.half_open_successes_to_close = 3;
  return config;
}

// Records the transitions a breaker reports.
struct Transitions {
  std::vector<std::pair<State, State>> seen;
  CircuitBreaker::TransitionListener listener() {
    return [this](State from, State to) { seen.emplace_back(from, to); };
  }
};

// One whole call: acquire, then record if allowed. Returns whether it was allowed.
bool call(CircuitBreaker& breaker, Outcome outcome, TimePoint now,
          Duration latency = milliseconds(1)) {
  const Permit permit = breaker.try_acquire(now);
  if (permit.allowed()) {
    breaker.record(permit, outcome, latency, now);
  }
  return permit.allowed();
}

// Trips a breaker configured with consecutive_failures > 0.
void trip(CircuitBreaker& breaker, TimePoint now) {
  for (std::uint32_t i = 0; i < breaker.config().consecutive_failures; ++i) {
    call(breaker, Outcome::Failure, now);
  }
  ASSERT_EQ(breaker.state(now), State::Open);
}

TEST(ErrorReplyTest, RefusedUnrunIsTheErrorsRedisGivesBeforeRunningACommand) {
  for (std::string_view refused :
       {"-CLUSTERDOWN The cluster is down\r\n",
        "-TRYAGAIN Multiple keys request during rehashing\r\n", "-MOVED 3999 127.0.0.1:7001\r\n",
        "-ASK 3999 127.0.0.1:7001\r\n",
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
        "-READONLY You can't write against a read only replica.\r\n",
        "-MASTERDOWN Link with MASTER is down\r\n", "-LOADING Redis is loading\r\n",
        "-BUSY Redis is busy running a script\r\n", "-OOM command not allowed\r\n",
        "-MISCONF Redis is configured to save RDB snapshots\r\n",
        "-NOREPLICAS Not enough good replicas to write.\r\n",
        "-NOAUTH Authentication required.\r\n", "-NOPERM User has no permissions\r\n",
        "!24\r\nCLUSTERDOWN Hash slot x\r\n"}) {
    EXPECT_TRUE(refused_unrun(refused)) << refused;
  }
  // Errors a command can give after it ran, or command errors that say nothing about it, and
  // replies that are not errors.
  for (std::string_view other :
       {"-ERR Error running script\r\n", "-BUSYKEY Target key name already exists.\r\n",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        "-ERR unknown command\r\n", "+OK\r\n", ":1\r\n", "$-1\r\n", ""}) {
    EXPECT_FALSE(refused_unrun(other)) << other;
  }
}

TEST(ClassifyErrorReplyTest, ServerUnavailableErrorsAreFailures) {
  EXPECT_TRUE(classify_error_reply("-LOADING Redis is loading the dataset in memory\r\n"));
  EXPECT_TRUE(
      classify_error_reply("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                           "SHUTDOWN NOSAVE.\r\n"));
  EXPECT_TRUE(classify_error_reply(
      "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"));
  EXPECT_TRUE(classify_error_reply("-TRYAGAIN Multiple keys request during rehashing of slot\r\n"));
  EXPECT_TRUE(classify_error_reply("-LOADING\r\n"));
  EXPECT_TRUE(classify_error_reply("-BUSY"));
  EXPECT_TRUE(classify_error_reply("!27\r\nLOADING loading the dataset\r\n"));  // RESP3 blob error
  EXPECT_TRUE(classify_error_reply("MASTERDOWN link down"));                    // bare message
}

TEST(ClassifyErrorReplyTest, CommandErrorsAndOtherRepliesAreNotFailures) {
  EXPECT_FALSE(classify_error_reply(
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"));
  EXPECT_FALSE(classify_error_reply("-ERR unknown command 'FOO'\r\n"));
  EXPECT_FALSE(classify_error_reply("-BUSYGROUP Consumer Group name already exists\r\n"));
  EXPECT_FALSE(classify_error_reply("-BUSYKEY Target key name already exists.\r\n"));
  EXPECT_FALSE(classify_error_reply("-NOSCRIPT No matching script.\r\n"));
  EXPECT_FALSE(classify_error_reply("-LOADINGX something\r\n"));
  EXPECT_FALSE(classify_error_reply("-loading lower case\r\n"));
  EXPECT_FALSE(classify_error_reply("+LOADING\r\n"));       // a simple string, not an error
  EXPECT_FALSE(classify_error_reply("$7\r\nLOADING\r\n"));  // a bulk string
  EXPECT_FALSE(classify_error_reply("!7LOADING"));          // malformed blob error
  EXPECT_FALSE(classify_error_reply(""));
  EXPECT_FALSE(classify_error_reply("-"));
  EXPECT_FALSE(classify_error_reply("-\r\n"));
}

TEST(CircuitBreakerTest, ClosedAllowsEveryCall) {
  CircuitBreaker breaker(quiet_config(), kSeed);
  for (int i = 0; i < 100; ++i) {
    const Permit permit = breaker.try_acquire(kT0);
    ASSERT_TRUE(permit.allowed());
    EXPECT_FALSE(permit.is_probe());
    breaker.record(permit, Outcome::Failure, milliseconds(1), kT0);
  }
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  EXPECT_EQ(breaker.override_mode(), Override::None);
  EXPECT_EQ(breaker.counters().failures, 100u);
  EXPECT_FALSE(Permit{}.allowed());
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailures) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 3;
  Transitions transitions;
  CircuitBreaker breaker(config, kSeed, transitions.listener());

  call(breaker, Outcome::Failure, kT0);
  call(breaker, Outcome::Failure, kT0);
  call(breaker, Outcome::Success, kT0);  // breaks the run
  call(breaker, Outcome::Failure, kT0);
  call(breaker, Outcome::Failure, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  EXPECT_TRUE(transitions.seen.empty());

  call(breaker, Outcome::Failure, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Open);
  EXPECT_EQ(breaker.open_until(), kT0 + seconds(1));
  ASSERT_EQ(transitions.seen.size(), 1u);
  EXPECT_EQ(transitions.seen[0], std::make_pair(State::Closed, State::Open));

  EXPECT_FALSE(breaker.try_acquire(kT0 + milliseconds(10)).allowed());
  const BreakerCounters counters = breaker.counters();
  EXPECT_EQ(counters.failures, 5u);
  EXPECT_EQ(counters.successes, 1u);
  EXPECT_EQ(counters.rejected, 1u);
  EXPECT_EQ(counters.opened, 1u);
  EXPECT_EQ(counters.transitions, 1u);
}

TEST(CircuitBreakerTest, FailureRateTripsOnlyAfterMinimumCalls) {
  BreakerConfig config = quiet_config();
  config.window_size = 20;
  config.minimum_calls = 10;
  config.failure_rate_threshold = 50.0;
  CircuitBreaker breaker(config, kSeed);

  // Five failures out of nine calls is above 50%, but the window is still too small to judge.
  for (int i = 0; i < 9; ++i) {
    call(breaker, i % 2 == 0 ? Outcome::Failure : Outcome::Success, kT0);
  }
  EXPECT_EQ(breaker.window_totals(kT0).calls, 9u);
  EXPECT_EQ(breaker.window_totals(kT0).failures, 5u);
  EXPECT_EQ(breaker.state(kT0), State::Closed);

  // The tenth call, a success, reaches minimum_calls at exactly 50%.
  call(breaker, Outcome::Success, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Open);
}

TEST(CircuitBreakerTest, FailureRateBelowThresholdStaysClosed) {
  BreakerConfig config = quiet_config();
  config.window_size = 10;
  config.minimum_calls = 10;
  config.failure_rate_threshold = 50.0;
  CircuitBreaker breaker(config, kSeed);
  // Four failures in every ten calls: 40%.
  for (int i = 0; i < 200; ++i) {
    call(breaker, i % 10 < 4 ? Outcome::Failure : Outcome::Success, kT0);
    ASSERT_EQ(breaker.state(kT0), State::Closed) << "call " << i;
  }
}

TEST(CircuitBreakerTest, OpensOnSlowCallRate) {
  BreakerConfig config = quiet_config();
  config.minimum_calls = 4;
  config.slow_call_duration = milliseconds(100);
  config.slow_call_rate_threshold = 75.0;
  CircuitBreaker breaker(config, kSeed);

  // Latencies: slow, fast, fast, slow (exactly the threshold is slow): 2 of 4.
  call(breaker, Outcome::Success, kT0, milliseconds(150));
  call(breaker, Outcome::Success, kT0, milliseconds(10));
  call(breaker, Outcome::Success, kT0, milliseconds(99));
  call(breaker, Outcome::Success, kT0, milliseconds(100));
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  // A latency spike: every further call is slow. 3/5, 4/6, 5/7 stay below 75%; 6/8 trips.
  for (int i = 0; i < 3; ++i) {
    call(breaker, Outcome::Success, kT0, milliseconds(500));
    EXPECT_EQ(breaker.state(kT0), State::Closed);
  }
  call(breaker, Outcome::Success, kT0, milliseconds(500));
  EXPECT_EQ(breaker.state(kT0), State::Open);

  const BreakerCounters counters = breaker.counters();
  EXPECT_EQ(counters.slow_calls, 6u);
  EXPECT_EQ(counters.successes, 8u);
  EXPECT_EQ(counters.failures, 0u);
}

TEST(CircuitBreakerTest, OpensOnConsecutiveTimeouts) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 3;
  CircuitBreaker breaker(config, kSeed);
  // A timeout's latency is the deadline, below slow_call_duration here; it is slow anyway.
  call(breaker, Outcome::Timeout, kT0, milliseconds(50));
  call(breaker, Outcome::Timeout, kT0, milliseconds(50));
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  call(breaker, Outcome::Timeout, kT0, milliseconds(50));
  EXPECT_EQ(breaker.state(kT0), State::Open);
  const BreakerCounters counters = breaker.counters();
  EXPECT_EQ(counters.timeouts, 3u);
  EXPECT_EQ(counters.failures, 3u);
  EXPECT_EQ(counters.slow_calls, 3u);
}

TEST(CircuitBreakerTest, TimeoutsCountTowardsFailureRate) {
  BreakerConfig config = quiet_config();
  config.minimum_calls = 4;
  config.failure_rate_threshold = 50.0;
  CircuitBreaker breaker(config, kSeed);
  call(breaker, Outcome::Success, kT0);
  call(breaker, Outcome::Timeout, kT0);
  call(breaker, Outcome::Success, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  call(breaker, Outcome::Timeout, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Open);
}

TEST(CircuitBreakerTest, CommandErrorsDoNotCount) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 3;
  config.failure_rate_threshold = 10.0;
  CircuitBreaker breaker(config, kSeed);
  const std::string replies[] = {"-WRONGTYPE Operation against a key\r\n", "-ERR syntax error\r\n",
                                 "-NOSCRIPT No matching script\r\n"};
  for (int i = 0; i < 30; ++i) {
    const std::string& reply = replies[i % 3];
    call(breaker, classify_error_reply(reply) ? Outcome::Failure : Outcome::Success, kT0);
  }
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  EXPECT_EQ(breaker.counters().failures, 0u);
  // Whereas the server being unavailable does count.
  for (int i = 0; i < 3; ++i) {
    call(breaker,
         classify_error_reply("-LOADING loading\r\n") ? Outcome::Failure : Outcome::Success, kT0);
  }
  EXPECT_EQ(breaker.state(kT0), State::Open);
}

TEST(CircuitBreakerTest, IgnoredOutcomesCountNowhere) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 2;
  CircuitBreaker breaker(config, kSeed);
  call(breaker, Outcome::Failure, kT0);
  call(breaker, Outcome::Ignored, kT0);  // does not break the run of failures either
  EXPECT_EQ(breaker.window_totals(kT0).calls, 1u);
  call(breaker, Outcome::Failure, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Open);
  EXPECT_EQ(breaker.counters().ignored, 1u);
  EXPECT_EQ(breaker.counters().failures, 2u);
}

TEST(CircuitBreakerTest, HalfOpensWhenOpenDurationElapses) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  Transitions transitions;
  CircuitBreaker breaker(config, kSeed, transitions.listener());
  trip(breaker, kT0);

  EXPECT_FALSE(breaker.try_acquire(kT0 + milliseconds(999)).allowed());
  EXPECT_EQ(breaker.state(kT0 + milliseconds(999)), State::Open);
  EXPECT_EQ(breaker.state(kT0 + seconds(1)), State::HalfOpen);
  ASSERT_EQ(transitions.seen.size(), 2u);
  EXPECT_EQ(transitions.seen[1], std::make_pair(State::Open, State::HalfOpen));
}

TEST(CircuitBreakerTest, TryAcquireHalfOpensAndReturnsAProbe) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);
  const Permit permit = breaker.try_acquire(kT0 + seconds(2));
  EXPECT_TRUE(permit.allowed());
  EXPECT_TRUE(permit.is_probe());
  EXPECT_EQ(breaker.state(kT0 + seconds(2)), State::HalfOpen);
}

TEST(CircuitBreakerTest, HalfOpenAllowsOnlyTheConfiguredProbesAtOnce) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.half_open_probes = 2;
  config.half_open_successes_to_close = 10;
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);
  const TimePoint t = kT0 + seconds(1);

  const Permit first = breaker.try_acquire(t);
  const Permit second = breaker.try_acquire(t);
  EXPECT_TRUE(first.is_probe());
  EXPECT_TRUE(second.is_probe());
  EXPECT_FALSE(breaker.try_acquire(t).allowed());
  const std::uint64_t rejected = breaker.counters().rejected;

  breaker.record(first, Outcome::Success, milliseconds(1), t);  // frees a slot
  const Permit third = breaker.try_acquire(t);
  EXPECT_TRUE(third.is_probe());
  EXPECT_FALSE(breaker.try_acquire(t).allowed());

  breaker.record(second, Outcome::Ignored, milliseconds(0), t);  // an abandoned probe frees too
  EXPECT_TRUE(breaker.try_acquire(t).is_probe());
  EXPECT_FALSE(breaker.try_acquire(t).allowed());
  EXPECT_EQ(breaker.counters().rejected, rejected + 2);
  EXPECT_EQ(breaker.state(t), State::HalfOpen);
}

TEST(CircuitBreakerTest, ClosesAfterEnoughSuccessfulProbes) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 2;
  config.half_open_probes = 2;
  config.half_open_successes_to_close = 3;
  Transitions transitions;
  CircuitBreaker breaker(config, kSeed, transitions.listener());
  trip(breaker, kT0);
  const TimePoint t = kT0 + seconds(1);

  ASSERT_TRUE(call(breaker, Outcome::Success, t));
  ASSERT_TRUE(call(breaker, Outcome::Success, t));
  EXPECT_EQ(breaker.state(t), State::HalfOpen);
  ASSERT_TRUE(call(breaker, Outcome::Success, t));
  EXPECT_EQ(breaker.state(t), State::Closed);
  ASSERT_EQ(transitions.seen.size(), 3u);
  EXPECT_EQ(transitions.seen[2], std::make_pair(State::HalfOpen, State::Closed));

  // The closed period starts afresh: an empty window, no leftover run of failures.
  EXPECT_EQ(breaker.window_totals(t).calls, 0u);
  const Permit permit = breaker.try_acquire(t);
  EXPECT_FALSE(permit.is_probe());
  breaker.record(permit, Outcome::Failure, milliseconds(1), t);
  EXPECT_EQ(breaker.state(t), State::Closed);
}

TEST(CircuitBreakerTest, FailedProbeReopensWithBackoffUpToTheCap) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.open_duration = seconds(1);
  config.max_open_duration = seconds(5);
  config.backoff_multiplier = 2.0;
  config.half_open_successes_to_close = 1;
  Transitions transitions;
  CircuitBreaker breaker(config, kSeed, transitions.listener());

  TimePoint t = kT0;
  trip(breaker, t);
  EXPECT_EQ(breaker.open_until(), t + seconds(1));
  for (const auto expected : {seconds(2), seconds(4), seconds(5), seconds(5)}) {
    t = breaker.open_until();
    ASSERT_TRUE(call(breaker, Outcome::Failure, t));
    EXPECT_EQ(breaker.state(t), State::Open);
    EXPECT_EQ(breaker.open_until(), t + expected);
  }
  EXPECT_EQ(transitions.seen.back(), std::make_pair(State::HalfOpen, State::Open));
  EXPECT_EQ(breaker.counters().opened, 5u);

  // Closing resets the backoff: the next trip opens for the base duration again.
  t = breaker.open_until();
  ASSERT_TRUE(call(breaker, Outcome::Success, t));
  ASSERT_EQ(breaker.state(t), State::Closed);
  trip(breaker, t);
  EXPECT_EQ(breaker.open_until(), t + seconds(1));
}

TEST(CircuitBreakerTest, TimedOutProbeReopens) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);
  const TimePoint t = kT0 + seconds(1);
  ASSERT_TRUE(call(breaker, Outcome::Timeout, t, milliseconds(50)));
  EXPECT_EQ(breaker.state(t), State::Open);
  EXPECT_EQ(breaker.open_until(), t + seconds(2));
}

TEST(CircuitBreakerTest, SlowProbeReopensWhenSlowCallsTrip) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.slow_call_rate_threshold = 100.0;
  config.slow_call_duration = milliseconds(100);
  config.half_open_successes_to_close = 1;
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);
  const TimePoint t = kT0 + seconds(1);
  ASSERT_TRUE(call(breaker, Outcome::Success, t, milliseconds(300)));
  EXPECT_EQ(breaker.state(t), State::Open);
  const TimePoint later = breaker.open_until();
  ASSERT_TRUE(call(breaker, Outcome::Success, later, milliseconds(5)));
  EXPECT_EQ(breaker.state(later), State::Closed);
}

TEST(CircuitBreakerTest, JitterShortensTheOpenPeriodWithinBoundsAndFollowsTheSeed) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.open_duration = seconds(1);
  config.max_open_duration = seconds(8);
  config.backoff_multiplier = 2.0;
  config.jitter = 0.5;
  CircuitBreaker a(config, 7);
  CircuitBreaker b(config, 7);
  CircuitBreaker c(config, 8);

  // The same sequence of events on three breakers; record each open period.
  std::vector<Duration> periods[3];
  CircuitBreaker* breakers[] = {&a, &b, &c};
  for (int i = 0; i < 3; ++i) {
    TimePoint t = kT0;
    trip(*breakers[i], t);
    periods[i].push_back(breakers[i]->open_until() - t);
    for (int reopen = 0; reopen < 6; ++reopen) {
      t = breakers[i]->open_until();
      ASSERT_TRUE(call(*breakers[i], Outcome::Failure, t));
      periods[i].push_back(breakers[i]->open_until() - t);
    }
  }
  const std::vector<Duration> uncapped = {seconds(1), seconds(2), seconds(4), seconds(8),
                                          seconds(8), seconds(8), seconds(8)};
  ASSERT_EQ(periods[0].size(), uncapped.size());
  for (std::size_t i = 0; i < uncapped.size(); ++i) {
    EXPECT_LE(periods[0][i], uncapped[i]) << i;
    EXPECT_GE(periods[0][i], uncapped[i] / 2) << i;
  }
  EXPECT_EQ(periods[0], periods[1]);
  EXPECT_NE(periods[0], periods[2]);
  // Jitter actually varies the periods at the cap.
  EXPECT_NE(periods[0][4], periods[0][5]);
}

TEST(CircuitBreakerTest, LateOutcomesOfAnEarlierStateDoNotCount) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 2;
  config.half_open_probes = 1;
  config.half_open_successes_to_close = 1;
  CircuitBreaker breaker(config, kSeed);

  // Calls started while closed finish after the breaker opened and half-opened.
  const Permit slow_success = breaker.try_acquire(kT0);
  const Permit slow_failure = breaker.try_acquire(kT0);
  trip(breaker, kT0);
  const TimePoint t = kT0 + seconds(1);
  const Permit probe = breaker.try_acquire(t);
  ASSERT_TRUE(probe.is_probe());
  breaker.record(slow_success, Outcome::Success, milliseconds(1), t);
  breaker.record(slow_failure, Outcome::Failure, milliseconds(1), t);
  EXPECT_EQ(breaker.state(t), State::HalfOpen);    // neither closed nor reopened it
  EXPECT_FALSE(breaker.try_acquire(t).allowed());  // nor freed the probe slot

  // A probe answered after its half-open period ended changes nothing either.
  breaker.force_open();
  breaker.reset();
  breaker.record(probe, Outcome::Failure, milliseconds(1), t);
  EXPECT_EQ(breaker.state(t), State::Closed);

  // Nor does a call from the previous closed period land in the new closed period's window.
  const Permit old_call = breaker.try_acquire(t);
  trip(breaker, t);
  ASSERT_TRUE(call(breaker, Outcome::Success, t + seconds(1)));
  ASSERT_EQ(breaker.state(t + seconds(1)), State::Closed);
  breaker.record(old_call, Outcome::Failure, milliseconds(1), t + seconds(1));
  EXPECT_EQ(breaker.window_totals(t + seconds(1)).calls, 0u);
  call(breaker, Outcome::Failure, t + seconds(1));  // one failure of the two that would trip
  EXPECT_EQ(breaker.state(t + seconds(1)), State::Closed);
}

TEST(CircuitBreakerTest, ForceOpenRejectsEverythingAndNeverHalfOpens) {
  Transitions transitions;
  CircuitBreaker breaker(quiet_config(), kSeed, transitions.listener());
  breaker.force_open();
  EXPECT_EQ(breaker.override_mode(), Override::ForcedOpen);
  EXPECT_EQ(breaker.state(kT0 + hours(24)), State::Open);
  EXPECT_FALSE(breaker.try_acquire(kT0 + hours(24)).allowed());
  EXPECT_EQ(breaker.counters().rejected, 1u);

  breaker.reset();
  EXPECT_EQ(breaker.override_mode(), Override::None);
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  EXPECT_TRUE(breaker.try_acquire(kT0).allowed());
  const std::vector<std::pair<State, State>> expected = {{State::Closed, State::Open},
                                                         {State::Open, State::Closed}};
  EXPECT_EQ(transitions.seen, expected);
}

TEST(CircuitBreakerTest, ForceCloseNeverTripsUntilReset) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 3;
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);

  breaker.force_close();
  EXPECT_EQ(breaker.override_mode(), Override::ForcedClosed);
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(call(breaker, Outcome::Failure, kT0));
  }
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  EXPECT_EQ(breaker.window_totals(kT0).failures, 10u);  // still measured

  breaker.reset();
  EXPECT_EQ(breaker.window_totals(kT0).calls, 0u);
  call(breaker, Outcome::Failure, kT0);
  call(breaker, Outcome::Failure, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  call(breaker, Outcome::Failure, kT0);
  EXPECT_EQ(breaker.state(kT0), State::Open);
}

TEST(CircuitBreakerTest, ForceOpenOverridesHalfOpenAndForceCloseOverridesForceOpen) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);
  const TimePoint t = kT0 + seconds(1);
  const Permit probe = breaker.try_acquire(t);
  ASSERT_TRUE(probe.is_probe());
  breaker.force_open();
  breaker.record(probe, Outcome::Success, milliseconds(1), t);
  EXPECT_EQ(breaker.state(t + hours(1)), State::Open);
  breaker.force_close();
  EXPECT_EQ(breaker.state(t), State::Closed);
  EXPECT_EQ(breaker.override_mode(), Override::ForcedClosed);
}

TEST(CircuitBreakerTest, ResetRestartsBackoffAndWindow) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);
  TimePoint t = breaker.open_until();
  ASSERT_TRUE(call(breaker, Outcome::Failure, t));  // probe fails: 2 s
  EXPECT_EQ(breaker.open_until(), t + seconds(2));
  breaker.reset();
  EXPECT_EQ(breaker.state(t), State::Closed);
  EXPECT_EQ(breaker.window_totals(t).calls, 0u);
  trip(breaker, t);
  EXPECT_EQ(breaker.open_until(), t + seconds(1));
}

TEST(CircuitBreakerTest, EndOpenPeriodHalfOpensAtOnceAndKeepsTheBackoff) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.max_open_duration = seconds(30);
  config.half_open_successes_to_close = 1;
  Transitions transitions;
  CircuitBreaker breaker(config, kSeed, transitions.listener());
  trip(breaker, kT0);
  TimePoint t = breaker.open_until();
  ASSERT_TRUE(call(breaker, Outcome::Failure, t));                     // probe fails: open 2 s
  ASSERT_TRUE(call(breaker, Outcome::Failure, breaker.open_until()));  // and again: 4 s
  t = breaker.open_until() - seconds(4);
  ASSERT_EQ(breaker.state(t), State::Open);

  // A health check saw Redis answer 100 ms into the 4 s period: probes may go at once.
  const TimePoint seen = t + milliseconds(100);
  EXPECT_TRUE(breaker.end_open_period(seen));
  EXPECT_EQ(breaker.state(seen), State::HalfOpen);
  EXPECT_LE(breaker.open_until(), seen);
  EXPECT_EQ(transitions.seen.back(), std::make_pair(State::Open, State::HalfOpen));
  const Permit probe = breaker.try_acquire(seen);
  ASSERT_TRUE(probe.is_probe());
  EXPECT_FALSE(breaker.end_open_period(seen));  // half-open already: nothing to end

  // The backoff level survived: a failed probe reopens for 8 s, not the base 1 s.
  breaker.record(probe, Outcome::Failure, milliseconds(1), seen);
  EXPECT_EQ(breaker.state(seen), State::Open);
  EXPECT_EQ(breaker.open_until(), seen + seconds(8));
  EXPECT_TRUE(breaker.end_open_period(seen + milliseconds(10)));
  ASSERT_TRUE(call(breaker, Outcome::Success, seen + milliseconds(10)));
  EXPECT_EQ(breaker.state(seen + milliseconds(10)), State::Closed);
}

TEST(CircuitBreakerTest, EndOpenPeriodLeavesClosedAndForcedOpenAlone) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  Transitions transitions;
  CircuitBreaker breaker(config, kSeed, transitions.listener());
  EXPECT_FALSE(breaker.end_open_period(kT0));
  EXPECT_EQ(breaker.state(kT0), State::Closed);

  breaker.force_open();
  EXPECT_FALSE(breaker.end_open_period(kT0));
  EXPECT_EQ(breaker.state(kT0 + hours(1)), State::Open);
  EXPECT_FALSE(breaker.try_acquire(kT0 + hours(1)).allowed());
  EXPECT_EQ(transitions.seen.size(), 1u);  // only the forced opening
}

// A breaker with the same timing as quiet_config() but other thresholds, as a reload builds.
BreakerConfig reloaded_config() {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 7;
  config.window_size = 20;
  return config;
}

TEST(CircuitBreakerTest, AdoptsAnOpenStateWithItsRemainingPeriodAndBackoff) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.half_open_successes_to_close = 1;
  CircuitBreaker old(config, kSeed);
  trip(old, kT0);
  ASSERT_TRUE(call(old, Outcome::Failure, old.open_until()));  // open 2 s from kT0 + 1 s
  const TimePoint until = old.open_until();
  ASSERT_EQ(until, kT0 + seconds(3));

  Transitions transitions;
  CircuitBreaker next(reloaded_config(), kSeed, transitions.listener());
  next.adopt_state_of(old, kT0 + milliseconds(1500));
  EXPECT_EQ(next.state(kT0 + milliseconds(1500)), State::Open);
  EXPECT_EQ(next.override_mode(), Override::None);
  EXPECT_EQ(next.open_until(), until);
  EXPECT_FALSE(next.try_acquire(until - milliseconds(1)).allowed());
  EXPECT_TRUE(transitions.seen.empty());  // an adoption is not a transition
  EXPECT_EQ(next.counters().opened, 0u);

  // The remaining period runs out on time; a failed probe continues old's backoff (4 s).
  const Permit probe = next.try_acquire(until);
  ASSERT_TRUE(probe.is_probe());
  next.record(probe, Outcome::Failure, milliseconds(1), until);
  EXPECT_EQ(next.open_until(), until + seconds(4));
}

TEST(CircuitBreakerTest, AdoptedOpenPeriodIsCappedAtTheNewMaximum) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.open_duration = seconds(60);
  config.max_open_duration = seconds(60);
  CircuitBreaker old(config, kSeed);
  trip(old, kT0);
  BreakerConfig shorter = reloaded_config();
  shorter.max_open_duration = seconds(5);
  CircuitBreaker next(shorter, kSeed);
  next.adopt_state_of(old, kT0 + seconds(1));
  EXPECT_EQ(next.open_until(), kT0 + seconds(6));
  EXPECT_EQ(next.state(kT0 + seconds(6)), State::HalfOpen);
}

TEST(CircuitBreakerTest, AdoptsHalfOpenWithFreshProbes) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.half_open_probes = 1;
  CircuitBreaker old(config, kSeed);
  trip(old, kT0);
  const TimePoint t = kT0 + seconds(1);
  const Permit old_probe = old.try_acquire(t);
  ASSERT_TRUE(old_probe.is_probe());
  ASSERT_FALSE(old.try_acquire(t).allowed());  // old's one probe slot is taken

  CircuitBreaker next(reloaded_config(), kSeed);
  next.adopt_state_of(old, t);
  EXPECT_EQ(next.state(t), State::HalfOpen);
  // reloaded_config() allows 2 probes at once; none is in flight in the new breaker.
  EXPECT_TRUE(next.try_acquire(t).is_probe());
  EXPECT_TRUE(next.try_acquire(t).is_probe());
  EXPECT_FALSE(next.try_acquire(t).allowed());
  // old's probe records into old and changes nothing in the new breaker.
  old.record(old_probe, Outcome::Failure, milliseconds(1), t);
  EXPECT_EQ(old.state(t), State::Open);
  EXPECT_EQ(next.state(t), State::HalfOpen);
}

TEST(CircuitBreakerTest, AdoptsClosedWithTheRunOfConsecutiveFailures) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 7;
  CircuitBreaker old(config, kSeed);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(call(old, Outcome::Failure, kT0));
  }
  ASSERT_EQ(old.state(kT0), State::Closed);
  CircuitBreaker next(reloaded_config(), kSeed);  // trips after 7 in a row too
  next.adopt_state_of(old, kT0);
  EXPECT_EQ(next.state(kT0), State::Closed);
  EXPECT_EQ(next.window_totals(kT0).calls, 0u);  // the window starts empty
  ASSERT_TRUE(call(next, Outcome::Failure, kT0));
  EXPECT_EQ(next.state(kT0), State::Closed);
  ASSERT_TRUE(call(next, Outcome::Failure, kT0));  // the 7th in a row
  EXPECT_EQ(next.state(kT0), State::Open);
}

TEST(CircuitBreakerTest, AdoptsForcedOverrides) {
  CircuitBreaker forced_open(quiet_config(), kSeed);
  forced_open.force_open();
  CircuitBreaker next(reloaded_config(), kSeed);
  next.adopt_state_of(forced_open, kT0);
  EXPECT_EQ(next.override_mode(), Override::ForcedOpen);
  EXPECT_EQ(next.state(kT0 + hours(24)), State::Open);
  EXPECT_FALSE(next.try_acquire(kT0 + hours(24)).allowed());
  EXPECT_FALSE(next.end_open_period(kT0));

  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  CircuitBreaker forced_closed(config, kSeed);
  forced_closed.force_close();
  BreakerConfig trips_at_once = reloaded_config();
  trips_at_once.consecutive_failures = 1;
  CircuitBreaker closed(trips_at_once, kSeed);
  closed.adopt_state_of(forced_closed, kT0);
  EXPECT_EQ(closed.override_mode(), Override::ForcedClosed);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(call(closed, Outcome::Failure, kT0));
  }
  EXPECT_EQ(closed.state(kT0), State::Closed);
  closed.reset();
  EXPECT_EQ(closed.override_mode(), Override::None);
  call(closed, Outcome::Failure, kT0);
  EXPECT_EQ(closed.state(kT0), State::Open);
}

TEST(CircuitBreakerTest, CountWindowSlides) {
  BreakerConfig config = quiet_config();
  config.window_size = 4;
  config.minimum_calls = 4;
  config.failure_rate_threshold = 50.0;
  CircuitBreaker breaker(config, kSeed);

  call(breaker, Outcome::Failure, kT0);
  for (int i = 0; i < 3; ++i) {
    call(breaker, Outcome::Success, kT0);
  }
  EXPECT_EQ(breaker.window_totals(kT0).calls, 4u);
  EXPECT_EQ(breaker.window_totals(kT0).failures, 1u);
  call(breaker, Outcome::Success, kT0);  // the failure slides out
  EXPECT_EQ(breaker.window_totals(kT0).calls, 4u);
  EXPECT_EQ(breaker.window_totals(kT0).failures, 0u);

  call(breaker, Outcome::Failure, kT0);  // S S S F: 25%
  EXPECT_EQ(breaker.state(kT0), State::Closed);
  call(breaker, Outcome::Failure, kT0);  // S S F F: 50%
  EXPECT_EQ(breaker.window_totals(kT0).failures, 2u);
  EXPECT_EQ(breaker.state(kT0), State::Open);
}

BreakerConfig time_window_config() {
  BreakerConfig config = quiet_config();
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  config.minimum_calls = 4;
  config.failure_rate_threshold = 50.0;
  return config;
}

TEST(CircuitBreakerTest, TimeWindowCountsRecentBuckets) {
  CircuitBreaker breaker(time_window_config(), kSeed);
  for (int i = 0; i < 3; ++i) {
    call(breaker, Outcome::Failure, kT0);
  }
  EXPECT_EQ(breaker.window_totals(kT0 + milliseconds(9999)).calls, 3u);
  // Nine seconds later the failures are still in the window: 3 of 4 trips it.
  call(breaker, Outcome::Success, kT0 + seconds(9));
  EXPECT_EQ(breaker.state(kT0 + seconds(9)), State::Open);
}

TEST(CircuitBreakerTest, TimeWindowDropsExpiredBuckets) {
  CircuitBreaker breaker(time_window_config(), kSeed);
  for (int i = 0; i < 3; ++i) {
    call(breaker, Outcome::Failure, kT0);
  }
  // Ten seconds later the bucket holding them has left the window.
  EXPECT_EQ(breaker.window_totals(kT0 + seconds(10)).calls, 0u);
  call(breaker, Outcome::Failure, kT0 + seconds(10));
  call(breaker, Outcome::Success, kT0 + seconds(10));
  call(breaker, Outcome::Success, kT0 + seconds(11));
  call(breaker, Outcome::Success, kT0 + seconds(12));
  EXPECT_EQ(breaker.window_totals(kT0 + seconds(12)).calls, 4u);
  EXPECT_EQ(breaker.window_totals(kT0 + seconds(12)).failures, 1u);
  EXPECT_EQ(breaker.state(kT0 + seconds(12)), State::Closed);
  // And a bucket reused after a full turn of the ring starts from zero.
  EXPECT_EQ(breaker.window_totals(kT0 + seconds(20)).calls, 2u);
  call(breaker, Outcome::Success, kT0 + seconds(20));
  EXPECT_EQ(breaker.window_totals(kT0 + seconds(20)).calls, 3u);
}

TEST(SlidingWindowTest, CountWindowKeepsTheLastNCalls) {
  BreakerConfig config;
  config.window_kind = WindowKind::Count;
  config.window_size = 3;
  SlidingWindow window(config);
  EXPECT_EQ(window.totals(kT0).calls, 0u);
  WindowTotals totals = window.add({true, false}, kT0);
  EXPECT_EQ(totals.calls, 1u);
  EXPECT_EQ(totals.failures, 1u);
  window.add({false, true}, kT0);
  window.add({false, true}, kT0);
  totals = window.add({false, false}, kT0);  // the failure leaves
  EXPECT_EQ(totals.calls, 3u);
  EXPECT_EQ(totals.failures, 0u);
  EXPECT_EQ(totals.slow, 2u);
  for (int i = 0; i < 1000; ++i) {
    totals = window.add({i % 3 == 0, i % 3 == 1}, kT0);
  }
  // The last three are i = 997 (slow), 998 (neither), 999 (failure).
  EXPECT_EQ(totals.calls, 3u);
  EXPECT_EQ(totals.failures, 1u);
  EXPECT_EQ(totals.slow, 1u);
  window.clear();
  totals = window.totals(kT0);
  EXPECT_EQ(totals.calls, 0u);
  EXPECT_EQ(totals.failures, 0u);
  EXPECT_EQ(totals.slow, 0u);
}

TEST(SlidingWindowTest, TimeBucketHalvesWhenFullAndKeepsItsRate) {
  BreakerConfig config;
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  SlidingWindow window(config);
  WindowTotals totals;
  for (std::uint32_t i = 0; i < SlidingWindow::kMaxBucketCalls; ++i) {
    totals = window.add({i % 2 == 0, false}, kT0);
  }
  EXPECT_EQ(totals.calls, SlidingWindow::kMaxBucketCalls);
  EXPECT_EQ(totals.failures, (SlidingWindow::kMaxBucketCalls + 1) / 2);
  totals = window.add({false, false}, kT0);
  EXPECT_EQ(totals.calls, SlidingWindow::kMaxBucketCalls / 2 + 1);
  EXPECT_EQ(totals.failures, (SlidingWindow::kMaxBucketCalls + 1) / 4);
}

TEST(SlidingWindowTest, TimeWindowDropsACallOlderThanItsBucket) {
  BreakerConfig config;
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  SlidingWindow window(config);
  window.add({true, false}, kT0 + seconds(10));
  // Stamped one full ring earlier: the same bucket, which already holds a later second.
  window.add({true, false}, kT0);
  EXPECT_EQ(window.totals(kT0 + seconds(10)).calls, 1u);
  window.clear();
  EXPECT_EQ(window.totals(kT0 + seconds(10)).calls, 0u);
}

TEST(SlidingWindowTest, TimeWindowWorksAtAnyClockValue) {
  BreakerConfig config;
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  // steady_clock counts from an arbitrary origin (often boot), so the bucket tags of a fresh
  // window can be anywhere in their cycle, including its second half.
  for (const auto base : {seconds(3600), seconds((1 << 21) + 5), seconds((1 << 22) - 1),
                          seconds(1 << 22), seconds(100LL * 24 * 3600)}) {
    SlidingWindow window(config);
    const TimePoint t = TimePoint{} + base;
    window.add({true, false}, t);
    window.add({false, false}, t + seconds(3));
    EXPECT_EQ(window.totals(t + seconds(3)).calls, 2u) << base.count();
    EXPECT_EQ(window.totals(t + seconds(3)).failures, 1u) << base.count();
    EXPECT_EQ(window.totals(t + seconds(10)).calls, 1u) << base.count();
  }
}

TEST(SlidingWindowTest, TimeWindowNeverTakesAnAncientBucketForACurrentOne) {
  BreakerConfig config;
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  SlidingWindow window(config);
  window.add({true, true}, kT0);
  // Bucket tags keep the low 22 bits of the second: 2^22 s later the tag repeats, and 5 * 2^22 s
  // later the same bucket index does too.
  const TimePoint same_tag = kT0 + seconds(std::int64_t{1} << 22);
  const TimePoint same_bucket = kT0 + seconds(std::int64_t{5} << 22);
  EXPECT_EQ(window.totals(same_tag).calls, 0u);
  EXPECT_EQ(window.totals(same_bucket).calls, 0u);
  const WindowTotals totals = window.add({false, false}, same_bucket);
  EXPECT_EQ(totals.calls, 1u);
  EXPECT_EQ(totals.failures, 0u);
  EXPECT_EQ(totals.slow, 0u);
}

TEST(SlidingWindowTest, TimeWindowCountsALateCallStillInsideTheWindow) {
  BreakerConfig config;
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  SlidingWindow window(config);
  window.add({false, false}, kT0 + seconds(5));
  window.add({true, false}, kT0 + seconds(2));  // another thread's slightly older `now`
  window.add({true, false}, kT0 - seconds(5));  // older than the window: dropped
  const WindowTotals totals = window.totals(kT0 + seconds(5));
  EXPECT_EQ(totals.calls, 2u);
  EXPECT_EQ(totals.failures, 1u);
}

TEST(BreakerConfigTest, DefaultsAreValid) { EXPECT_TRUE(validate(BreakerConfig{}).empty()); }

TEST(BreakerConfigTest, ReportsEveryBadField) {
  BreakerConfig config;
  config.window_size = 0;
  config.failure_rate_threshold = 150.0;
  config.open_duration = seconds(10);
  config.max_open_duration = seconds(1);
  config.jitter = -0.1;
  config.half_open_probes = 0;
  const std::vector<std::string> errors = validate(config);
  const std::vector<std::string> expected = {
      "window_size: must be between 1 and 1000000",
      "minimum_calls: must be <= window_size, or the rates never trip",
      "failure_rate_threshold: must be a percentage between 0 (off) and 100",
      "max_open_duration: must be >= open_duration",
      "jitter: must be a fraction between 0 and 1",
      "half_open_probes: must be between 1 and 65535",
  };
  EXPECT_EQ(errors, expected);
}

TEST(BreakerConfigTest, ReportsMinimumCallsAboveTheCountWindow) {
  BreakerConfig config;
  config.window_size = 10;
  config.minimum_calls = 11;
  const std::vector<std::string> expected = {
      "minimum_calls: must be <= window_size, or the rates never trip"};
  EXPECT_EQ(validate(config), expected);
  config.window_kind = WindowKind::Time;  // a time window has no such bound
  EXPECT_TRUE(validate(config).empty());
  config.window_buckets = 101;
  config.window_duration = milliseconds(0);
  const std::vector<std::string> time_errors = {"window_buckets: must be between 1 and 100",
                                                "window_duration: must be > 0"};
  EXPECT_EQ(validate(config), time_errors);
}

TEST(BreakerConfigTest, ClampsAnInvalidConfig) {
  BreakerConfig config = quiet_config();
  config.consecutive_failures = 1;
  config.half_open_probes = 0;                  // clamped to 1
  config.max_open_duration = milliseconds(10);  // clamped up to open_duration
  CircuitBreaker breaker(config, kSeed);
  trip(breaker, kT0);
  EXPECT_EQ(breaker.open_until(), kT0 + seconds(1));
  const TimePoint t = breaker.open_until();
  EXPECT_TRUE(breaker.try_acquire(t).is_probe());
  EXPECT_FALSE(breaker.try_acquire(t).allowed());
}

// Four threads hammer one breaker through bursts of failures, so it trips, half-opens and closes
// many times while calls race with transitions. Every call must be accounted for exactly once.
TEST(CircuitBreakerConcurrencyTest, CountersAddUpUnderContention) {
  BreakerConfig config;
  config.window_kind = WindowKind::Count;
  config.window_size = 50;
  config.minimum_calls = 20;
  config.failure_rate_threshold = 50.0;
  config.consecutive_failures = 10;
  config.slow_call_duration = milliseconds(5);
  config.slow_call_rate_threshold = 0.0;
  config.open_duration = milliseconds(1);
  config.max_open_duration = milliseconds(4);
  config.jitter = 0.3;
  config.half_open_probes = 2;
  config.half_open_successes_to_close = 3;

  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 50000;
  std::atomic<std::uint64_t> listener_calls{0};
  std::atomic<std::uint64_t> into_open{0};
  std::atomic<std::uint64_t> bad_transitions{0};
  CircuitBreaker breaker(config, kSeed, [&](State from, State to) {
    listener_calls.fetch_add(1);
    const bool valid = (from == State::Closed && to == State::Open) ||
                       (from == State::Open && to == State::HalfOpen) ||
                       (from == State::HalfOpen && to == State::Closed) ||
                       (from == State::HalfOpen && to == State::Open);
    if (!valid) {
      bad_transitions.fetch_add(1);
    }
    if (to == State::Open) {
      into_open.fetch_add(1);
    }
  });

  struct Tally {
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t slow = 0;
    std::uint64_t ignored = 0;
    std::uint64_t rejected = 0;
    std::uint64_t probes = 0;
  };
  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back([&breaker, &tally = tallies[static_cast<std::size_t>(id)], id] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        // Time advances 10 us per call; each thread is offset so their clocks interleave.
        const TimePoint now = kT0 + microseconds(10 * i + id);
        const Permit permit = breaker.try_acquire(now);
        if (!permit.allowed()) {
          ++tally.rejected;
          continue;
        }
        if (permit.is_probe()) {
          ++tally.probes;
        }
        // Bursts: 300 calls healthy, then 200 failing.
        const bool failing = i % 500 >= 300;
        Outcome outcome = failing ? Outcome::Failure : Outcome::Success;
        if (i % 97 == 0) {
          outcome = Outcome::Ignored;
        } else if (failing && i % 7 == 0) {
          outcome = Outcome::Timeout;
        }
        const Duration latency = microseconds(i % 13 == 0 ? 6000 : 100);
        breaker.record(permit, outcome, latency, now);
        switch (outcome) {
          case Outcome::Success:
            ++tally.successes;
            break;
          case Outcome::Failure:
            ++tally.failures;
            break;
          case Outcome::Timeout:
            ++tally.failures;
            ++tally.timeouts;
            break;
          case Outcome::Ignored:
            ++tally.ignored;
            break;
        }
        if (outcome != Outcome::Ignored && (outcome == Outcome::Timeout || i % 13 == 0)) {
          ++tally.slow;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  Tally total;
  for (const Tally& tally : tallies) {
    total.successes += tally.successes;
    total.failures += tally.failures;
    total.timeouts += tally.timeouts;
    total.slow += tally.slow;
    total.ignored += tally.ignored;
    total.rejected += tally.rejected;
    total.probes += tally.probes;
  }
  const BreakerCounters counters = breaker.counters();
  EXPECT_EQ(counters.successes, total.successes);
  EXPECT_EQ(counters.failures, total.failures);
  EXPECT_EQ(counters.timeouts, total.timeouts);
  EXPECT_EQ(counters.slow_calls, total.slow);
  EXPECT_EQ(counters.ignored, total.ignored);
  EXPECT_EQ(counters.rejected, total.rejected);
  EXPECT_EQ(counters.successes + counters.failures + counters.ignored + counters.rejected,
            std::uint64_t{kThreads} * kCallsPerThread);

  EXPECT_EQ(counters.transitions, listener_calls.load());
  EXPECT_EQ(counters.opened, into_open.load());
  EXPECT_EQ(bad_transitions.load(), 0u);
  // The bursts really drove it round the cycle, probes included.
  EXPECT_GT(counters.opened, 10u);
  EXPECT_GT(total.probes, 0u);
  EXPECT_GT(total.rejected, 0u);

  // Every probe was recorded, so no slot leaked: once the open period is over a call gets through.
  const TimePoint later = kT0 + hours(1);
  EXPECT_TRUE(breaker.try_acquire(later).allowed());
}

TEST(SlidingWindowConcurrencyTest, TotalsMatchTheSlotsAfterRacingAdds) {
  BreakerConfig config;
  config.window_kind = WindowKind::Count;
  config.window_size = 64;  // small, so threads overwrite each other's slots constantly
  SlidingWindow window(config);
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back([&window, id] {
      for (int i = 0; i < 100000; ++i) {
        window.add({id % 2 == 0, id >= 2}, kT0);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  const WindowTotals totals = window.totals(kT0);
  EXPECT_EQ(totals.calls, 64u);
  EXPECT_LE(totals.failures, 64u);
  EXPECT_LE(totals.slow, 64u);
  // clear() subtracts exactly what the slots hold, so only exact bookkeeping returns to zero.
  window.clear();
  const WindowTotals cleared = window.totals(kT0);
  EXPECT_EQ(cleared.calls, 0u);
  EXPECT_EQ(cleared.failures, 0u);
  EXPECT_EQ(cleared.slow, 0u);
}

TEST(SlidingWindowConcurrencyTest, TimeBucketLosesNoConcurrentAdd) {
  BreakerConfig config;
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  SlidingWindow window(config);
  constexpr int kThreads = 4;
  constexpr int kAdds = 3000;  // 12000 in all, under the per-bucket limit
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back([&window, id] {
      for (int i = 0; i < kAdds; ++i) {
        // Two seconds, so two buckets, in use at once.
        window.add({id == 0, id == 1}, kT0 + milliseconds(i % 2 == 0 ? 100 : 1100));
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  const WindowTotals totals = window.totals(kT0 + seconds(2));
  EXPECT_EQ(totals.calls, std::uint32_t{kThreads * kAdds});
  EXPECT_EQ(totals.failures, std::uint32_t{kAdds});
  EXPECT_EQ(totals.slow, std::uint32_t{kAdds});
}

TEST(SlidingWindowConcurrencyTest, TimeWindowStaysExactWhileThreadsMoveItForward) {
  BreakerConfig config;
  config.window_kind = WindowKind::Time;
  config.window_duration = seconds(10);
  config.window_buckets = 10;
  SlidingWindow window(config);
  constexpr int kThreads = 4;
  constexpr int kAdds = 30000;  // one per millisecond: 30 s, so the ring turns three times
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back([&window, id] {
      for (int i = 0; i < kAdds; ++i) {
        window.add({id == 0, false}, kT0 + milliseconds(i));
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  // Threads run ahead of one another, so many calls arrive late; still every call of the last ten
  // seconds is counted exactly once and none older.
  const WindowTotals totals = window.totals(kT0 + milliseconds(kAdds - 1));
  EXPECT_EQ(totals.calls, std::uint32_t{kThreads * 10000});
  EXPECT_EQ(totals.failures, 10000u);
}

}  // namespace
}  // namespace seawall::breaker
