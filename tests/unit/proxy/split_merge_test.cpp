#include "seawall/proxy/split_merge.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace seawall::proxy {
namespace {

// MGET a b c d where a and c live on upstream 1, b and d on upstream 0.
class SplitMergeTest : public ::testing::Test {
 protected:
  std::size_t group(const std::vector<std::size_t>& upstream_of_key) {
    const auto parts = group_by_upstream(
        upstream_of_key.size(), [&](std::size_t i) { return upstream_of_key[i]; }, key_part_,
        part_upstream_);
    EXPECT_TRUE(parts.has_value());
    return parts.value_or(0);
  }

  std::vector<std::uint8_t> key_part_;
  std::array<std::size_t, kMaxParts> part_upstream_{};
};

TEST_F(SplitMergeTest, GroupsKeysByUpstreamInOrderOfFirstAppearance) {
  ASSERT_EQ(group({1, 0, 1, 0}), 2u);
  EXPECT_EQ(part_upstream_[0], 1u);
  EXPECT_EQ(part_upstream_[1], 0u);
  EXPECT_EQ(key_part_, (std::vector<std::uint8_t>{0, 1, 0, 1}));
}

TEST_F(SplitMergeTest, TooManyUpstreamsCannotBeMerged) {
  std::vector<std::size_t> ups(kMaxParts + 1);
  for (std::size_t i = 0; i < ups.size(); ++i) {
    ups[i] = i;
  }
  EXPECT_FALSE(group_by_upstream(
                   ups.size(), [&](std::size_t i) { return ups[i]; }, key_part_, part_upstream_)
                   .has_value());
}

TEST_F(SplitMergeTest, PartRequestsKeepKeysWithTheirValues) {
  const std::vector<std::string_view> mset{"MSET", "a", "1", "b", "2", "c", "3"};
  const std::vector<std::uint32_t> keys{1, 3, 5};
  ASSERT_EQ(group({0, 1, 0}), 2u);
  std::vector<std::string_view> part;
  part_request(mset, keys, key_part_, 2, 0, part);
  EXPECT_EQ(part, (std::vector<std::string_view>{"MSET", "a", "1", "c", "3"}));
  part_request(mset, keys, key_part_, 2, 1, part);
  EXPECT_EQ(part, (std::vector<std::string_view>{"MSET", "b", "2"}));
}

TEST_F(SplitMergeTest, MgetRepliesGoBackInRequestOrder) {
  ASSERT_EQ(group({1, 0, 1, 0}), 2u);
  // Part 0 (upstream 1) answered a and c, part 1 (upstream 0) b and d.
  const std::vector<std::string> parts{"*2\r\n$2\r\nva\r\n$-1\r\n",
                                       "*2\r\n$2\r\nvb\r\n$2\r\nvd\r\n"};
  std::string out;
  merge_parts(command::Merge::Mget, parts, key_part_, resp::Protocol::Resp2, out);
  EXPECT_EQ(out, "*4\r\n$2\r\nva\r\n$2\r\nvb\r\n$-1\r\n$2\r\nvd\r\n");
}

TEST_F(SplitMergeTest, MgetMissingElementsAnswerNil) {
  ASSERT_EQ(group({0, 1}), 2u);
  const std::vector<std::string> parts{"*1\r\n$1\r\nx\r\n", "*0\r\n"};
  std::string out;
  merge_parts(command::Merge::Mget, parts, key_part_, resp::Protocol::Resp3, out);
  EXPECT_EQ(out, "*2\r\n$1\r\nx\r\n_\r\n");
}

TEST_F(SplitMergeTest, CountsAreSummedAndOksBecomeOne) {
  ASSERT_EQ(group({0, 1, 2}), 3u);
  const std::vector<std::string> counts{":1\r\n", ":0\r\n", ":2\r\n"};
  std::string out;
  merge_parts(command::Merge::SumIntegers, counts, key_part_, resp::Protocol::Resp2, out);
  EXPECT_EQ(out, ":3\r\n");
  const std::vector<std::string> oks{"+OK\r\n", "+OK\r\n", "+OK\r\n"};
  out.clear();
  merge_parts(command::Merge::AllOk, oks, key_part_, resp::Protocol::Resp2, out);
  EXPECT_EQ(out, "+OK\r\n");
}

TEST(SplitReplyArrayTest, SplitsCompleteArraysOnly) {
  std::vector<std::string_view> elements;
  EXPECT_TRUE(split_reply_array("*2\r\n:1\r\n$1\r\na\r\n", elements));
  EXPECT_EQ(elements, (std::vector<std::string_view>{":1\r\n", "$1\r\na\r\n"}));
  EXPECT_FALSE(split_reply_array("+OK\r\n", elements));
  EXPECT_FALSE(split_reply_array("*2\r\n:1\r\n$1\r\n", elements));
}

}  // namespace
}  // namespace seawall::proxy
