#include "seawall/cluster/slot_map.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "seawall/cluster/slot_table.hpp"

namespace seawall::cluster {
namespace {

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string node(std::string_view host, int port, std::string_view id = "abc") {
  return "*3\r\n" + bulk(host) + ":" + std::to_string(port) + "\r\n" + bulk(id);
}

// A Redis 7 node entry: host, port, id and a metadata map (a flat array in RESP2).
std::string node7(std::string_view host, int port) {
  return "*4\r\n" + bulk(host) + ":" + std::to_string(port) + "\r\n" + bulk("id") + "*2\r\n" +
         bulk("hostname") + bulk("redis-1");
}

std::string range(int first, int last, const std::vector<std::string>& nodes) {
  std::string out = "*" + std::to_string(2 + nodes.size()) + "\r\n:" + std::to_string(first) +
                    "\r\n:" + std::to_string(last) + "\r\n";
  for (const auto& n : nodes) {
    out += n;
  }
  return out;
}

std::string reply(const std::vector<std::string>& ranges) {
  std::string out = "*" + std::to_string(ranges.size()) + "\r\n";
  for (const auto& r : ranges) {
    out += r;
  }
  return out;
}

const NodeAddress kAsked{"127.0.0.1", 7000};

SlotMap three_masters() {
  const std::string bytes =
      reply({range(10923, 16383, {node("127.0.0.1", 7002), node("127.0.0.1", 7005)}),
             range(0, 5460, {node("127.0.0.1", 7000), node("127.0.0.1", 7003)}),
             range(5461, 10922, {node("127.0.0.1", 7001), node("127.0.0.1", 7004)})});
  return parse_cluster_slots(bytes, kAsked).map;
}

TEST(SlotMapTest, ParsesRangesSortedWithMastersAndReplicas) {
  const std::string bytes =
      reply({range(5461, 10922, {node("10.0.0.2", 7001), node("10.0.0.5", 7004)}),
             range(0, 5460, {node7("10.0.0.1", 7000), node7("10.0.0.4", 7003)})});
  const SlotsReply parsed = parse_cluster_slots(bytes, kAsked);
  ASSERT_EQ(parsed.status, ParseStatus::Ok);
  EXPECT_EQ(parsed.length, bytes.size());
  ASSERT_EQ(parsed.map.ranges.size(), 2u);
  EXPECT_EQ(parsed.map.ranges[0].first, 0);
  EXPECT_EQ(parsed.map.ranges[0].last, 5460);
  EXPECT_EQ(parsed.map.ranges[0].master, (NodeAddress{"10.0.0.1", 7000}));
  ASSERT_EQ(parsed.map.ranges[0].replicas.size(), 1u);
  EXPECT_EQ(parsed.map.ranges[0].replicas[0], (NodeAddress{"10.0.0.4", 7003}));
  EXPECT_EQ(parsed.map.ranges[1].master, (NodeAddress{"10.0.0.2", 7001}));
  EXPECT_EQ(parsed.map.covered(), 10923u);
}

TEST(SlotMapTest, EmptyHostMeansTheNodeAskedAndUnknownEndpointIsSkipped) {
  const std::string bytes = reply({range(0, 100, {node("", 7000), node("?", 7003)})});
  const SlotsReply parsed = parse_cluster_slots(bytes, kAsked);
  ASSERT_EQ(parsed.status, ParseStatus::Ok);
  ASSERT_EQ(parsed.map.ranges.size(), 1u);
  EXPECT_EQ(parsed.map.ranges[0].master, kAsked);
  EXPECT_TRUE(parsed.map.ranges[0].replicas.empty());
}

TEST(SlotMapTest, EveryPrefixNeedsMoreAndGarbageIsInvalid) {
  const std::string bytes = reply({range(0, 16383, {node("127.0.0.1", 7000)})});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(parse_cluster_slots(bytes.substr(0, n), kAsked).status, ParseStatus::NeedMore) << n;
  }
  EXPECT_EQ(parse_cluster_slots("*1\r\n:5\r\n", kAsked).status, ParseStatus::Invalid);
  EXPECT_EQ(parse_cluster_slots(reply({range(5, 4, {node("h", 1)})}), kAsked).status,
            ParseStatus::Invalid);
  EXPECT_EQ(parse_cluster_slots(reply({range(0, 16384, {node("h", 1)})}), kAsked).status,
            ParseStatus::Invalid);
  EXPECT_EQ(parse_cluster_slots("%1\r\n", kAsked).status, ParseStatus::NeedMore);
}

TEST(SlotMapTest, ErrorReplyIsReported) {
  const SlotsReply parsed =
      parse_cluster_slots("-ERR This instance has cluster support disabled\r\n", kAsked);
  EXPECT_EQ(parsed.status, ParseStatus::Ok);
  EXPECT_EQ(parsed.error, "ERR This instance has cluster support disabled");
  EXPECT_TRUE(parsed.map.ranges.empty());
}

TEST(SlotMapTest, NodeAddressFromMovedParses) {
  EXPECT_EQ(parse_node_address("127.0.0.1:7001"), (NodeAddress{"127.0.0.1", 7001}));
  EXPECT_EQ(parse_node_address("::1:7001"), (NodeAddress{"::1", 7001}));
  EXPECT_EQ(parse_node_address("[::1]:7001"), (NodeAddress{"::1", 7001}));
  EXPECT_EQ(parse_node_address("10.0.0.1:7001@17001"), (NodeAddress{"10.0.0.1", 7001}));
  EXPECT_FALSE(parse_node_address("127.0.0.1"));
  EXPECT_FALSE(parse_node_address("127.0.0.1:0"));
  EXPECT_FALSE(parse_node_address("127.0.0.1:x"));
  EXPECT_EQ((NodeAddress{"::1", 7001}).to_string(), "[::1]:7001");
}

TEST(SlotMapTest, MajorityViewWinsOverAPartitionedNode) {
  SlotMap current = three_masters();
  SlotMap stale = current;
  stale.ranges[0].master = NodeAddress{"127.0.0.1", 7003};
  SlotMap replicas_differ = current;
  replicas_differ.ranges[1].replicas.clear();
  const std::vector<SlotMap> views{stale, current, replicas_differ};
  EXPECT_EQ(majority_view(views), 1u);
  EXPECT_FALSE(majority_view(std::vector<SlotMap>{}));
  // A tie goes to the view that covers more slots.
  SlotMap partial = current;
  partial.ranges.pop_back();
  EXPECT_EQ(majority_view(std::vector<SlotMap>{partial, current}), 1u);
}

TEST(SlotMapTest, InitialShardsFollowTheLowestSlot) {
  const auto shards = initial_shards(three_masters());
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(shards[0].master.port, 7000);
  EXPECT_EQ(shards[1].master.port, 7001);
  EXPECT_EQ(shards[2].master.port, 7002);
  EXPECT_EQ(shards[0].replicas, (std::vector<NodeAddress>{{"127.0.0.1", 7003}}));
}

std::vector<std::uint16_t> slots_of(const std::vector<ShardNodes>& shards, const SlotMap& map) {
  return assign_shards(shards, std::vector<std::uint16_t>(kSlots, kNoShard), map).slots;
}

TEST(SlotMapTest, AFailoverKeepsTheShardAndChangesItsMaster) {
  const SlotMap before = three_masters();
  const auto shards = initial_shards(before);
  const auto slots = slots_of(shards, before);
  EXPECT_EQ(slots[0], 0);
  EXPECT_EQ(slots[6000], 1);
  EXPECT_EQ(slots[16383], 2);
  // 7001 died; its replica 7004 now serves its slots.
  SlotMap after = before;
  after.ranges[1].master = NodeAddress{"127.0.0.1", 7004};
  after.ranges[1].replicas.clear();
  const Assignment a = assign_shards(shards, slots, after);
  EXPECT_EQ(a.shards[1].master, (NodeAddress{"127.0.0.1", 7004}));
  EXPECT_EQ(a.shards[0], shards[0]);
  EXPECT_EQ(a.slots, slots);
  EXPECT_TRUE(a.unassigned.empty());
}

TEST(SlotMapTest, AReshardMovesSlotsBetweenShards) {
  const SlotMap before = three_masters();
  const auto shards = initial_shards(before);
  const auto slots = slots_of(shards, before);
  SlotMap after = before;
  // Slots 0..99 moved from 7000 to 7002.
  after.ranges[0].first = 100;
  after.ranges.insert(after.ranges.begin(), SlotRange{0, 99, {"127.0.0.1", 7002}, {}});
  const Assignment a = assign_shards(shards, slots, after);
  EXPECT_EQ(a.shards[2].master.port, 7002);
  EXPECT_EQ(a.slots[0], 2);
  EXPECT_EQ(a.slots[99], 2);
  EXPECT_EQ(a.slots[100], 0);
}

TEST(SlotMapTest, APromotionNotSeenAsAReplicaTakesTheShardOfItsSlots) {
  const SlotMap before = three_masters();
  auto shards = initial_shards(before);
  for (auto& s : shards) {
    s.replicas.clear();  // the map seawall last saw listed no replicas
  }
  const auto slots = slots_of(shards, before);
  SlotMap after = before;
  after.ranges[2].master = NodeAddress{"127.0.0.1", 7005};
  const Assignment a = assign_shards(shards, slots, after);
  EXPECT_EQ(a.shards[2].master.port, 7005);
  EXPECT_EQ(a.slots[16383], 2);
}

TEST(SlotMapTest, AMasterAddedLaterTakesASpareShard) {
  const SlotMap before = three_masters();
  auto shards = initial_shards(before);
  shards.resize(5);  // two spares: no master
  const auto slots = slots_of(shards, before);
  SlotMap after = before;
  after.ranges[0].first = 100;
  after.ranges.insert(after.ranges.begin(), SlotRange{0, 99, {"127.0.0.1", 7010}, {}});
  const Assignment a = assign_shards(shards, slots, after);
  EXPECT_TRUE(a.unassigned.empty());
  EXPECT_EQ(a.shards[3].master.port, 7010);  // the first spare
  EXPECT_TRUE(a.shards[4].master.host.empty());
  EXPECT_EQ(a.slots[0], 3);
  EXPECT_EQ(a.slots[99], 3);
  EXPECT_EQ(a.slots[100], 0);
  // A later map keeps it there (rule 1), and a failover of it keeps the shard (rule 2).
  auto next = a.shards;
  next[3].replicas = {{"127.0.0.1", 7011}};
  SlotMap failed_over = after;
  failed_over.ranges[0].master = NodeAddress{"127.0.0.1", 7011};
  const Assignment b = assign_shards(next, a.slots, failed_over);
  EXPECT_EQ(b.shards[3].master.port, 7011);
  EXPECT_EQ(b.slots[0], 3);
}

TEST(SlotMapTest, AMasterAddedLaterIsNoShardAndItsSlotsStay) {
  const SlotMap before = three_masters();
  const auto shards = initial_shards(before);
  const auto slots = slots_of(shards, before);
  SlotMap after = before;
  after.ranges[0].first = 100;
  after.ranges.insert(after.ranges.begin(), SlotRange{0, 99, {"127.0.0.1", 7010}, {}});
  const Assignment a = assign_shards(shards, slots, after);
  ASSERT_EQ(a.unassigned.size(), 1u);
  EXPECT_EQ(a.unassigned[0].port, 7010);
  EXPECT_EQ(a.slots[0], 0);
  EXPECT_EQ(a.shards, shards);
}

TEST(SlotTableTest, AssignSkipsSlotsOfNoShard) {
  SlotTable table({4, 7});
  std::vector<std::uint16_t> slots(kSlots, 1);
  slots[5] = kNoShard;
  table.assign(slots);
  EXPECT_EQ(table.shard(0), 1);
  EXPECT_EQ(table.shard(5), 0);
  EXPECT_EQ(table.upstream_of_slot(0), 7u);
  EXPECT_EQ(table.upstream_of_slot(5), 4u);
  EXPECT_EQ(table.slots_of(1), kSlots - 1u);
}

}  // namespace
}  // namespace seawall::cluster
