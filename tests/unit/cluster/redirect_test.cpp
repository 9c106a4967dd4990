#include "seawall/cluster/redirect.hpp"

#include <gtest/gtest.h>

namespace seawall::cluster {
namespace {

TEST(RedirectTest, ParsesMovedAndAsk) {
  EXPECT_EQ(parse_redirect("-MOVED 3999 127.0.0.1:6381\r\n"),
            (Redirect{RedirectKind::Moved, 3999, {"127.0.0.1", 6381}}));
  EXPECT_EQ(parse_redirect("-ASK 16383 10.0.0.2:7002\r\n"),
            (Redirect{RedirectKind::Ask, 16383, {"10.0.0.2", 7002}}));
  EXPECT_EQ(parse_redirect("-MOVED 1 ::1:7000\r\n"),
            (Redirect{RedirectKind::Moved, 1, {"::1", 7000}}));
}

TEST(RedirectTest, OtherRepliesAreNoRedirect) {
  EXPECT_FALSE(parse_redirect("-MASTERDOWN Link with MASTER is down\r\n"));
  EXPECT_FALSE(parse_redirect("-ASKED 1 h:1\r\n"));
  EXPECT_FALSE(parse_redirect("+OK\r\n"));
  EXPECT_FALSE(parse_redirect("$5\r\nMOVED\r\n"));
  EXPECT_FALSE(maybe_redirect("+OK\r\n"));
  EXPECT_TRUE(maybe_redirect("-MOVED 1 h:1\r\n"));
}

TEST(RedirectTest, MalformedRedirectsAreRefused) {
  EXPECT_FALSE(parse_redirect("-MOVED 16384 127.0.0.1:7000\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED x 127.0.0.1:7000\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED 5\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED 5 127.0.0.1\r\n"));
  EXPECT_FALSE(parse_redirect("-ASK 5 127.0.0.1:99999\r\n"));
}

TEST(RedirectTest, ClusterDownAndTryAgainAskForANewMap) {
  EXPECT_TRUE(map_is_changing("-CLUSTERDOWN The cluster is down\r\n"));
  EXPECT_TRUE(map_is_changing("-TRYAGAIN Multiple keys request during rehashing of slot\r\n"));
  EXPECT_FALSE(map_is_changing("-MOVED 1 h:1\r\n"));
  EXPECT_FALSE(map_is_changing("+CLUSTERDOWN\r\n"));
}

}  // namespace
}  // namespace seawall::cluster
