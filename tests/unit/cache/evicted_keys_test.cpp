#include "seawall/cache/evicted_keys.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>

#include "seawall/upstream/eviction_listener.hpp"

namespace seawall::cache {
namespace {

using namespace std::chrono_literals;
using TimePoint = EvictedKeys::Clock::time_point;

constexpr TimePoint kT0 = TimePoint{} + 1000s;

TEST(EvictedKeysTest, RemembersAnEvictionForTheReadersWindow) {
  EvictedKeys keys;
  EXPECT_TRUE(keys.empty());
  EXPECT_FALSE(keys.recently("k", kT0, 1h));
  keys.evicted("k", kT0);
  EXPECT_FALSE(keys.empty());
  EXPECT_TRUE(keys.recently("k", kT0 + 10s, 10s));
  EXPECT_FALSE(keys.recently("k", kT0 + 11s, 10s));  // evicted longer ago than the policy allows
  EXPECT_FALSE(keys.recently("other", kT0, 10s));
  EXPECT_EQ(keys.events(), 1u);
}

TEST(EvictedKeysTest, AWriteForgetsTheKey) {
  EvictedKeys keys;
  keys.evicted("a", kT0);
  keys.evicted("b", kT0);
  const std::array<std::string_view, 2> written{"b", "c"};
  keys.forget(written);
  EXPECT_TRUE(keys.recently("a", kT0, 1s));
  EXPECT_FALSE(keys.recently("b", kT0, 1s));
  EXPECT_EQ(keys.size(), 1u);
}

TEST(EvictedKeysTest, ALaterEvictionRestartsTheWindow) {
  EvictedKeys keys;
  keys.evicted("k", kT0);
  keys.evicted("k", kT0 + 20s);
  EXPECT_TRUE(keys.recently("k", kT0 + 25s, 10s));
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys.events(), 2u);
}

TEST(EvictedKeysTest, AFullShardStartsAgainEmpty) {
  EvictedKeys keys;
  const std::size_t n = EvictedKeys::kShards * EvictedKeys::kMaxPerShard * 2;
  for (std::size_t i = 0; i < n; ++i) {
    keys.evicted("k" + std::to_string(i), kT0);
  }
  EXPECT_LE(keys.size(), EvictedKeys::kShards * EvictedKeys::kMaxPerShard);
  EXPECT_TRUE(keys.recently("k" + std::to_string(n - 1), kT0, 1s));  // the latest is kept
}

TEST(EvictionEventsTest, AddsTheFlagsRedisNeedsToWhatIsSet) {
  EXPECT_EQ(upstream::with_eviction_events(""), "Ee");
  EXPECT_EQ(upstream::with_eviction_events("Ex"), "Exe");
  EXPECT_EQ(upstream::with_eviction_events("Ee"), "Ee");
  EXPECT_EQ(upstream::with_eviction_events("KA"), "KAE");  // A includes e
  EXPECT_EQ(upstream::with_eviction_events("AKE"), "AKE");
  EXPECT_EQ(upstream::with_eviction_events("Kg"), "KgEe");
}

}  // namespace
}  // namespace seawall::cache
