#include "app/cluster_shards.hpp"

#include <gtest/gtest.h>

#include <string>

#include "seawall/cluster/slot_table.hpp"

namespace seawall::app::detail {
namespace {

config::UpstreamConfig named(std::string name) {
  config::UpstreamConfig u;
  u.name = std::move(name);
  return u;
}

TEST(ClusterShardsTest, ShardZeroTakesTheClusterPlaceAndOthersAreAppended) {
  config::Config config;
  config.upstreams = {named("plain"), named("main"), named("other")};
  config.upstreams[1].cluster.seeds.push_back({"127.0.0.1", 7000});
  config.upstreams[1].connections = 3;
  std::size_t next = config.upstreams.size();
  ClusterUpstream c;
  c.index = 1;
  c.shard_upstreams = place_shards(1, 3, next);
  EXPECT_EQ(c.shard_upstreams, (std::vector<std::size_t>{1, 3, 4}));
  EXPECT_EQ(next, 5u);
  c.slots = std::make_shared<cluster::SlotTable>(c.shard_upstreams);
  expand_clusters(config, std::span<const ClusterUpstream>(&c, 1));
  ASSERT_EQ(config.upstreams.size(), 5u);
  EXPECT_EQ(config.upstreams[0].name, "plain");
  EXPECT_EQ(config.upstreams[1].name, "main.0");
  EXPECT_EQ(config.upstreams[2].name, "other");
  EXPECT_EQ(config.upstreams[3].name, "main.1");
  EXPECT_EQ(config.upstreams[4].name, "main.2");
  EXPECT_EQ(config.upstreams[4].shard, 2u);
  EXPECT_EQ(config.upstreams[4].connections, 3u);
  EXPECT_EQ(config.upstreams[3].slots, c.slots);
  EXPECT_EQ(config.upstreams[0].slots, nullptr);
}

TEST(ClusterShardsTest, ExpandingTwiceTheSameWayGivesEqualConfigs) {
  // A reload expands its config with the running topologies: unchanged upstreams compare equal.
  config::Config a;
  a.upstreams = {named("main")};
  a.upstreams[0].cluster.seeds.push_back({"127.0.0.1", 7000});
  config::Config b = a;
  std::size_t next = 1;
  ClusterUpstream c;
  c.shard_upstreams = place_shards(0, 2, next);
  c.slots = std::make_shared<cluster::SlotTable>(c.shard_upstreams);
  expand_clusters(a, std::span<const ClusterUpstream>(&c, 1));
  expand_clusters(b, std::span<const ClusterUpstream>(&c, 1));
  EXPECT_EQ(a.upstreams, b.upstreams);
}

TEST(ClusterShardsTest, PreferReplicaAddsAReplicaUpstreamPerShardAfterTheShards) {
  config::Config config;
  config.upstreams = {named("main"), named("other")};
  config.upstreams[0].cluster.seeds.push_back({"127.0.0.1", 7000});
  config.upstreams[0].cluster.read_from = upstream::ReadFrom::PreferReplica;
  config.upstreams[0].eviction_events = upstream::EvictionEvents::Configure;
  std::size_t next = config.upstreams.size();
  ClusterUpstream c;
  c.shard_upstreams = place_shards(0, 2, next);
  c.replica_upstreams = place_replicas(2, next);
  EXPECT_EQ(c.shard_upstreams, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(c.replica_upstreams, (std::vector<std::size_t>{3, 4}));
  EXPECT_EQ(next, 5u);
  c.slots = std::make_shared<cluster::SlotTable>(c.shard_upstreams);
  expand_clusters(config, std::span<const ClusterUpstream>(&c, 1));
  ASSERT_EQ(config.upstreams.size(), 5u);
  EXPECT_EQ(config.upstreams[0].name, "main.0");
  EXPECT_EQ(config.upstreams[0].shard_role, upstream::ShardRole::Master);
  EXPECT_EQ(config.upstreams[0].eviction_events, upstream::EvictionEvents::Configure);
  EXPECT_EQ(config.upstreams[2].name, "main.1");
  for (std::uint32_t k = 0; k < 2; ++k) {
    const config::UpstreamConfig& replica = config.upstreams[3 + k];
    EXPECT_EQ(replica.name, "main." + std::to_string(k) + ".replica");
    EXPECT_EQ(replica.shard, k);
    EXPECT_EQ(replica.shard_role, upstream::ShardRole::Replica);
    EXPECT_EQ(replica.slots, c.slots);
    // The master's upstream hears of evictions; the replica's carries reads only.
    EXPECT_EQ(replica.eviction_events, upstream::EvictionEvents::Off);
  }
}

}  // namespace
}  // namespace seawall::app::detail
