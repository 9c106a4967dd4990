// `cluster:` in place of `address:` on an upstream: exclusive with address and sentinel, a
// non-empty list of host:port seeds; every error names file, line and key.
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "seawall/config/loader.hpp"

namespace seawall::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using test_support::load_upstream;

TEST(LoaderClusterTest, LoadsSeeds) {
  const LoadResult r = load_upstream(
      "    cluster:\n"
      "      seeds: [\"127.0.0.1:7000\", \"[::1]:7001\", \"redis-2.local:7002\"]\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors.front());
  const UpstreamConfig& u = r.config->upstreams[0];
  ASSERT_TRUE(u.cluster.enabled());
  EXPECT_THAT(u.cluster.seeds,
              ElementsAre(SentinelAddress{"127.0.0.1", 7000}, SentinelAddress{"::1", 7001},
                          SentinelAddress{"redis-2.local", 7002}));
  EXPECT_TRUE(u.host.empty());
  EXPECT_FALSE(u.sentinel.enabled());
  EXPECT_EQ(u.topology, nullptr);  // built by app::Server, not the loader
  EXPECT_EQ(u.slots, nullptr);
}

TEST(LoaderClusterTest, AnAddressUpstreamIsNoCluster) {
  const LoadResult r = load_upstream("    address: 127.0.0.1:6379\n");
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->upstreams[0].cluster.enabled());
}

TEST(LoaderClusterTest, AddressAndClusterTogetherAreRefused) {
  const LoadResult r = load_upstream(
      "    address: 127.0.0.1:6379\n"
      "    cluster:\n"
      "      seeds: [\"127.0.0.1:7000\"]\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ElementsAre("test.yaml:4: upstreams[0].cluster: set either address or "
                                    "cluster, not both"));
}

TEST(LoaderClusterTest, SentinelAndClusterTogetherAreRefused) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: mymaster\n"
      "    cluster:\n"
      "      seeds: [\"127.0.0.1:7000\"]\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ElementsAre("test.yaml:6: upstreams[0].cluster: set either sentinel or "
                                    "cluster, not both"));
}

TEST(LoaderClusterTest, EmptySeedListIsRefused) {
  const LoadResult r = load_upstream(
      "    cluster:\n"
      "      seeds: []\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ElementsAre("test.yaml:4: upstreams[0].cluster.seeds: at least one seed "
                                    "node is required"));
}

TEST(LoaderClusterTest, MissingSeedsAreRefused) {
  const LoadResult r = load_upstream(
      "    cluster:\n"
      "      seed: [\"127.0.0.1:7000\"]\n");
  EXPECT_FALSE(r.config);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_THAT(r.errors, ::testing::Contains(HasSubstr("upstreams[0].cluster.seeds")));
  EXPECT_THAT(r.errors, ::testing::Contains(HasSubstr("test.yaml:4: upstreams[0].cluster.seed")));
}

TEST(LoaderClusterTest, BadSeedAddressNamesLineAndKey) {
  const LoadResult r = load_upstream(
      "    cluster:\n"
      "      seeds:\n"
      "        - 127.0.0.1:7000\n"
      "        - 127.0.0.1\n");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("test.yaml:6: upstreams[0].cluster.seeds[1]: missing port"));
}

TEST(LoaderClusterTest, TlsWithClusterNeedsTheCertificatesName) {
  const LoadResult r = load_upstream(
      "    cluster:\n"
      "      seeds: [\"127.0.0.1:7000\"]\n"
      "    tls:\n"
      "      enabled: true\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ::testing::Contains(
                            HasSubstr("upstreams[0].tls.server_name: required with cluster")));
}

