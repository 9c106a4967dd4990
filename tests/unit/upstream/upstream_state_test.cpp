#include "seawall/upstream/upstream_state.hpp"

#include <gtest/gtest.h>

namespace seawall::upstream {
namespace {

using namespace std::chrono_literals;

TEST(UpstreamStateTest, ErrorLinesNameTheUpstream) {
  UpstreamConfig c;
  c.name = "cache-a";
  UpstreamState s(c, JournalConfig{}, 1);
  EXPECT_EQ(s.no_fallback_error(),
            "-UNAVAILABLE seawall: upstream 'cache-a' is unavailable and nothing can answer\r\n");
  EXPECT_EQ(s.write_rejected_error().rfind("-UNAVAILABLE seawall: upstream 'cache-a'", 0), 0u);
}

TEST(UpstreamStateTest, ReadyOnlyWhenTheJournalIsEmpty) {
  UpstreamConfig c;
  c.name = "a";
  UpstreamState s(c, JournalConfig{}, 1);
  EXPECT_TRUE(s.ready());
  const std::vector<std::string_view> set = {"SET", "k", "v"};
  ASSERT_EQ(s.journal().append(set, Journal::Mode::Journal, std::chrono::system_clock::now()),
            Journal::Append::Ok);
  EXPECT_FALSE(s.ready());
}

// A config whose breaker trips on the first failure, with no jitter, so open periods are exact.
UpstreamConfig tripping_config() {
  UpstreamConfig c;
  c.name = "a";
  c.breaker.consecutive_failures = 1;
  c.breaker.jitter = 0.0;
  c.breaker.open_duration = 1000ms;
  return c;
}

void fail_once(breaker::CircuitBreaker& b, UpstreamState::Clock::time_point now) {
  const breaker::Permit permit = b.try_acquire(now);
  ASSERT_TRUE(permit.allowed());
  b.record(permit, breaker::Outcome::Failure, 1ms, now);
}

TEST(UpstreamStateTest, ReloadWithSameThresholdsKeepsTheBreaker) {
  UpstreamState s(tripping_config(), JournalConfig{}, 1);
  breaker::CircuitBreaker* before = &s.breaker();
  EXPECT_FALSE(s.reconfigure_breaker(tripping_config().breaker, UpstreamState::Clock::now()));
  EXPECT_EQ(&s.breaker(), before);
}

TEST(UpstreamStateTest, ReloadedBreakerKeepsAnOpenStateAndItsPeriod) {
  UpstreamState s(tripping_config(), JournalConfig{}, 1);
  const auto t0 = UpstreamState::Clock::now();
  fail_once(s.breaker(), t0);
  ASSERT_EQ(s.breaker().state(t0), breaker::State::Open);
  const auto until = s.breaker().open_until();

  breaker::BreakerConfig changed = tripping_config().breaker;
  changed.consecutive_failures = 9;
  breaker::CircuitBreaker* before = &s.breaker();
  ASSERT_TRUE(s.reconfigure_breaker(changed, t0 + 10ms));
  EXPECT_NE(&s.breaker(), before);
  EXPECT_EQ(s.breaker().config().consecutive_failures, 9u);
  EXPECT_EQ(s.breaker().state(t0 + 10ms), breaker::State::Open);
  EXPECT_EQ(s.breaker().open_until(), until);
  EXPECT_EQ(s.breaker().state(until), breaker::State::HalfOpen);
}

TEST(UpstreamStateTest, ReloadKeepsAForcedOpenBreakerForcedOpen) {
  UpstreamState s(tripping_config(), JournalConfig{}, 1);
  s.force_breaker_open();
  breaker::BreakerConfig changed = tripping_config().breaker;
  changed.open_duration = 50ms;
  ASSERT_TRUE(s.reconfigure_breaker(changed, UpstreamState::Clock::now()));
  EXPECT_EQ(s.breaker().override_mode(), breaker::Override::ForcedOpen);
  EXPECT_FALSE(s.breaker().try_acquire(UpstreamState::Clock::now() + 1h).allowed());
  s.reset_breaker();  // the override goes to the live breaker
  EXPECT_EQ(s.breaker().override_mode(), breaker::Override::None);
  EXPECT_TRUE(s.breaker().try_acquire(UpstreamState::Clock::now()).allowed());
}

TEST(UpstreamStateTest, BreakerCountersAddUpAcrossReloads) {
  UpstreamState s(tripping_config(), JournalConfig{}, 1);
  const auto t0 = UpstreamState::Clock::now();
  fail_once(s.breaker(), t0);                           // one failure, one trip
  EXPECT_FALSE(s.breaker().try_acquire(t0).allowed());  // one rejection
  breaker::BreakerConfig changed = tripping_config().breaker;
  changed.consecutive_failures = 2;
  ASSERT_TRUE(s.reconfigure_breaker(changed, t0));
  EXPECT_FALSE(s.breaker().try_acquire(t0).allowed());  // still open: another rejection
  const breaker::BreakerCounters c = s.breaker_counters();
  EXPECT_EQ(c.failures, 1u);
  EXPECT_EQ(c.rejected, 2u);
  EXPECT_EQ(c.opened, 1u);  // adopting the open state is not another opening
  EXPECT_EQ(c.transitions, 1u);
}

TEST(UpstreamStateTest, RemembersTheLatestHealthCheckLatency) {
  UpstreamState s(tripping_config(), JournalConfig{}, 1);
  EXPECT_FALSE(s.last_health_check_latency().has_value());
  s.record_health_check_latency(1500us);
  ASSERT_TRUE(s.last_health_check_latency().has_value());
  EXPECT_EQ(*s.last_health_check_latency(), 1500us);
}

TEST(UpstreamStateTest, RemembersTheLastTransitionAcrossReloads) {
  UpstreamState s(tripping_config(), JournalConfig{}, 1);
  EXPECT_FALSE(s.last_transition().has_value());
  const auto before =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  fail_once(s.breaker(), UpstreamState::Clock::now());
  auto t = s.last_transition();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, breaker::State::Closed);
  EXPECT_EQ(t->to, breaker::State::Open);
  EXPECT_GE(t->at, before);
  EXPECT_LE(t->at, std::chrono::system_clock::now());

  // A reload's new breaker adopts the state without a transition: the last one stays.
  auto reloaded = tripping_config();
  reloaded.breaker.open_duration = 2000ms;
  ASSERT_TRUE(s.reconfigure_breaker(reloaded.breaker, UpstreamState::Clock::now()));
  t = s.last_transition();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->to, breaker::State::Open);

  s.force_breaker_closed();
  t = s.last_transition();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, breaker::State::Open);
  EXPECT_EQ(t->to, breaker::State::Closed);
}

}  // namespace
}  // namespace seawall::upstream
