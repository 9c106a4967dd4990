#include "seawall/router/router.hpp"

#include <gtest/gtest.h>

namespace seawall::router {
namespace {

TEST(KeyRouterTest, FirstMatchingPrefixElseDefault) {
  config::Config c;
  c.upstreams.resize(3);
  c.routes = {config::RouteConfig{"sess:", "b", 1}, config::RouteConfig{"s", "c", 2}};
  c.default_upstream_index = 0;
  const Router r(c);
  EXPECT_EQ(r.route("sess:1"), 1u);
  EXPECT_EQ(r.route("s1"), 2u);
  EXPECT_EQ(r.route("other"), 0u);
  EXPECT_EQ(r.route(""), 0u);
  EXPECT_FALSE(r.single_upstream());
}

TEST(KeyRouterTest, NoRoutesMeansOneUpstream) {
  config::Config c;
  c.upstreams.resize(2);
  c.default_upstream_index = 1;
  const Router r(c);
  EXPECT_TRUE(r.single_upstream());
  EXPECT_EQ(r.route("anything"), 1u);
}

}  // namespace
}  // namespace seawall::router
