#include "app/reload_rules.hpp"

#include <algorithm>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "seawall/config/loader.hpp"
#include "seawall/upstream/tls_build.hpp"

namespace seawall::app::detail {
namespace {

// The keys the loader reads at the top level, and under one upstream.
struct LoaderKeys {
  std::set<std::string> top;
  std::set<std::string> upstream;
};

LoaderKeys loader_keys() {
  constexpr std::string_view kUpstreamPrefix = "upstreams[0].";
  LoaderKeys keys;
  for (const std::string& path : config::keys_read("upstreams: [{}]\n")) {
    if (path.find_first_of(".[") == std::string::npos) {
      keys.top.insert(path);
    } else if (path.starts_with(kUpstreamPrefix) &&
               path.find_first_of(".[", kUpstreamPrefix.size()) == std::string::npos) {
      keys.upstream.insert(path.substr(kUpstreamPrefix.size()));
    }
  }
  return keys;
}

TEST(ReloadRulesTest, EveryTopLevelKeyTheLoaderReadsIsDeclaredOnce) {
  std::set<std::string> declared;
  for (const ConfigKey& key : config_keys()) {
    EXPECT_TRUE(declared.insert(std::string(key.key)).second) << "declared twice: " << key.key;
  }
  const LoaderKeys keys = loader_keys();
  EXPECT_THAT(keys.top, ::testing::Contains("listen"));
  EXPECT_EQ(declared, keys.top) << "a config key needs a reload declaration in reload_rules.cpp";
}

TEST(ReloadRulesTest, EveryUpstreamKeyTheLoaderReadsIsDeclaredOnce) {
  std::set<std::string> declared;
  for (const UpstreamKey& key : upstream_keys()) {
    EXPECT_TRUE(declared.insert(std::string(key.key)).second) << "declared twice: " << key.key;
  }
  const LoaderKeys keys = loader_keys();
  EXPECT_THAT(keys.upstream, ::testing::Contains("address"));
  EXPECT_EQ(declared, keys.upstream)
      << "an upstream key needs a reload declaration in reload_rules.cpp";
}

const ConfigKey& key_named(std::string_view name) {
  const auto keys = config_keys();
  const auto it =
      std::find_if(keys.begin(), keys.end(), [&](const ConfigKey& k) { return k.key == name; });
  EXPECT_NE(it, keys.end()) << name;
  return *it;
}

TEST(ReloadRulesTest, RestartKeysPutTheRunningValueBack) {
  config::Config running;
  config::Config next;
  next.listen.port = 7000;
  next.threads = 4;
  const ConfigKey& listen = key_named("listen");
  EXPECT_EQ(listen.on_reload, OnReload::Restart);
  EXPECT_FALSE(listen.same(next, running));
  listen.keep(next, running);
  EXPECT_TRUE(listen.same(next, running));
  EXPECT_EQ(next.listen.port, 6380);
  EXPECT_EQ(next.threads, 4u);  // other keys untouched
}

TEST(ReloadRulesTest, DefaultUpstreamComparesNameAndIndex) {
  config::Config a;
  config::Config b;
  b.default_upstream_index = 1;
  EXPECT_FALSE(key_named("default_upstream").same(a, b));
}

TEST(ReloadRulesTest, UpstreamsAreTheSameByNameAndOrder) {
  config::Config a;
  a.upstreams.resize(2);
  a.upstreams[0].name = "a";
  a.upstreams[1].name = "b";
  config::Config b = a;
  b.upstreams[0].port = 7000;  // not an identity key
  EXPECT_TRUE(same_upstream_identities(a, b));
  std::swap(b.upstreams[0], b.upstreams[1]);
  EXPECT_FALSE(same_upstream_identities(a, b));
  b.upstreams.pop_back();
  EXPECT_FALSE(same_upstream_identities(a, b));
}

TEST(ReloadRulesTest, ConnectionSettingsRebuildPoolsAndHealthChecker) {
  config::UpstreamConfig before;
  config::UpstreamConfig now = before;
  now.host = "10.0.0.2";
  const UpstreamRebuild rebuild = upstream_rebuild(before, now);
  EXPECT_TRUE(rebuild.connections);
  EXPECT_TRUE(rebuild.health_checker);
}

TEST(ReloadRulesTest, HealthCheckSettingsRebuildTheCheckerOnly) {
  config::UpstreamConfig before;
  config::UpstreamConfig now = before;
  now.health_check.interval = std::chrono::milliseconds(5000);
  const UpstreamRebuild rebuild = upstream_rebuild(before, now);
  EXPECT_FALSE(rebuild.connections);
  EXPECT_TRUE(rebuild.health_checker);
}

TEST(ReloadRulesTest, BreakerAndRampChangesRebuildNothing) {
  config::UpstreamConfig before;
  config::UpstreamConfig now = before;
  now.breaker.consecutive_failures = 9;
  now.recovery_ramp = std::chrono::milliseconds(0);
  const UpstreamRebuild rebuild = upstream_rebuild(before, now);
  EXPECT_FALSE(rebuild.connections);
  EXPECT_FALSE(rebuild.health_checker);
}

TEST(ReloadRulesTest, ANewTlsContextForTheSameSettingsKeepsTheConnections) {
  config::UpstreamConfig before;
  before.tls.enabled = true;
  before.tls.context = upstream::build_tls_context(before.tls, "127.0.0.1").context;
  config::UpstreamConfig now = before;
  // Every load builds its own context, so two loads of one file differ in it.
  now.tls.context = upstream::build_tls_context(now.tls, "127.0.0.1").context;
  ASSERT_NE(now.tls.context, nullptr);
  ASSERT_NE(now.tls.context, before.tls.context);
  EXPECT_FALSE(upstream_rebuild(before, now).connections);
  now.tls.verify = false;
  EXPECT_TRUE(upstream_rebuild(before, now).connections);
}

}  // namespace
}  // namespace seawall::app::detail
