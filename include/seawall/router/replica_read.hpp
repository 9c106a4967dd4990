#pragma once
// Where a read of a cluster shard goes under `cluster.read_from: prefer_replica`: to the shard's
// replica upstream, or to its master's. The session gathers the facts (proxy/replica_reads.hpp);
// this is the rule, without I/O.
//
// A read goes to the replica only when all of these hold:
//   - the shard has a replica upstream (prefer_replica) and the request is a read outside a
//     pinned session (pinned sessions never come here: MULTI, WATCH, blocking commands and
//     pub/sub stay on the master's dedicated connection);
//   - the replica is usable: its breaker is closed (not open, not half-open: the health check's
//     probes close it) and the connection the client would use is up, so that a read never waits
//     for a replica's connect;
//   - no journal waits for the master (its breaker opened and writes were journaled): reads of
//     journaled keys are answered from the journal, and nothing may overtake the replay;
//   - the key's policy is not in near mode: near copies are verified on the master's connections
//     (NearVerify sends PTTL behind the read), which are what CLIENT TRACKING watches;
//   - no write of its keys through seawall awaits its outcome: a client's own pipelined write
//     and read of one key stay on one master connection, in order.
// Otherwise the read goes to the master, exactly as under read_from: primary.
// Thread safety: pure functions.
#include <cstdint>

namespace seawall::router {

struct ReplicaReadFacts {
  bool has_replica = false;        // read_from: prefer_replica, and the request is a read
  bool replica_closed = false;     // the replica upstream's breaker is closed
  bool replica_connected = false;  // the connection the client would use is up
  bool master_ready = false;       // no journal waits for the master's upstream
  bool near = false;               // the key's policy is near mode
  bool write_in_flight = false;    // a write of one of its keys awaits its outcome
};

enum class ReadTarget : std::uint8_t { Master, Replica };

constexpr ReadTarget read_target(const ReplicaReadFacts& f) {
  const bool replica = f.has_replica && f.replica_closed && f.replica_connected && f.master_ready &&
                       !f.near && !f.write_in_flight;
  return replica ? ReadTarget::Replica : ReadTarget::Master;
}

}  // namespace seawall::router
