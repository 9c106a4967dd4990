#include "seawall/resp/request_parser.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace seawall::resp {
namespace {

using Args = std::vector<std::string>;

struct Outcome {
  errc error = errc::ok;
  std::vector<Args> commands;
};

// Feeds `input` in chunks of `chunk` bytes, keeping unconsumed bytes at the front of the buffer
// the way a session does, and collects every framed command.
Outcome feed_in_chunks(const std::string& input, std::size_t chunk, const Limits& limits = {}) {
  RequestParser parser(limits);
  ParsedRequest request;
  std::string buffer;
  Outcome outcome;
  std::size_t fed = 0;
  while (fed < input.size()) {
    const std::size_t n = std::min(chunk, input.size() - fed);
    buffer.append(input, fed, n);
    fed += n;
    while (!buffer.empty()) {
      const errc e = parser.parse(buffer, request);
      if (e == errc::need_more) {
        break;
      }
      if (e != errc::ok) {
        outcome.error = e;
        return outcome;
      }
      if (!request.args.empty()) {
        outcome.commands.emplace_back(request.args.begin(), request.args.end());
      }
      buffer.erase(0, request.consumed);
    }
  }
  if (!buffer.empty()) {
    outcome.error = errc::need_more;
  }
  return outcome;
}

// Splits the input at every position into two reads and checks the same result each time.
void expect_same_at_every_split(const std::string& input, const Outcome& expected,
                                const Limits& limits = {}) {
  for (std::size_t split = 0; split <= input.size(); ++split) {
    RequestParser parser(limits);
    ParsedRequest request;
    std::string buffer = input.substr(0, split);
    Outcome got;
    auto drain = [&] {
      while (!buffer.empty()) {
        const errc e = parser.parse(buffer, request);
        if (e == errc::need_more) {
          return true;
        }
        if (e != errc::ok) {
          got.error = e;
          return false;
        }
        if (!request.args.empty()) {
          got.commands.emplace_back(request.args.begin(), request.args.end());
        }
        buffer.erase(0, request.consumed);
      }
      return true;
    };
    if (drain()) {
      buffer.append(input.substr(split));
      if (drain() && !buffer.empty()) {
        got.error = errc::need_more;
      }
    }
    ASSERT_EQ(got.error, expected.error) << "split at " << split;
    ASSERT_EQ(got.commands, expected.commands) << "split at " << split;
  }
}

void expect_commands(const std::string& input, const std::vector<Args>& commands) {
  Outcome expected{errc::ok, commands};
  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
                            input.size() == 0 ? std::size_t{1} : input.size()}) {
    const Outcome got = feed_in_chunks(input, chunk);
    EXPECT_EQ(got.error, errc::ok) << "chunk " << chunk;
    EXPECT_EQ(got.commands, commands) << "chunk " << chunk;
  }
  expect_same_at_every_split(input, expected);
}

void expect_error(const std::string& input, errc error, const Limits& limits = {}) {
  for (std::size_t chunk : {std::size_t{1}, input.size()}) {
    EXPECT_EQ(feed_in_chunks(input, chunk, limits).error, error) << "chunk " << chunk;
  }
}

TEST(RequestParserTest, FramesOneMultibulkCommand) {
  expect_commands("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", {{"GET", "k"}});
}

TEST(RequestParserTest, FramesPipelinedCommands) {
  expect_commands("*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n",
                  {{"PING"}, {"SET", "k", "value"}});
}

TEST(RequestParserTest, EmptyAndBinaryBulks) {
  std::string binary;
  for (int i = 0; i < 256; ++i) {
    binary.push_back(static_cast<char>(i));
  }
  const std::string input = "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$256\r\n" + binary + "\r\n";
  expect_commands(input, {{"SET", "", binary}});
}

TEST(RequestParserTest, BulkContainingCrlf) {
  expect_commands("*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n", {{"ECHO", "\r\n\r\n"}});
}

TEST(RequestParserTest, ZeroAndNegativeMultibulkAreIgnoredLikeRedis) {
  expect_commands("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", {{"PING"}});
}

