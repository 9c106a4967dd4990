#include "seawall/metrics/histogram.hpp"

#include <array>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "seawall/metrics/spec.hpp"

namespace seawall::metrics {
namespace {

using ::testing::ElementsAre;
using namespace std::chrono_literals;

constexpr std::array<double, 3> kBounds{1.0, 2.0, 5.0};
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(HistogramTest, BucketIndexTreatsBoundsAsInclusiveUpperLimits) {
  EXPECT_EQ(Histogram::bucket_index(kBounds, -10.0), 0u);
  EXPECT_EQ(Histogram::bucket_index(kBounds, 0.0), 0u);
  EXPECT_EQ(Histogram::bucket_index(kBounds, 1.0), 0u);  // le="1" includes 1
  EXPECT_EQ(Histogram::bucket_index(kBounds, 1.0000001), 1u);
  EXPECT_EQ(Histogram::bucket_index(kBounds, 2.0), 1u);
  EXPECT_EQ(Histogram::bucket_index(kBounds, 4.99), 2u);
  EXPECT_EQ(Histogram::bucket_index(kBounds, 5.0), 2u);
  EXPECT_EQ(Histogram::bucket_index(kBounds, 5.01), 3u);  // +Inf
  EXPECT_EQ(Histogram::bucket_index(kBounds, kInf), 3u);
  EXPECT_EQ(Histogram::bucket_index(kBounds, -kInf), 0u);
}

TEST(HistogramTest, LatencyBucketsSpan50MicrosecondsTo10Seconds) {
  EXPECT_EQ(kLatencyBuckets.front(), 0.00005);
  EXPECT_EQ(kLatencyBuckets.back(), 10.0);
  EXPECT_NO_THROW(Histogram::check_bounds(kLatencyBuckets));
  EXPECT_EQ(Histogram::bucket_index(kLatencyBuckets, 0.0003), 3u);  // le="0.0005"
}

TEST(HistogramTest, SnapshotIsCumulativeWithSumAndCount) {
  Histogram histogram(kBounds);
  for (double v : {0.5, 1.0, 1.5, 3.0, 3.0, 100.0}) {
    histogram.observe(v);
  }
  const Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_THAT(snapshot.cumulative, ElementsAre(2u, 3u, 5u, 6u));
  EXPECT_EQ(snapshot.count, 6u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 109.0);
}

TEST(HistogramTest, EmptySnapshotIsAllZero) {
  const Histogram::Snapshot snapshot = Histogram(kBounds).snapshot();
  EXPECT_THAT(snapshot.cumulative, ElementsAre(0u, 0u, 0u, 0u));
  EXPECT_EQ(snapshot.count, 0u);
  EXPECT_EQ(snapshot.sum, 0.0);
}

TEST(HistogramTest, ObservesDurationsInSeconds) {
  Histogram histogram(kLatencyBuckets);
  histogram.observe(300us);
  histogram.observe(2s);
  const Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative[2], 0u);   // le="0.00025"
  EXPECT_EQ(snapshot.cumulative[3], 1u);   // le="0.0005"
  EXPECT_EQ(snapshot.cumulative[13], 1u);  // le="1"
  EXPECT_EQ(snapshot.cumulative[14], 2u);  // le="2.5"
  EXPECT_DOUBLE_EQ(snapshot.sum, 2.0003);
}

TEST(HistogramTest, IgnoresNaN) {
  Histogram histogram(kBounds);
  histogram.observe(std::numeric_limits<double>::quiet_NaN());
  histogram.observe(kInf);
  const Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_THAT(snapshot.cumulative, ElementsAre(0u, 0u, 0u, 1u));
  EXPECT_EQ(snapshot.sum, kInf);
}

TEST(HistogramTest, ManyBucketsSpanSeveralCacheLinesPerShard) {
  std::vector<double> bounds;
  for (int i = 1; i <= 40; ++i) {
    bounds.push_back(i);
  }
  Histogram histogram(bounds, 2);
  for (int i = 0; i <= 41; ++i) {
    histogram.observe(i);
  }
  const Histogram::Snapshot snapshot = histogram.snapshot();
  ASSERT_EQ(snapshot.cumulative.size(), 41u);
  EXPECT_EQ(snapshot.cumulative[0], 2u);    // 0 and 1
  EXPECT_EQ(snapshot.cumulative[39], 41u);  // up to 40
  EXPECT_EQ(snapshot.count, 42u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 41.0 * 42.0 / 2.0);
}

TEST(HistogramTest, ConcurrentObservationsAddUp) {
  constexpr unsigned kThreads = 4;
  constexpr int kPerThread = 100000;
  Histogram histogram(kBounds, 4);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&histogram] {
      for (int i = 0; i < kPerThread; ++i) {
        histogram.observe(i % 2 == 0 ? 0.5 : 3.0);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  const Histogram::Snapshot snapshot = histogram.snapshot();
  const std::uint64_t half = kThreads * kPerThread / 2;
  EXPECT_THAT(snapshot.cumulative, ElementsAre(half, half, 2 * half, 2 * half));
  EXPECT_EQ(snapshot.count, 2 * half);
  EXPECT_DOUBLE_EQ(snapshot.sum, static_cast<double>(half) * 3.5);
}

TEST(HistogramTest, RejectsBadBounds) {
  EXPECT_THROW(Histogram::check_bounds(std::vector<double>{}), std::invalid_argument);
  EXPECT_THROW(Histogram::check_bounds(std::vector<double>{1.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(Histogram::check_bounds(std::vector<double>{2.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(Histogram::check_bounds(std::vector<double>{1.0, kInf}), std::invalid_argument);
  EXPECT_THROW(
      Histogram::check_bounds(std::vector<double>{std::numeric_limits<double>::quiet_NaN()}),
      std::invalid_argument);
  EXPECT_THROW(Histogram(kBounds, 3), std::invalid_argument);
}

}  // namespace
}  // namespace seawall::metrics
