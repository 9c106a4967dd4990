#include "seawall/proxy/writes_in_flight.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

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
  // A bucket is shared by about one key in 32768, and then told apart by the key's tag: only one
  // key in 4096 of those would wait for the other key's write too.
  EXPECT_EQ(sharing, 0);
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

TEST(WritesInFlight, KeysSharingABucketAreToldApartUntilBothAreInFlight) {
  WritesInFlight writes;
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    const std::string candidate = "key:" + std::to_string(i);
    if (WritesInFlight::bucket_of(candidate) == WritesInFlight::bucket_of("k")) {
      other = candidate;
    }
  }
  writes.mark("k", kA);
  EXPECT_FALSE(writes.any(other));  // another key's tag
  EXPECT_EQ(writes.owner(other), 0u);
  writes.mark(other, kB);
  // Two keys' writes in the bucket: neither can be told apart any more, and two owners mix.
  EXPECT_TRUE(writes.any("k"));
  EXPECT_EQ(writes.owner("k"), WritesInFlight::kMixed);
  writes.release("k");
  writes.release(other);
  EXPECT_FALSE(writes.any("k"));
}

TEST(WritesInFlight, LastSentIsTheLatestWriteMarkedInTheBucket) {
  WritesInFlight writes;
  const auto first = writes.mark_all(std::vector<std::string_view>{"k"}, kA);
  EXPECT_TRUE(first.ordered);
  EXPECT_TRUE(writes.last_sent("k", first.id));
  const auto second = writes.mark_all(std::vector<std::string_view>{"k"}, kA);
  EXPECT_TRUE(second.ordered);  // same owner: Redis runs them in order
  EXPECT_FALSE(writes.last_sent("k", first.id));
  EXPECT_TRUE(writes.last_sent("k", second.id));
  const auto third = writes.mark_all(std::vector<std::string_view>{"k"}, kB);
  EXPECT_FALSE(third.ordered);  // another owner's writes still in flight
  EXPECT_NE(first.id, second.id);
}

TEST(WritesInFlight, OwnerOfAnObjectIsStableAndNeverNobodyOrMixed) {
  const auto a = std::make_unique<int>(1);
  const auto b = std::make_unique<int>(2);
  const WritesInFlight::Owner oa = WritesInFlight::owner_of(a.get());
  EXPECT_EQ(oa, WritesInFlight::owner_of(a.get()));
  EXPECT_NE(oa, WritesInFlight::owner_of(b.get()));
  EXPECT_NE(oa, 0u);
  EXPECT_NE(oa, WritesInFlight::kMixed);
  // jemalloc hands out 8-byte objects 8 bytes apart.
  alignas(16) static const char block[16] = {};
  EXPECT_NE(WritesInFlight::owner_of(block), WritesInFlight::owner_of(block + 8));
}

}  // namespace
}  // namespace seawall::proxy