TEST(RequestParserTest, InlineCommands) {
  expect_commands("PING\r\n", {{"PING"}});
  expect_commands("SET k v\n", {{"SET", "k", "v"}});
  expect_commands("  GET   k  \r\n", {{"GET", "k"}});
}

TEST(RequestParserTest, InlineEmptyLinesAreSkipped) {
  expect_commands("\r\n\n PING\r\n", {{"PING"}});
}

TEST(RequestParserTest, InlineQuotesAndEscapes) {
  expect_commands("SET \"a b\" 'c d'\r\n", {{"SET", "a b", "c d"}});
  expect_commands("SET k \"\\x41\\n\\t\\\\\\\"\"\r\n", {{"SET", "k", "A\n\t\\\""}});
  expect_commands("SET k 'it\\'s'\r\n", {{"SET", "k", "it's"}});
  expect_commands("ECHO \"\"\r\n", {{"ECHO", ""}});
}

TEST(RequestParserTest, InlineUnbalancedQuotes) {
  expect_error("SET \"abc\r\n", errc::unbalanced_quotes);
  expect_error("SET 'abc\r\n", errc::unbalanced_quotes);
  expect_error("SET \"a\"b\r\n", errc::unbalanced_quotes);
}

TEST(RequestParserTest, InvalidMultibulkLength) {
  expect_error("*abc\r\n", errc::invalid_multibulk_length);
  expect_error("*\r\n", errc::invalid_multibulk_length);
  expect_error("*1x\r\n", errc::invalid_multibulk_length);
  expect_error("*99999999999999999999\r\n", errc::invalid_multibulk_length);
}

TEST(RequestParserTest, ArrayLimit) {
  Limits limits;
  limits.max_array = 2;
  expect_error("*3\r\n", errc::invalid_multibulk_length, limits);
  const Outcome ok = feed_in_chunks("*2\r\n$1\r\na\r\n$1\r\nb\r\n", 1, limits);
  EXPECT_EQ(ok.error, errc::ok);
}

// Limits is a plain struct: a max_array above INT64_MAX used to become negative when compared
// as int64, and then every multibulk command was refused.
TEST(RequestParserTest, ArrayLimitAboveInt64Max) {
  Limits limits;
  limits.max_array = std::numeric_limits<std::uint64_t>::max();
  const Outcome ok = feed_in_chunks("*2\r\n$1\r\na\r\n$1\r\nb\r\n", 1, limits);
  EXPECT_EQ(ok.error, errc::ok);
  EXPECT_EQ(ok.commands, (std::vector<Args>{{"a", "b"}}));
}

TEST(RequestParserTest, HugeBulkLengthWithoutBulkLimitWaits) {
  Limits limits;
  limits.max_bulk = std::numeric_limits<std::uint64_t>::max();
  RequestParser parser(limits);
  ParsedRequest request;
  const std::string head = "*1\r\n$9223372036854775807\r\n";
  EXPECT_EQ(parser.parse(head + "abc", request), errc::need_more);
  EXPECT_EQ(parser.bytes_hint(), head.size() + std::size_t{9223372036854775807} + 2);
}

TEST(RequestParserTest, InvalidBulkLength) {
  expect_error("*1\r\n$abc\r\n", errc::invalid_bulk_length);
  expect_error("*1\r\n$-5\r\n", errc::invalid_bulk_length);
  expect_error("*1\r\n$-1\r\n", errc::invalid_bulk_length);
  expect_error("*1\r\n$\r\n", errc::invalid_bulk_length);
}

TEST(RequestParserTest, BulkLimit) {
  Limits limits;
  limits.max_bulk = 4;
  expect_error("*1\r\n$5\r\n", errc::invalid_bulk_length, limits);
  EXPECT_EQ(feed_in_chunks("*1\r\n$4\r\nabcd\r\n", 1, limits).error, errc::ok);
}

TEST(RequestParserTest, ExpectedDollar) {
  expect_error("*1\r\n:5\r\n", errc::expected_dollar);
  expect_error("*2\r\n$1\r\na\r\n+x\r\n", errc::expected_dollar);
}

