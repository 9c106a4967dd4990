// `sentinel:` in place of `address:` on an upstream: exactly one of them, a non-empty list of
// host:port sentinels, a master name, optional AUTH for the sentinels; every error names file,
// line and key.
#include <cstdlib>
#include <string>

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

TEST(LoaderSentinelTest, LoadsSentinelsMasterAndAuth) {
  setenv("SEAWALL_TEST_SENTINEL_PW", "s3cret", 1);
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\", \"[::1]:26380\", \"sentinel-2.local:26381\"]\n"
      "      master: mymaster\n"
      "      auth:\n"
      "        username: watcher\n"
      "        password_env: SEAWALL_TEST_SENTINEL_PW\n");
  unsetenv("SEAWALL_TEST_SENTINEL_PW");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors.front());
  const UpstreamConfig& u = r.config->upstreams[0];
  ASSERT_TRUE(u.sentinel.enabled());
  EXPECT_THAT(u.sentinel.sentinels,
              ElementsAre(SentinelAddress{"127.0.0.1", 26379}, SentinelAddress{"::1", 26380},
                          SentinelAddress{"sentinel-2.local", 26381}));
  EXPECT_EQ(u.sentinel.master, "mymaster");
  EXPECT_EQ(u.sentinel.auth.username, "watcher");
  EXPECT_EQ(u.sentinel.auth.password, "s3cret");
  EXPECT_TRUE(u.host.empty());
  EXPECT_EQ(u.resolver, nullptr);  // attached by app::Server, not the loader
}

TEST(LoaderSentinelTest, AnAddressUpstreamHasNoSentinels) {
  const LoadResult r = load_upstream("    address: 127.0.0.1:6379\n");
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->upstreams[0].sentinel.enabled());
}

TEST(LoaderSentinelTest, AddressAndSentinelTogetherAreRefused) {
  const LoadResult r = load_upstream(
      "    address: 127.0.0.1:6379\n"
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: mymaster\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ElementsAre("test.yaml:4: upstreams[0].sentinel: set either address or "
                                    "sentinel, not both"));
}

TEST(LoaderSentinelTest, NeitherAddressNorSentinelIsRefused) {
  const LoadResult r = load_upstream("    connections: 2\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(
      r.errors,
      ElementsAre("test.yaml:2: upstreams[0].address: is required (or sentinel, or cluster)"));
}

TEST(LoaderSentinelTest, EmptySentinelListIsRefused) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: []\n"
      "      master: mymaster\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ElementsAre("test.yaml:4: upstreams[0].sentinel.sentinels: at least one "
                                    "sentinel is required"));
}

TEST(LoaderSentinelTest, BadSentinelAddressIsRefused) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\", \"127.0.0.1\"]\n"
      "      master: mymaster\n");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("test.yaml:4: upstreams[0].sentinel.sentinels"));
  EXPECT_THAT(r.errors[0], HasSubstr("missing port"));
}

TEST(LoaderSentinelTest, MasterNameIsRequiredAndNotEmpty) {
  LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("upstreams[0].sentinel.master"));
  r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: \"\"\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors,
              ElementsAre("test.yaml:5: upstreams[0].sentinel.master: must not be empty"));
}

TEST(LoaderSentinelTest, MissingSentinelsListIsRefused) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      master: mymaster\n");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("upstreams[0].sentinel"));
  EXPECT_THAT(r.errors[0], HasSubstr("sentinels"));
}

TEST(LoaderSentinelTest, SentinelAuthNeedsAPassword) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: mymaster\n"
      "      auth:\n"
      "        username: watcher\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ElementsAre("test.yaml:6: upstreams[0].sentinel.auth: needs "
                                    "password_env or password_file"));
}

TEST(LoaderSentinelTest, UnknownKeyUnderSentinelIsRefused) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: mymaster\n"
      "      quorum: 2\n");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("test.yaml:6: upstreams[0].sentinel.quorum"));
}

TEST(LoaderSentinelTest, TlsWithSentinelIsRefused) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: mymaster\n"
      "    tls:\n"
      "      enabled: true\n");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(r.errors, ElementsAre("test.yaml:6: upstreams[0].tls: tls is not supported "
                                    "together with sentinel yet"));
}

TEST(LoaderSentinelTest, ErrorsListIsEmptyOnSuccess) {
  const LoadResult r = load_upstream(
      "    sentinel:\n"
      "      sentinels: [\"127.0.0.1:26379\"]\n"
      "      master: mymaster\n");
  ASSERT_TRUE(r.config);
  EXPECT_THAT(r.errors, IsEmpty());
}

TEST(LoaderSentinelTest, SentinelExampleFileLoads) {
  const LoadResult r = load_file(std::string(SEAWALL_SOURCE_DIR) + "/config/sentinel.yaml");
  ASSERT_THAT(r.errors, IsEmpty());
  const UpstreamConfig& u = r.config->upstreams.at(0);
  EXPECT_EQ(u.sentinel.sentinels.size(), 3u);
  EXPECT_EQ(u.sentinel.master, "mymaster");
}

}  // namespace
}  // namespace seawall::config
