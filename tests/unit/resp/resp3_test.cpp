#include "seawall/resp/resp3.hpp"

#include <gtest/gtest.h>

namespace seawall::resp {
namespace {

std::string convert(std::string_view reply) {
  std::string out = "prefix:";
  if (!append_as_resp3(out, reply)) {
    return "refused:" + out;
  }
  return out.substr(7);
}

TEST(Resp3Test, NullBulkAndNullArrayBecomeResp3Null) {
  EXPECT_EQ(convert("$-1\r\n"), "_\r\n");
  EXPECT_EQ(convert("*-1\r\n"), "_\r\n");
}

TEST(Resp3Test, ScalarsAreUnchanged) {
  EXPECT_EQ(convert("$3\r\nfoo\r\n"), "$3\r\nfoo\r\n");
  EXPECT_EQ(convert("$0\r\n\r\n"), "$0\r\n\r\n");
  EXPECT_EQ(convert(":42\r\n"), ":42\r\n");
  EXPECT_EQ(convert("+OK\r\n"), "+OK\r\n");
  EXPECT_EQ(convert("-ERR x\r\n"), "-ERR x\r\n");
}

TEST(Resp3Test, NullsInsideArraysAtAnyDepth) {
  EXPECT_EQ(convert("*3\r\n$1\r\na\r\n$-1\r\n*2\r\n$-1\r\n:1\r\n"),
            "*3\r\n$1\r\na\r\n_\r\n*2\r\n_\r\n:1\r\n");
  EXPECT_EQ(convert("*0\r\n"), "*0\r\n");
}

TEST(Resp3Test, BulkBodyMayContainCrlf) {
  EXPECT_EQ(convert("$4\r\na\r\nb\r\n"), "$4\r\na\r\nb\r\n");
}

TEST(Resp3Test, MalformedOrIncompleteIsRefusedAndOutUntouched) {
  EXPECT_EQ(convert("$3\r\nfo"), "refused:prefix:");
  EXPECT_EQ(convert("*2\r\n$1\r\na\r\n"), "refused:prefix:");
  EXPECT_EQ(convert("$x\r\n"), "refused:prefix:");
  EXPECT_EQ(convert("$-2\r\n"), "refused:prefix:");
  EXPECT_EQ(convert("*9223372036854775807\r\n"), "refused:prefix:");
  EXPECT_EQ(convert("$1\r\na\r\n:1\r\n"), "refused:prefix:");  // two replies
  EXPECT_EQ(convert(""), "refused:prefix:");
}

TEST(Resp3Test, DeepNestingIsRefused) {
  std::string deep;
  for (int i = 0; i < 40; ++i) {
    deep += "*1\r\n";
  }
  deep += ":1\r\n";
  EXPECT_EQ(convert(deep), "refused:prefix:");
}

}  // namespace
}  // namespace seawall::resp
