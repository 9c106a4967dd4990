#include "seawall/router/router.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace seawall::router