TEST(RequestParserTest, ExpectedDollarNamesTheByteFound) {
  for (const auto& [input, byte] :
       {std::pair<std::string, char>{"*1\r\n:5\r\n", ':'}, {"*2\r\n$1\r\na\r\nfoo\r\n", 'f'}}) {
    RequestParser parser(Limits{});
    ParsedRequest out;
    EXPECT_EQ(parser.parse(input, out), errc::expected_dollar) << input;
    EXPECT_EQ(parser.unexpected_byte(), byte) << input;
  }
}

TEST(RequestParserTest, MissingCrlfAfterBulk) {
  expect_error("*1\r\n$1\r\nabc\r\n", errc::missing_crlf);
}

TEST(RequestParserTest, InlineTooLong) {
  Limits limits;
  limits.max_inline = 8;
  expect_error("GET 0123456789\r\n", errc::inline_too_long, limits);
  expect_error(std::string(20, 'a'), errc::inline_too_long, limits);
  EXPECT_EQ(feed_in_chunks("GET k\r\n", 1, limits).error, errc::ok);
}

TEST(RequestParserTest, LengthLineWithoutCrlfIsBounded) {
  expect_error("*1\r\n$" + std::string(70 * 1024, '1'), errc::invalid_bulk_length);
  expect_error("*" + std::string(70 * 1024, '1'), errc::invalid_multibulk_length);
}

TEST(RequestParserTest, IncompleteStaysIncomplete) {
  EXPECT_EQ(feed_in_chunks("*2\r\n$3\r\nGET\r\n$1\r\n", 1).error, errc::need_more);
  EXPECT_EQ(feed_in_chunks("PING", 1).error, errc::need_more);
}

TEST(RequestParserTest, BytesHintCoversALargeBulk) {
  RequestParser parser(Limits{});
  ParsedRequest request;
  const std::string head = "*2\r\n$3\r\nSET\r\n$1000000\r\n";
  EXPECT_EQ(parser.parse(head, request), errc::need_more);
  EXPECT_EQ(parser.bytes_hint(), head.size() + 1000000 + 2);
}

TEST(RequestParserTest, ConsumedCoversExactlyOneCommand) {
  RequestParser parser(Limits{});
  ParsedRequest request;
  const std::string input = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
  ASSERT_EQ(parser.parse(input, request), errc::ok);
  EXPECT_EQ(request.consumed, input.size() / 2);
  EXPECT_EQ(request.kind, RequestKind::Multibulk);
}

TEST(RequestParserTest, EveryErrcHasAMessage) {
  for (int i = 0; i <= static_cast<int>(errc::too_deep); ++i) {
    EXPECT_FALSE(message(static_cast<errc>(i)).empty());
    EXPECT_NE(message(static_cast<errc>(i)), "unknown");
  }
}

}  // namespace
}  // namespace seawall::resp

namespace seawall::resp {
namespace {

TEST(RequestParserTest, ReleaseMemoryBetweenCommandsFreesScratchStorage) {
  RequestParser parser(Limits{});
  ParsedRequest request;
  std::string input = "*1000\r\n";
  for (int i = 0; i < 1000; ++i) {
    input += "$1\r\nk\r\n";
  }
  ASSERT_EQ(parser.parse(input, request), errc::ok);
  EXPECT_GT(parser.heap_bytes(), 0u);
  parser.release_memory();
  EXPECT_EQ(parser.heap_bytes(), 0u);
  // Still parses afterwards.
  ASSERT_EQ(parser.parse("*1\r\n$4\r\nPING\r\n", request), errc::ok);
  ASSERT_EQ(request.args.size(), 1u);
  EXPECT_EQ(request.args[0], "PING");
}

TEST(RequestParserTest, ReleaseMemoryKeepsAnIncompleteCommand) {
  RequestParser parser(Limits{});
  ParsedRequest request;
  const std::string input = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  const std::string first = input.substr(0, 12);
  ASSERT_EQ(parser.parse(first, request), errc::need_more);
  parser.release_memory();  // mid-command: nothing may be dropped
  ASSERT_EQ(parser.parse(input, request), errc::ok);
  ASSERT_EQ(request.args.size(), 2u);
  EXPECT_EQ(request.args[1], "k");
}

}  // namespace
}  // namespace seawall::resp
