#include "seawall/metrics/counter.hpp"

#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "seawall/metrics/gauge.hpp"
#include "seawall/metrics/shard.hpp"

namespace seawall::metrics {
namespace {

constexpr unsigned kThreads = 4;
constexpr std::uint64_t kPerThread = 200000;

// Runs `body(thread_index)` on kThreads threads at once and joins them.
template <typename Body>
void on_threads(Body body) {
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&body, t] { body(t); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
}

TEST(CounterTest, StartsAtZeroAndAdds) {
  Counter counter;
  EXPECT_EQ(counter.value(), 0u);
  counter.inc();
  counter.add(41);
  EXPECT_EQ(counter.value(), 42u);
}

TEST(CounterTest, ConcurrentIncrementsOnOwnShardsAddUp) {
  Counter counter(4);
  on_threads([&](unsigned t) {
    bind_thread_shard(t);
    for (std::uint64_t i = 0; i < kPerThread; ++i) {
      counter.inc();
    }
  });
  EXPECT_EQ(counter.value(), kThreads * kPerThread);
}

TEST(CounterTest, ConcurrentIncrementsOnOneSharedShardAddUp) {
  Counter counter(1);
  on_threads([&](unsigned) {
    for (std::uint64_t i = 0; i < kPerThread; ++i) {
      counter.add(2);
    }
  });
  EXPECT_EQ(counter.value(), 2 * kThreads * kPerThread);
}

TEST(CounterTest, ThreadsWithoutABoundShardStillAddUp) {
  // Round-robin shard assignment: some threads may share a shard, none may lose an add.
  Counter counter(2);
  on_threads([&](unsigned) {
    for (std::uint64_t i = 0; i < kPerThread; ++i) {
      counter.inc();
    }
  });
  EXPECT_EQ(counter.value(), kThreads * kPerThread);
}

TEST(CounterTest, RejectsShardCountsThatAreNotPowersOfTwo) {
  EXPECT_THROW(Counter(0), std::invalid_argument);
  EXPECT_THROW(Counter(3), std::invalid_argument);
  EXPECT_THROW(Counter(128), std::invalid_argument);
  EXPECT_NO_THROW(Counter(64));
}

TEST(ShardTest, ShardCountIsTheNextPowerOfTwoWithinLimits) {
  EXPECT_EQ(shard_count_for(0), 1u);
  EXPECT_EQ(shard_count_for(1), 1u);
  EXPECT_EQ(shard_count_for(2), 2u);
  EXPECT_EQ(shard_count_for(3), 4u);
  EXPECT_EQ(shard_count_for(8), 8u);
  EXPECT_EQ(shard_count_for(9), 16u);
  EXPECT_EQ(shard_count_for(1000), kMaxShards);
}

TEST(ShardTest, BindingChoosesTheThreadsShard) {
  std::thread([] {
    bind_thread_shard(5);
    EXPECT_EQ(this_thread_shard(), 5u);
    bind_thread_shard(kMaxShards + 3);
    EXPECT_EQ(this_thread_shard(), 3u);
  }).join();
}

TEST(GaugeTest, SetsAddsAndSubtracts) {
  Gauge gauge;
  EXPECT_EQ(gauge.value(), 0.0);
  gauge.set(10.5);
  gauge.inc();
  gauge.add(2.0);
  gauge.dec();
  gauge.sub(0.5);
  EXPECT_EQ(gauge.value(), 12.0);
  gauge.set(-1.0);
  EXPECT_EQ(gauge.value(), -1.0);
}

TEST(GaugeTest, ConcurrentAddsAddUp) {
  Gauge gauge;
  on_threads([&](unsigned) {
    for (std::uint64_t i = 0; i < kPerThread; ++i) {
      gauge.inc();
    }
    for (std::uint64_t i = 0; i < kPerThread / 2; ++i) {
      gauge.dec();
    }
  });
  EXPECT_EQ(gauge.value(), static_cast<double>(kThreads * kPerThread / 2));
}

}  // namespace
}  // namespace seawall::metrics
