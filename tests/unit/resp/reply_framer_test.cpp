#include "seawall/resp/reply_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seawall::resp {
namespace {

// Frames a stream of replies fed in chunks, returning each reply's bytes or the first error.
std::vector<std::string> frame_all(const std::string& input, std::size_t chunk, errc* error,
                                   std::uint32_t max_depth = 64) {
  ReplyFramer framer(max_depth);
  std::vector<std::string> replies;
  std::string buffer;
  *error = errc::ok;
  for (std::size_t fed = 0; fed < input.size();) {
    const std::size_t n = std::min(chunk, input.size() - fed);
    buffer.append(input, fed, n);
    fed += n;
    while (!buffer.empty()) {
      FramedReply reply;
      const errc e = framer.feed(buffer, reply);
      if (e == errc::need_more) {
        break;
      }
      if (e != errc::ok) {
        *error = e;
        return replies;
      }
      replies.push_back(buffer.substr(0, reply.length));
      buffer.erase(0, reply.length);
    }
  }
  if (!buffer.empty()) {
    *error = errc::need_more;
  }
  return replies;
}

void expect_frames(const std::vector<std::string>& replies) {
  std::string input;
  for (const auto& r : replies) {
    input += r;
  }
  for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
    errc error;
    EXPECT_EQ(frame_all(input, chunk, &error), replies) << "chunk " << chunk;
    EXPECT_EQ(error, errc::ok) << "chunk " << chunk;
  }
}

TEST(ReplyFramerTest, Resp2Scalars) {
  expect_frames({"+OK\r\n", "-ERR bad\r\n", ":42\r\n", ":-1\r\n", "$3\r\nabc\r\n", "$-1\r\n",
                 "$0\r\n\r\n", "*-1\r\n", "*0\r\n"});
}

TEST(ReplyFramerTest, BulkWithCrlfInside) { expect_frames({"$4\r\n\r\n\r\n\r\n", "+x\r\n"}); }

TEST(ReplyFramerTest, NestedArrays) {
  expect_frames(
      {"*2\r\n*2\r\n:1\r\n$1\r\na\r\n*0\r\n", "*3\r\n$1\r\na\r\n*-1\r\n*1\r\n*1\r\n:1\r\n"});
}

TEST(ReplyFramerTest, Resp3Types) {
  expect_frames({"_\r\n", ",3.14\r\n", "#t\r\n", "(12345678901234567890\r\n", "!3\r\nerr\r\n",
                 "=7\r\ntxt:abc\r\n", "%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n", "~2\r\n:1\r\n:2\r\n",
                 ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"});
}

TEST(ReplyFramerTest, AttributeIsFramedWithItsValue) {
  expect_frames({"|1\r\n+key\r\n+val\r\n:5\r\n", "*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n"});
}

TEST(ReplyFramerTest, ReportsTheFirstType) {
  ReplyFramer framer;
  FramedReply reply;
  ASSERT_EQ(framer.feed("-LOADING wait\r\n", reply), errc::ok);
  EXPECT_EQ(reply.type, '-');
  ASSERT_EQ(framer.feed("*1\r\n:1\r\n", reply), errc::ok);
  EXPECT_EQ(reply.type, '*');
}

TEST(ReplyFramerTest, InvalidType) {
  errc error;
  frame_all("?x\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_reply_type);
  frame_all("+OK\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_reply_type);
}

TEST(ReplyFramerTest, InvalidLengths) {
  errc error;
  frame_all("$abc\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_integer);
  frame_all("*-2\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_integer);
}

// Found by libFuzzer: the map and attribute counts were doubled as int64 before any bound, so a
// count near INT64_MAX was signed overflow (UBSan: reply_framer.cpp:74 and :77).
TEST(ReplyFramerTest, HugeMapCountIsRejectedBeforeDoubling) {
  errc error;
  frame_all("%9223372036854775807\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_multibulk_length);
  frame_all("%4611686018427387904\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_multibulk_length);
  frame_all("*1\r\n%9223372036854775807\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_multibulk_length);
}

TEST(ReplyFramerTest, HugeAttributeCountIsRejectedBeforeDoubling) {
  errc error;
  frame_all("|4611686018427387904\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_multibulk_length);
  frame_all("|9223372036854775807\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_multibulk_length);
  frame_all("*2\r\n:1\r\n|4611686018427387904\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_multibulk_length);
}

TEST(ReplyFramerTest, AggregateCountLimit) {
  const std::string at_limit = std::to_string(kMaxAggregateCount);
  const std::string over_limit = std::to_string(kMaxAggregateCount + 1);
  for (const char type : {'*', '~', '>', '%', '|'}) {
    ReplyFramer framer;
    FramedReply reply;
    EXPECT_EQ(framer.feed(type + at_limit + "\r\n", reply), errc::need_more) << type;
    errc error;
    frame_all(type + over_limit + "\r\n", 100, &error);
    EXPECT_EQ(error, errc::invalid_multibulk_length) << type;
  }
}

TEST(ReplyFramerTest, HugeBulkLengthWaitsWithoutWrapping) {
  for (const char type : {'$', '!', '='}) {
    ReplyFramer framer;
    FramedReply reply;
    EXPECT_EQ(framer.feed(type + std::string("9223372036854775807\r\nabc\r\n"), reply),
              errc::need_more)
        << type;
  }
}

TEST(ReplyFramerTest, BulkPayloadMustEndInCrlf) {
  for (const std::string bad : {"$3\r\nabcXY", "$3\r\nabcd\r\n", "!1\r\nx\n\r", "=2\r\nabc\r\n"}) {
    errc error;
    frame_all(bad, 100, &error);
    EXPECT_EQ(error, errc::missing_crlf) << bad;
  }
}

// A line that is only "\r\n" has no type byte; its contents used to be taken as SIZE_MAX bytes.
TEST(ReplyFramerTest, BareCrlfIsInvalid) {
  errc error;
  frame_all("\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_reply_type);
  frame_all("*2\r\n:1\r\n\r\n", 100, &error);
  EXPECT_EQ(error, errc::invalid_reply_type);
}

TEST(ReplyFramerTest, DepthLimit) {
  std::string deep;
  for (int i = 0; i < 10; ++i) {
    deep += "*1\r\n";
  }
  deep += ":1\r\n";
  errc error;
  frame_all(deep, 100, &error, 5);
  EXPECT_EQ(error, errc::too_deep);
  EXPECT_EQ(frame_all(deep, 100, &error, 64).size(), 1u);
  EXPECT_EQ(error, errc::ok);
}

TEST(ReplyFramerTest, LargeArrayScannedIncrementally) {
  std::string big = "*10000\r\n";
  for (int i = 0; i < 10000; ++i) {
    big += "$5\r\nvalue\r\n";
  }
  errc error;
  const auto replies = frame_all(big, 4096, &error);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].size(), big.size());
  EXPECT_EQ(error, errc::ok);
}

}  // namespace
}  // namespace seawall::resp
