#include "seawall/router/replica_read.hpp"

#include <gtest/gtest.h>

namespace seawall::router {
namespace {

// Every fact in favour of the replica.
ReplicaReadFacts usable() {
  ReplicaReadFacts f;
  f.has_replica = true;
  f.replica_closed = true;
  f.replica_connected = true;
  f.master_ready = true;
  return f;
}

TEST(ReplicaReadTest, AUsableReplicaTakesTheRead) {
  EXPECT_EQ(read_target(usable()), ReadTarget::Replica);
}

TEST(ReplicaReadTest, PrimaryReadsGoToTheMaster) {
  ReplicaReadFacts f = usable();
  f.has_replica = false;
  EXPECT_EQ(read_target(f), ReadTarget::Master);
  EXPECT_EQ(read_target(ReplicaReadFacts{}), ReadTarget::Master);
}

TEST(ReplicaReadTest, AReplicaWhoseBreakerIsNotClosedIsSkipped) {
  ReplicaReadFacts f = usable();
  f.replica_closed = false;  // open, or half-open (the health check's probes close it)
  EXPECT_EQ(read_target(f), ReadTarget::Master);
}

TEST(ReplicaReadTest, AReadNeverWaitsForAReplicaConnect) {
  ReplicaReadFacts f = usable();
  f.replica_connected = false;
  EXPECT_EQ(read_target(f), ReadTarget::Master);
}

TEST(ReplicaReadTest, AJournalWaitingForTheMasterKeepsReadsOnItsChain) {
  // Reads of journaled keys are the journal's, and nothing overtakes the replay.
  ReplicaReadFacts f = usable();
  f.master_ready = false;
  EXPECT_EQ(read_target(f), ReadTarget::Master);
}

TEST(ReplicaReadTest, NearReadsStayOnTheMaster) {
  ReplicaReadFacts f = usable();
  f.near = true;
  EXPECT_EQ(read_target(f), ReadTarget::Master);
}

TEST(ReplicaReadTest, AReadOfAKeyBeingWrittenFollowsTheWrite) {
  ReplicaReadFacts f = usable();
  f.write_in_flight = true;
  EXPECT_EQ(read_target(f), ReadTarget::Master);
}

}  // namespace
}  // namespace seawall::router
