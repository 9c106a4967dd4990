#include "seawall/proxy/writes_in_flight.hpp"

#include <gtest/gtest.h>

#include <string>

namespace seawall::proxy {
namespace {

constexpr WritesInFlight::Owner kA = 1;
constexpr WritesInFlight::Owner kB = 2;

TEST(WritesInFlight, CountsEachWriteUntilItsOutcome) {
  WritesInFlight writes;
  EXPECT_FALSE(writes.any("k"));
  writes.mark("k", kA);
  writes.mark("k", kA);  // two writes of one key in flight
  EXPECT_TRUE(writes.any("k"));
  writes.release("k");
  EXPECT_TRUE(writes.any("k"));
  writes.release("k");
  EXPECT_FALSE(writes.any("k"));
}

TEST(WritesInFlight, OtherKeysAreMostlyUnaffected) {
  WritesInFlight writes;
  writes.mark("hot", kA);
  int sharing = 0;
  for (int i = 0; i < 1000; ++i) {
    sharing += writes.any("key:" + std::to_string(i)) ? 1 : 0;
  }
  // A bucket of 65536 is shared by about one key in 65536: a degraded read of such a key only
  // waits for the other key's write too.
  EXPECT_LE(sharing, 2);
  writes.release("hot");
  EXPECT_FALSE(writes.any("hot"));
}

TEST(WritesInFlight, OwnerIsTheSenderOfTheWritesInFlight) {
  WritesInFlight writes;
  EXPECT_EQ(writes.owner("k"), 0u);
  writes.mark("k", kA);
  writes.mark("k", kA);
  EXPECT_EQ(writes.owner("k"), kA);
  writes.release("k");
  writes.release("k");
  EXPECT_EQ(writes.owner("k"), 0u);  // none in flight: nobody owns it
  writes.mark("k", kB);
  EXPECT_EQ(writes.owner("k"), kB);
}

TEST(WritesInFlight, TwoSendersMakeItMixedUntilEveryWriteHasItsOutcome) {
  WritesInFlight writes;
  writes.mark("k", kA);
  writes.mark("k", kB);
  EXPECT_EQ(writes.owner("k"), WritesInFlight::kMixed);
  writes.release("k");
  EXPECT_EQ(writes.owner("k"), WritesInFlight::kMixed);  // which one is left is not known
  writes.release("k");
  EXPECT_EQ(writes.owner("k"), 0u);
  writes.mark("k", kB);
  EXPECT_EQ(writes.owner("k"), kB);
}

TEST(WritesInFlight, OwnerOfAnObjectIsStableAndNeverNobodyOrMixed) {
  const auto a = std::make_unique<int>(1);
  const auto b = std::make_unique<int>(2);
  const WritesInFlight::Owner oa = WritesInFlight::owner_of(a.get());
  EXPECT_EQ(oa, WritesInFlight::owner_of(a.get()));
  EXPECT_NE(oa, WritesInFlight::owner_of(b.get()));
  EXPECT_NE(oa, 0u);
  EXPECT_NE(oa, WritesInFlight::kMixed);
}

}  // namespace
}  // namespace seawall::proxy
