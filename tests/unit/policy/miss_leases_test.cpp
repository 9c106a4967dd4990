#include "seawall/policy/miss_leases.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace seawall::policy {
namespace {

using namespace std::chrono_literals;
using Take = MissLeases::Take;
using TimePoint = MissLeases::Clock::time_point;

constexpr TimePoint kT0 = TimePoint{} + 1000s;

TEST(MissLeasesTest, TheFirstMissTakesTheLeaseAndTheOthersWaitUntilItEnds) {
  MissLeases leases;
  const auto first = leases.take("k", kT0, 200ms);
  EXPECT_EQ(first.take, Take::Granted);
  EXPECT_EQ(first.until, kT0 + 200ms);
  const auto second = leases.take("k", kT0 + 50ms, 200ms);
  EXPECT_EQ(second.take, Take::Held);
  EXPECT_EQ(second.until, kT0 + 200ms);  // the holder's lease, not a new one
  EXPECT_TRUE(leases.held("k", kT0 + 199ms));
  EXPECT_FALSE(leases.held("k", kT0 + 200ms));
  EXPECT_FALSE(leases.held("other", kT0));
  EXPECT_EQ(leases.take("other", kT0, 200ms).take, Take::Granted);  // per key
  EXPECT_EQ(leases.granted(), 2u);
  EXPECT_EQ(leases.waited(), 1u);
}

TEST(MissLeasesTest, AWriteOfTheKeyEndsItsLease) {
  MissLeases leases;
  ASSERT_EQ(leases.take("k", kT0, 200ms).take, Take::Granted);
  ASSERT_EQ(leases.take("j", kT0, 200ms).take, Take::Granted);
  const std::array<std::string_view, 2> written{"x", "k"};
  leases.release(written, kT0 + 10ms);
  EXPECT_FALSE(leases.held("k", kT0 + 10ms));
  EXPECT_TRUE(leases.held("j", kT0 + 10ms));
  // The next miss of the key starts a new lease.
  EXPECT_EQ(leases.take("k", kT0 + 20ms, 200ms).take, Take::Granted);
  EXPECT_TRUE(leases.held("k", kT0 + 219ms));
}

TEST(MissLeasesTest, AnEndedLeaseIsTakenAgainByTheNextMiss) {
  MissLeases leases;
  ASSERT_EQ(leases.take("k", kT0, 100ms).take, Take::Granted);
  const auto again = leases.take("k", kT0 + 100ms, 100ms);
  EXPECT_EQ(again.take, Take::Granted);
  EXPECT_EQ(again.until, kT0 + 200ms);
  EXPECT_EQ(leases.size(), 1u);  // the same entry
}

TEST(MissLeasesTest, AReleaseAfterEveryLeaseEndedChangesNothing) {
  MissLeases leases;
  ASSERT_EQ(leases.take("k", kT0, 100ms).take, Take::Granted);
  leases.release("k", kT0 + 100ms);  // none runs: the table is not even looked at
  EXPECT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases.take("k", kT0 + 150ms, 100ms).take, Take::Granted);
}

TEST(MissLeasesTest, IsBoundedAndSweepsEndedLeasesToMakeRoom) {
  MissLeases leases;
  for (std::size_t i = 0; i < MissLeases::kMaxLeases; ++i) {
    leases.take("k" + std::to_string(i), kT0, 100ms);
  }
  ASSERT_GE(leases.size(), MissLeases::kMaxLeases / 2);  // shards sweep only what ran out
  std::size_t full = 0;
  for (std::size_t i = 0; i < 1000; ++i) {
    full += leases.take("new" + std::to_string(i), kT0 + 1ms, 100ms).take == Take::Full;
  }
  EXPECT_GT(full, 0u);  // all running: no room
  // Once they ran out, a sweep makes room again.
  EXPECT_EQ(leases.take("later", kT0 + 200ms, 100ms).take, Take::Granted);
  EXPECT_LE(leases.size(), MissLeases::kMaxLeases);
}

TEST(MissLeasesTest, OneLeasePerKeyAcrossThreads) {
  MissLeases leases;
  std::atomic<int> granted{0};
  std::atomic<int> held{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        const auto r = leases.take("key" + std::to_string(i), kT0, 1s);
        (r.take == Take::Granted ? granted : held).fetch_add(1);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(granted.load(), 1000);
  EXPECT_EQ(held.load(), 7000);
}

}  // namespace
}  // namespace seawall::policy
