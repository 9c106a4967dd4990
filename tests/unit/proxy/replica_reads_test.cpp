// The L1 ticket of a read sent to a cluster replica: the replica may not have applied a write
// the master acknowledged a moment ago, so its reply is stored only when none of its keys was
// written during ReplicaReads::kLagGuard before the read was sent.
#include "seawall/proxy/replica_reads.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>

namespace seawall::proxy {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

class ReplicaReadsTest : public ::testing::Test {
 protected:
  cache::PutResult put(cache::ReadTicket ticket, std::string_view key, Clock::time_point now) {
    const std::array<std::string_view, 1> keys{key};
    return cache_.put(ticket, "get " + std::string(key), keys, "$1\r\nv\r\n",
                      std::chrono::seconds(5), std::chrono::seconds(60), now);
  }

  cache::ReplyCache cache_{cache::ReplyCacheOptions{}};
  ReplicaReads reads_;
};

TEST_F(ReplicaReadsTest, AKeyWrittenWithinTheGuardIsNotStored) {
  cache_.invalidate_key("k");  // a write of k, sent and acknowledged at kT0
  const auto now = kT0 + milliseconds(10);
  EXPECT_EQ(put(reads_.ticket(cache_, now), "k", now), cache::PutResult::Raced);
  // A master's read at the same moment is stored: the master has the write.
  EXPECT_EQ(put(cache_.begin_read(), "k", now), cache::PutResult::Stored);
}

TEST_F(ReplicaReadsTest, AKeyNotWrittenWithinTheGuardIsStored) {
  cache_.invalidate_key("k");
  Clock::time_point now = kT0;
  for (; now <= kT0 + ReplicaReads::kLagGuard + milliseconds(200); now += milliseconds(100)) {
    (void)reads_.ticket(cache_, now);  // reads sent to replicas meanwhile
  }
  EXPECT_EQ(put(reads_.ticket(cache_, now), "k", now), cache::PutResult::Stored);
  // Written again: refused for the next second.
  cache_.invalidate_key("k");
  now += milliseconds(100);
  EXPECT_EQ(put(reads_.ticket(cache_, now), "k", now), cache::PutResult::Raced);
}

TEST_F(ReplicaReadsTest, WithoutHistoryOnlyKeysNeverWrittenAreStored) {
  // The first reads after startup (or a long idle time) have no sample a second old: epoch 0.
  cache_.invalidate_key("written");
  EXPECT_EQ(put(reads_.ticket(cache_, kT0), "written", kT0), cache::PutResult::Raced);
  EXPECT_EQ(put(reads_.ticket(cache_, kT0), "other", kT0), cache::PutResult::Stored);
}

}  // namespace
}  // namespace seawall::proxy
