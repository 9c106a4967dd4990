#include "seawall/cache/frequency_sketch.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace seawall::cache {
namespace {

// Distinct, well-mixed hashes (splitmix64), as the cache's string hash gives.
std::uint64_t hash_of(std::uint64_t n) {
  std::uint64_t z = n + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

TEST(FrequencySketchTest, UnseenKeysHaveZero) {
  const FrequencySketch sketch(64);
  for (std::uint64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(sketch.frequency(hash_of(i)), 0u);
  }
}

TEST(FrequencySketchTest, CountsEachIncrement) {
  FrequencySketch sketch(64);
  for (std::uint32_t n = 1; n <= 5; ++n) {
    sketch.increment(hash_of(7));
    EXPECT_EQ(sketch.frequency(hash_of(7)), n);
  }
}

TEST(FrequencySketchTest, SaturatesAtFifteen) {
  FrequencySketch sketch(64);
  for (int n = 0; n < 40; ++n) {
    sketch.increment(hash_of(1));
  }
  EXPECT_EQ(sketch.frequency(hash_of(1)), FrequencySketch::kMaxCount);
}

TEST(FrequencySketchTest, SizeIsAPowerOfTwoWithAMinimum) {
  EXPECT_EQ(FrequencySketch(0).word_count(), 8u);
  EXPECT_EQ(FrequencySketch(100).word_count(), 128u);
  EXPECT_EQ(FrequencySketch(100).sample_size(), 1280u);
}

TEST(FrequencySketchTest, HotKeysStandOutFromOneTimeKeys) {
  // 200 hot keys seen 8 times each among 5,000 keys seen once, in 4,096 words: about one word
  // per key, as ReplyCache sizes its sketches.
  FrequencySketch sketch(4096);
  for (std::uint64_t round = 0; round < 8; ++round) {
    for (std::uint64_t hot = 0; hot < 200; ++hot) {
      sketch.increment(hash_of(hot));
    }
  }
  for (std::uint64_t cold = 1000; cold < 6000; ++cold) {
    sketch.increment(hash_of(cold));
  }
  int hot_above_cold = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    EXPECT_GE(sketch.frequency(hash_of(i)), 8u);  // never an underestimate before aging
    hot_above_cold += sketch.frequency(hash_of(i)) > sketch.frequency(hash_of(1000 + i)) ? 1 : 0;
  }
  EXPECT_EQ(hot_above_cold, 200);
  int overestimated = 0;
  for (std::uint64_t cold = 1000; cold < 6000; ++cold) {
    overestimated += sketch.frequency(hash_of(cold)) > 1 ? 1 : 0;
  }
  EXPECT_LT(overestimated, 250);  // under 5% of one-time keys look like repeats
}

TEST(FrequencySketchTest, HalvesEveryCounterAfterTheSampleSize) {
  FrequencySketch sketch(8);  // sample size 80
  for (int n = 0; n < 12; ++n) {
    sketch.increment(hash_of(1));
  }
  EXPECT_EQ(sketch.frequency(hash_of(1)), 12u);
  // 67 more increments of other keys reach 79; the 80th halves the table.
  for (std::uint64_t i = 0; i < 67; ++i) {
    sketch.increment(hash_of(1000 + i));
  }
  const std::uint32_t before = sketch.frequency(hash_of(1));
  EXPECT_GE(before, 12u);
  sketch.increment(hash_of(5000));  // may raise one of key 1's counters before halving
  EXPECT_GE(sketch.frequency(hash_of(1)), before / 2);
  EXPECT_LE(sketch.frequency(hash_of(1)), (before + 1) / 2);
}

TEST(FrequencySketchTest, AgingLetsANewHotSetOvertakeAnOldOne) {
  FrequencySketch sketch(64);  // sample size 640
  for (int n = 0; n < 15; ++n) {
    sketch.increment(hash_of(1));  // yesterday's hot key
  }
  // Today: key 2 is read often among other traffic, key 1 no longer.
  for (int round = 0; round < 400; ++round) {
    sketch.increment(hash_of(2));
    sketch.increment(hash_of(10'000 + static_cast<std::uint64_t>(round)));
    sketch.increment(hash_of(20'000 + static_cast<std::uint64_t>(round)));
  }
  EXPECT_GT(sketch.frequency(hash_of(2)), sketch.frequency(hash_of(1)));
}

}  // namespace
}  // namespace seawall::cache
