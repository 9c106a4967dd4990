#pragma once
// A Redis Cluster's slot map as CLUSTER SLOTS reports it, without I/O: the reply's parser, the
// choice among the views several nodes gave (the one most of them agree on: a node cut off by a
// partition reports an old map), and how the map's masters become seawall's shards.
//
// seawall serves a cluster upstream as one internal upstream per shard (a master and its
// replicas), each with its own breaker, pools, journal and health check. The number of shards is
// fixed at startup; afterwards a new map only moves slots between shards (a reshard) or changes
// a shard's master (a failover promotes one of its replicas). assign_shards() says which shard
// each master of a new map is, and so which shard serves each slot.
// Thread safety: value types and pure functions.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/cluster/key_slot.hpp"

namespace seawall::cluster {

struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;

  // "host:port", "[v6]:port" for an IPv6 literal.
  std::string to_string() const;
  bool operator==(const NodeAddress&) const = default;
};

// "host:port" (as MOVED and ASK name a node; an IPv6 host is not bracketed there) into an
// address; nullopt when it does not parse.
std::optional<NodeAddress> parse_node_address(std::string_view text);

struct SlotRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // inclusive
  NodeAddress master;
  std::vector<NodeAddress> replicas;

  bool operator==(const SlotRange&) const = default;
};

// Ranges sorted by their first slot.
struct SlotMap {
  std::vector<SlotRange> ranges;

  std::size_t covered() const;  // slots some master serves
  // Same masters for the same slots (replicas may be listed a moment apart by different nodes).
  bool same_owners(const SlotMap& other) const;
  bool operator==(const SlotMap&) const = default;
};

enum class ParseStatus : std::uint8_t { NeedMore, Ok, Invalid };

struct SlotsReply {
  ParseStatus status = ParseStatus::NeedMore;
  std::size_t length = 0;  // bytes of the reply, once complete
  SlotMap map;             // Ok, when the node answered an array
  std::string error;       // Ok, when it answered an error (a node without cluster support)
};

// Parses the reply to CLUSTER SLOTS at the start of `bytes`. `asked` is the node asked: a node
// entry with an empty host means "the address you reached me at" (Redis with
// cluster-preferred-endpoint-type unknown-endpoint answers "?", which is skipped).
SlotsReply parse_cluster_slots(std::string_view bytes, const NodeAddress& asked);

// The index of the view most views agree on (same owners); on a tie, the one covering the most
// slots, then the first. nullopt when `views` is empty.
std::optional<std::size_t> majority_view(std::span<const SlotMap> views);

// One shard: its master and the replicas the map listed for it.
struct ShardNodes {
  NodeAddress master;
  std::vector<NodeAddress> replicas;

  bool operator==(const ShardNodes&) const = default;
};

inline constexpr std::uint16_t kNoShard = 0xFFFF;

// The shards at startup: one per master of `map`, in the order of their lowest slot.
std::vector<ShardNodes> initial_shards(const SlotMap& map);

struct Assignment {
  std::vector<ShardNodes> shards;       // the same number as before; a shard's master may change
  std::vector<std::uint16_t> slots;     // kSlots entries: the shard serving each slot
  std::vector<NodeAddress> unassigned;  // masters that are no shard's (a master added later)
};

// The shards after `map`, given the shards before and which shard served each slot
// (`current_slots`, kSlots entries; kNoShard where none did). A master of the map is the shard
//   1. whose master it already is;
//   2. else whose replica it was (a failover promoted it);
//   3. else whose slots it now serves most of, when that shard's master is no longer a master of
//      the map (a promotion of a replica seawall had not heard of);
//   4. else the first spare shard (one that never had a master: its master's host is empty), so
//      that a master added to the cluster later gets a shard of its own.
// Each shard takes at most one master. The slots of a master that is no shard's (no spare was
// left) keep their current shard (requests there are redirected with MOVED until a restart adds
// the master); so do slots the map does not cover.
Assignment assign_shards(std::span<const ShardNodes> shards,
                         std::span<const std::uint16_t> current_slots, const SlotMap& map);

}  // namespace seawall::cluster
