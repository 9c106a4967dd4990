#include "seawall/upstream/tracking_link.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seawall::upstream {
namespace {

TEST(TrackingLinkTest, DecodesInvalidatedKeys) {
  Invalidation out;
  ASSERT_TRUE(
      decode_invalidation(">2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\nuser:1\r\n$0\r\n\r\n", out));
  EXPECT_FALSE(out.all);
  EXPECT_EQ(out.keys, (std::vector<std::string_view>{"user:1", ""}));
}

TEST(TrackingLinkTest, DecodesAFlushAsAll) {
  Invalidation out;
  ASSERT_TRUE(decode_invalidation(">2\r\n$10\r\ninvalidate\r\n_\r\n", out));
  EXPECT_TRUE(out.all);
  EXPECT_TRUE(out.keys.empty());
}

TEST(TrackingLinkTest, IgnoresOtherPushes) {
  Invalidation out;
  EXPECT_FALSE(decode_invalidation(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n", out));
  EXPECT_FALSE(decode_invalidation(">2\r\n$10\r\ninvalidatX\r\n_\r\n", out));
  EXPECT_FALSE(decode_invalidation(">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\na\r\n", out));
}

TEST(TrackingLinkTest, TracksEveryPrefixOrEveryKey) {
  EXPECT_EQ(tracking_command({"user:", "item:"}),
            "*8\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n$5\r\nBCAST\r\n"
            "$6\r\nPREFIX\r\n$5\r\nuser:\r\n$6\r\nPREFIX\r\n$5\r\nitem:\r\n");
  EXPECT_EQ(tracking_command({""}),
            "*4\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n$5\r\nBCAST\r\n");
}

}  // namespace
}  // namespace seawall::upstream
