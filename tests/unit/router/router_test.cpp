#include "seawall/router/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

namespace seawall::router {
namespace {

TEST(KeyRouterTest, FirstMatchingPrefixElseDefault) {
  const Router r({RouteConfig{"sess:", "b", 1}, RouteConfig{"s", "c", 2}}, 0);
  EXPECT_EQ(r.route("sess:1"), 1u);
  EXPECT_EQ(r.route("s1"), 2u);
  EXPECT_EQ(r.route("other"), 0u);
  EXPECT_EQ(r.route(""), 0u);
  EXPECT_FALSE(r.single_upstream());
}

TEST(KeyRouterTest, NoRoutesMeansOneUpstream) {
  const Router r({}, 1);
  EXPECT_TRUE(r.single_upstream());
  EXPECT_EQ(r.route("anything"), 1u);
}

// Upstream 0 a plain server; upstream 1 a cluster whose shards are upstreams 1 and 2.
std::vector<upstream::UpstreamConfig> with_cluster(std::shared_ptr<cluster::SlotTable> table) {
  std::vector<upstream::UpstreamConfig> ups(3);
  ups[1].slots = table;
  ups[1].shard = 0;
  ups[2].slots = table;
  ups[2].shard = 1;
  return ups;
}

TEST(KeyRouterTest, ClusterKeysGoToTheShardOfTheirSlot) {
  auto table = std::make_shared<cluster::SlotTable>(std::vector<std::size_t>{1, 2});
  for (std::uint16_t slot = 8192; slot < cluster::kSlots; ++slot) {
    table->set(slot, 1);
  }
  const auto ups = with_cluster(table);
  const Router r({RouteConfig{"plain:", "p", 0}}, 1, ups);
  EXPECT_FALSE(r.single_upstream());
  EXPECT_EQ(r.route_key("bar"), (KeyRoute{1, 5061}));
  EXPECT_EQ(r.route_key("foo"), (KeyRoute{2, 12182}));
  EXPECT_EQ(r.route("{bar}.x"), 1u);
  EXPECT_EQ(r.route_key("plain:foo"), (KeyRoute{0, KeyRoute::kNoSlot}));
  // A MOVED moves one slot at once.
  table->set(12182, 0);
  EXPECT_EQ(r.route("foo"), 1u);
}

TEST(KeyRouterTest, PartKeysSeparateSlotsAndUpstreams) {
  const KeyRoute a{1, 5061};
  const KeyRoute b{1, 5062};
  const KeyRoute plain{3, KeyRoute::kNoSlot};
  EXPECT_NE(a.part_key(), b.part_key());
  EXPECT_EQ(KeyRoute::upstream_of_part(a.part_key()), 1u);
  EXPECT_EQ(KeyRoute::upstream_of_part(b.part_key()), 1u);
  EXPECT_EQ(KeyRoute::upstream_of_part(plain.part_key()), 3u);
  EXPECT_NE(plain.part_key(), (KeyRoute{4, 0}).part_key());
}

TEST(KeyRouterTest, ASingleClusterIsNotOneUpstream) {
  auto table = std::make_shared<cluster::SlotTable>(std::vector<std::size_t>{0, 1});
  std::vector<upstream::UpstreamConfig> ups(2);
  ups[0].slots = table;
  ups[1].slots = table;
  ups[1].shard = 1;
  const Router r({}, 0, ups);
  EXPECT_FALSE(r.single_upstream());
}

TEST(KeyRouterTest, ReplicaUpstreamsStandBesideTheirShards) {
  // Upstream 0 plain; the cluster's shards are 1 and 2, their replica upstreams 3 and 4.
  auto table = std::make_shared<cluster::SlotTable>(std::vector<std::size_t>{1, 2});
  for (std::uint16_t slot = 8192; slot < cluster::kSlots; ++slot) {
    table->set(slot, 1);
  }
  std::vector<upstream::UpstreamConfig> ups = with_cluster(table);
  ups.resize(5);
  for (std::uint32_t k = 0; k < 2; ++k) {
    ups[3 + k].slots = table;
    ups[3 + k].shard = k;
    ups[3 + k].shard_role = upstream::ShardRole::Replica;
  }
  const Router r({RouteConfig{"plain:", "p", 0}}, 1, ups);
  EXPECT_EQ(r.replica_of(1), std::optional<std::size_t>(3));
  EXPECT_EQ(r.replica_of(2), std::optional<std::size_t>(4));
  EXPECT_EQ(r.replica_of(0), std::nullopt);
  EXPECT_EQ(r.replica_of(3), std::nullopt);
  EXPECT_EQ(r.replica_of(99), std::nullopt);
  // Keys still route to the masters' upstreams: a replica's shard 0 is no cluster head.
  EXPECT_EQ(r.route_key("bar"), (KeyRoute{1, 5061}));
  EXPECT_EQ(r.route_key("foo"), (KeyRoute{2, 12182}));
}

TEST(KeyRouterTest, PrimaryReadsHaveNoReplicaUpstream) {
  auto table = std::make_shared<cluster::SlotTable>(std::vector<std::size_t>{1, 2});
  const Router r({}, 1, with_cluster(table));
  EXPECT_EQ(r.replica_of(1), std::nullopt);
  EXPECT_EQ(r.replica_of(2), std::nullopt);
}

}  // namespace
}  // namespace seawall::router
