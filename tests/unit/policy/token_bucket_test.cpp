#include "seawall/policy/token_bucket.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace seawall::policy {
namespace {

using namespace std::chrono_literals;
using TimePoint = TokenBucket::Clock::time_point;

constexpr TimePoint kT0 = TimePoint{} + 1000s;

int take_all(TokenBucket& bucket, TimePoint now, int attempts) {
  int taken = 0;
  for (int i = 0; i < attempts; ++i) {
    taken += bucket.try_take(now) ? 1 : 0;
  }
  return taken;
}

TEST(TokenBucketTest, StartsWithAFullBurst) {
  TokenBucket bucket(10, 5);
  EXPECT_EQ(take_all(bucket, kT0, 100), 5);
}

TEST(TokenBucketTest, RefillsAtTheRate) {
  TokenBucket bucket(10, 5);  // one token per 100 ms
  ASSERT_EQ(take_all(bucket, kT0, 5), 5);
  EXPECT_FALSE(bucket.try_take(kT0 + 99ms));
  EXPECT_TRUE(bucket.try_take(kT0 + 100ms));
  EXPECT_FALSE(bucket.try_take(kT0 + 100ms));
  EXPECT_EQ(take_all(bucket, kT0 + 350ms, 10), 2);
  EXPECT_EQ(take_all(bucket, kT0 + 1s, 10), 5);  // idle long enough: a full burst again
}

TEST(TokenBucketTest, IdleTimeRefillsNoMoreThanTheBurst) {
  TokenBucket bucket(10, 5);
  ASSERT_EQ(take_all(bucket, kT0, 5), 5);
  EXPECT_EQ(take_all(bucket, kT0 + 1h, 100), 5);
}

TEST(TokenBucketTest, SteadyLoadIsHeldToTheRate) {
  TokenBucket bucket(100, 20);
  int taken = 0;
  // A call every 100 us for 10 s: 100000 calls.
  for (int i = 0; i < 100000; ++i) {
    taken += bucket.try_take(kT0 + i * 100us) ? 1 : 0;
  }
  EXPECT_GE(taken, 100 * 10);
  EXPECT_LE(taken, 20 + 100 * 10);
}

TEST(TokenBucketTest, RoundsTheIntervalUpSoTheRateIsNeverExceeded) {
  TokenBucket bucket(3, 1);  // 333333334 ns per token
  ASSERT_TRUE(bucket.try_take(kT0));
  EXPECT_FALSE(bucket.try_take(kT0 + 333333333ns));
  EXPECT_TRUE(bucket.try_take(kT0 + 333333334ns));
  // From kT0, three intervals are slightly more than a second.
  EXPECT_TRUE(bucket.try_take(kT0 + 666666668ns));
  EXPECT_FALSE(bucket.try_take(kT0 + 1s));
}

TEST(TokenBucketTest, ZeroRateOrBurstAdmitsNothing) {
  TokenBucket no_rate(0, 10);
  TokenBucket no_burst(10, 0);
  EXPECT_EQ(take_all(no_rate, kT0, 10), 0);
  EXPECT_EQ(take_all(no_burst, kT0 + 1h, 10), 0);
  EXPECT_EQ(no_rate.rate_per_second(), 0u);
  EXPECT_EQ(no_burst.burst(), 0u);
}

TEST(TokenBucketTest, EarlierTimeFromAnotherThreadFindsNoExtraTokens) {
  TokenBucket bucket(10, 2);
  ASSERT_EQ(take_all(bucket, kT0 + 1s, 2), 2);
  EXPECT_FALSE(bucket.try_take(kT0));
  EXPECT_TRUE(bucket.try_take(kT0 + 1100ms));
}

TEST(TokenBucketTest, ConcurrentTakersShareExactlyTheBurst) {
  TokenBucket bucket(1, 1000);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] { taken += take_all(bucket, kT0, 10000); });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(taken.load(), 1000);
}

}  // namespace
}  // namespace seawall::policy
