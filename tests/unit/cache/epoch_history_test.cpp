#include "seawall/cache/epoch_history.hpp"

#include <gtest/gtest.h>

namespace seawall::cache {
namespace {

using std::chrono::milliseconds;
using Clock = EpochHistory::Clock;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

TEST(EpochHistoryTest, NothingNotedGivesEpochZero) {
  const EpochHistory h(milliseconds(100));
  EXPECT_EQ(h.epoch_at(kT0), 0u);
}

TEST(EpochHistoryTest, TheNewestSampleAtOrBeforeTheTime) {
  EpochHistory h(milliseconds(100));
  h.note(kT0, 5);
  h.note(kT0 + milliseconds(100), 9);
  h.note(kT0 + milliseconds(250), 12);
  EXPECT_EQ(h.epoch_at(kT0 - milliseconds(1)), 0u);  // older than every sample
  EXPECT_EQ(h.epoch_at(kT0), 5u);
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(99)), 5u);
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(100)), 9u);
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(249)), 9u);
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(10000)), 12u);
}

TEST(EpochHistoryTest, AtMostOneSamplePerStep) {
  EpochHistory h(milliseconds(100));
  h.note(kT0, 5);
  h.note(kT0 + milliseconds(50), 7);  // within the step: not kept
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(60)), 5u);
  h.note(kT0 - milliseconds(10), 8);  // an earlier time (another session's): not kept
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(60)), 5u);
}

TEST(EpochHistoryTest, TheRingForgetsTheOldestSamples) {
  EpochHistory h(milliseconds(100));
  for (std::uint64_t i = 0; i < EpochHistory::kSamples + 4; ++i) {
    h.note(kT0 + milliseconds(100) * i, i + 1);
  }
  // The first four samples were overwritten: a time before the fifth has no sample.
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(350)), 0u);
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(400)), 5u);
  EXPECT_EQ(h.epoch_at(kT0 + milliseconds(100) * (EpochHistory::kSamples + 3)),
            EpochHistory::kSamples + 4);
}

}  // namespace
}  // namespace seawall::cache