TEST(LoaderClusterTest, TlsWithClusterAndAServerNameLoads) {
  for (const char* tls : {"      server_name: redis.internal\n", "      verify: false\n"}) {
    const LoadResult r = load_upstream(std::string("    cluster:\n"
                                                   "      seeds: [\"127.0.0.1:7000\"]\n"
                                                   "    tls:\n"
                                                   "      enabled: true\n") +
                                       tls);
    ASSERT_THAT(r.errors, IsEmpty()) << tls;
    const UpstreamConfig& u = r.config->upstreams.at(0);
    EXPECT_TRUE(u.tls.enabled);
    EXPECT_NE(u.tls.context, nullptr) << tls;
  }
}

TEST(LoaderClusterTest, ReadFromDefaultsToPrimary) {
  const LoadResult r = load_upstream(
      "    cluster:\n"
      "      seeds: [\"127.0.0.1:7000\"]\n");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->upstreams[0].cluster.read_from, upstream::ReadFrom::Primary);
  EXPECT_EQ(r.config->upstreams[0].shard_role, upstream::ShardRole::Master);
}

TEST(LoaderClusterTest, LoadsReadFrom) {
  for (const auto& [text, value] :
       {std::pair{"primary", upstream::ReadFrom::Primary},
        std::pair{"prefer_replica", upstream::ReadFrom::PreferReplica}}) {
    const LoadResult r = load_upstream(
        "    cluster:\n"
        "      seeds: [\"127.0.0.1:7000\"]\n"
        "      read_from: " +
        std::string(text) + "\n");
    ASSERT_TRUE(r.config) << text << ": " << (r.errors.empty() ? "" : r.errors.front());
    EXPECT_EQ(r.config->upstreams[0].cluster.read_from, value) << text;
  }
}

TEST(LoaderClusterTest, SpareShardsDefaultToTwoAndAreBounded) {
  const auto with = [](const std::string& extra) {
    return load_upstream("    cluster:\n      seeds: [\"127.0.0.1:7000\"]\n" + extra);
  };
  LoadResult r = with("");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->upstreams[0].cluster.spare_shards, 2u);
  r = with("      spare_shards: 0\n");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->upstreams[0].cluster.spare_shards, 0u);
  r = with("      spare_shards: 65\n");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("test.yaml:5: upstreams[0].cluster.spare_shards: "));
}

TEST(LoaderClusterTest, UnknownReadFromNamesLineAndKey) {
  const LoadResult r = load_upstream(
      "    cluster:\n"
      "      seeds: [\"127.0.0.1:7000\"]\n"
      "      read_from: replica\n");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("test.yaml:5: upstreams[0].cluster.read_from: "));
  EXPECT_THAT(r.errors[0], HasSubstr("prefer_replica"));
}

TEST(LoaderClusterTest, ReadFromOutsideClusterIsRefused) {
  // Only a cluster upstream has replicas to read from: read_from is a key of cluster: alone.
  for (const std::string body : {"    address: 127.0.0.1:6379\n    read_from: prefer_replica\n",
                                 "    cluster:\n      seeds: [\"127.0.0.1:7000\"]\n"
                                 "    read_from: prefer_replica\n"}) {
    const LoadResult r = load_upstream(body);
    EXPECT_FALSE(r.config) << body;
    EXPECT_THAT(r.errors, ::testing::Contains(HasSubstr("upstreams[0].read_from: unknown key")))
        << body;
  }
}

TEST(LoaderClusterTest, ReadFromUnderSentinelIsAnUnknownKey) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: mymaster\n"
      "      read_from: prefer_replica\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(
      r.errors,
      ::testing::Contains(HasSubstr("test.yaml:6: upstreams[0].sentinel.read_from: unknown key")));
}

TEST(LoaderClusterTest, ClusterExampleFileLoads) {
  const LoadResult r = load_file(std::string(SEAWALL_SOURCE_DIR) + "/config/cluster.yaml");
  ASSERT_THAT(r.errors, IsEmpty());
  const UpstreamConfig& u = r.config->upstreams.at(0);
  EXPECT_EQ(u.cluster.seeds.size(), 3u);
  EXPECT_EQ(u.cluster.read_from, upstream::ReadFrom::Primary);
}

}  // namespace
}  // namespace seawall::config
