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

  std::vector<std::uint16_t> key_part_;
  std::vector<std::size_t> part_upstream_;
};

TEST_F(SplitMergeTest, GroupsKeysByUpstreamInOrderOfFirstAppearance) {
  ASSERT_EQ(group({1, 0, 1, 0}), 2u);
  EXPECT_EQ(part_upstream_[0], 1u);
  EXPECT_EQ(part_upstream_[1], 0u);
  EXPECT_EQ(key_part_, (std::vector<std::uint16_t>{0, 1, 0, 1}));
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

TEST_F(SplitMergeTest, ManyPartsAreGroupedLikeFew) {
  // An MGET over a thousand slots: past the scanned parts, the map must give the same grouping.
  std::vector<std::size_t> ups;
  for (std::size_t i = 0; i < 3000; ++i) {
    ups.push_back((i * 7) % 1000);
  }
  ASSERT_EQ(group(ups), 1000u);
  for (std::size_t i = 0; i < ups.size(); ++i) {
    ASSERT_EQ(part_upstream_[key_part_[i]], ups[i]) << i;
  }
  EXPECT_EQ(part_upstream_[0], 0u);
  EXPECT_EQ(part_upstream_[1], 7u);
}

TEST_F(SplitMergeTest, AllPartRequestsAtOnceEqualEachPartsOwn) {
  const std::vector<std::string_view> mset{"MSET", "a", "1", "b", "2", "c", "3", "d", "4"};
  const std::vector<std::uint32_t> keys{1, 3, 5, 7};
  ASSERT_EQ(group({2, 0, 2, 1}), 3u);
  std::vector<std::vector<std::string_view>> all;
  part_requests(mset, keys, key_part_, 2, 3, all);
  std::vector<std::string_view> one;
  for (std::size_t p = 0; p < 3; ++p) {
    part_request(mset, keys, key_part_, 2, p, one);
    EXPECT_EQ(all[p], one) << p;
  }
  EXPECT_EQ(all[0], (std::vector<std::string_view>{"MSET", "a", "1", "c", "3"}));
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

TEST(FanOutMergeTest, KeysAreConcatenatedInShardOrder) {
  const std::vector<std::string> parts{"*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*0\r\n",
                                       "*1\r\n$1\r\nc\r\n"};
  std::string out;
  merge_parts(command::Merge::Concat, parts, {}, resp::Protocol::Resp2, out);
  EXPECT_EQ(out, "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
}

TEST(FanOutMergeTest, RandomkeyTakesTheFirstShardThatHasAKey) {
  std::string out;
  merge_parts(command::Merge::FirstNonNil,
              std::vector<std::string>{"$-1\r\n", "$3\r\nkey\r\n", "$1\r\nz\r\n"}, {},
              resp::Protocol::Resp2, out);
  EXPECT_EQ(out, "$3\r\nkey\r\n");
  out.clear();
  merge_parts(command::Merge::FirstNonNil, std::vector<std::string>{"_\r\n", "_\r\n"}, {},
              resp::Protocol::Resp3, out);
  EXPECT_EQ(out, "_\r\n");
}

TEST(FanOutMergeTest, ScanCursorsWalkEveryShardInTurn) {
  // 0 starts at shard 0; a shard's own cursor c is c * shards + shard.
  auto at = shard_cursor("0", 3);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->shard, 0u);
  EXPECT_EQ(at->cursor, 0u);
  at = shard_cursor("25", 3);  // 8 * 3 + 1
  ASSERT_TRUE(at);
  EXPECT_EQ(at->shard, 1u);
  EXPECT_EQ(at->cursor, 8u);
  EXPECT_FALSE(shard_cursor("x1", 3));
  EXPECT_FALSE(shard_cursor("-1", 3));
  EXPECT_FALSE(shard_cursor("", 3));

  const std::string keys = "*1\r\n$1\r\nk\r\n";
  std::string out;
  // Shard 1 not done: its cursor 8 becomes 25.
  ASSERT_TRUE(scan_reply("*2\r\n$1\r\n8\r\n" + keys, 1, 3, out));
  EXPECT_EQ(out, "*2\r\n$2\r\n25\r\n" + keys);
  // Shard 1 done: shard 2 from its start (cursor 2, whose own cursor is 0).
  out.clear();
  ASSERT_TRUE(scan_reply("*2\r\n$1\r\n0\r\n" + keys, 1, 3, out));
  EXPECT_EQ(out, "*2\r\n$1\r\n2\r\n" + keys);
  at = shard_cursor("2", 3);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->shard, 2u);
  EXPECT_EQ(at->cursor, 0u);
  // The last shard done: the walk ends.
  out.clear();
  ASSERT_TRUE(scan_reply("*2\r\n$1\r\n0\r\n*0\r\n", 2, 3, out));
  EXPECT_EQ(out, "*2\r\n$1\r\n0\r\n*0\r\n");
  // Not a SCAN reply, or a cursor that would not survive the round trip.
  out.clear();
  EXPECT_FALSE(scan_reply("-ERR no\r\n", 0, 3, out));
  EXPECT_FALSE(scan_reply("*2\r\n$20\r\n18446744073709551615\r\n*0\r\n", 0, 3, out));
  EXPECT_TRUE(out.empty());
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
