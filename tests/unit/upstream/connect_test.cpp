#include "seawall/upstream/connect.hpp"

#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace seawall::upstream {
namespace {

TEST(AuthCommandTest, PasswordOnlyForTheDefaultUser) {
  EXPECT_EQ(auth_command("", "s3cret"), "*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n");
}

TEST(AuthCommandTest, UsernameAndPassword) {
  EXPECT_EQ(auth_command("alice", "pw"), "*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$2\r\npw\r\n");
}

TEST(AuthCommandTest, AnyBytesInThePasswordAreLengthPrefixed) {
  EXPECT_EQ(auth_command("", "a b\r\n$*"), "*2\r\n$4\r\nAUTH\r\n$7\r\na b\r\n$*\r\n");
}

TEST(ParseLineReplyTest, SimpleStrings) {
  for (const auto& [bytes, text] : {std::pair<std::string_view, std::string_view>{"+OK\r\n", "OK"},
                                    {"+PONG\r\n", "PONG"},
                                    {"+\r\n", ""}}) {
    const LineReply reply = parse_line_reply(bytes);
    EXPECT_EQ(reply.status, LineStatus::Simple) << bytes;
    EXPECT_EQ(reply.length, bytes.size());
    EXPECT_EQ(reply.text, text);
  }
}

TEST(ParseLineReplyTest, AnErrorKeepsItsMessage) {
  const LineReply reply =
      parse_line_reply("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(reply.status, LineStatus::Error);
  EXPECT_EQ(reply.text, "WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(reply.length, 64u);
}

TEST(ParseLineReplyTest, LengthCoversOnlyTheFirstReply) {
  const LineReply reply = parse_line_reply("+OK\r\n+PONG\r\n");
  EXPECT_EQ(reply.status, LineStatus::Simple);
  EXPECT_EQ(reply.length, 5u);
}

TEST(ParseLineReplyTest, NeedsMoreAtEverySplitPoint) {
  for (const std::string full : {"+OK\r\n", "-ERR invalid password\r\n"}) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      EXPECT_EQ(parse_line_reply(full.substr(0, n)).status, LineStatus::NeedMore) << full << n;
    }
    EXPECT_NE(parse_line_reply(full).status, LineStatus::NeedMore);
  }
}

TEST(ParseLineReplyTest, AnythingElseIsUnexpected) {
  for (const std::string_view bytes :
       {":1\r\n", "$2\r\nOK\r\n", "*1\r\n", "HTTP/1.1 400\r\n", "x", "\r\n", "_\r\n"}) {
    EXPECT_EQ(parse_line_reply(bytes).status, LineStatus::Unexpected) << bytes;
  }
}

TEST(ParseLineReplyTest, AnEndlessLineIsUnexpected) {
  EXPECT_EQ(parse_line_reply("-" + std::string(1022, 'x')).status, LineStatus::NeedMore);
  EXPECT_EQ(parse_line_reply("-" + std::string(1023, 'x')).status, LineStatus::Unexpected);
  EXPECT_EQ(parse_line_reply("-" + std::string(2000, 'x') + "\r\n").status, LineStatus::Unexpected);
}

TEST(RedactTest, ReplacesEveryOccurrence) {
  EXPECT_EQ(redact("bad pw: hunter2, again hunter2", "hunter2"),
            "bad pw: <redacted>, again <redacted>");
  EXPECT_EQ(redact("hunter2", "hunter2"), "<redacted>");
  EXPECT_EQ(redact("aaa", "aa"), "<redacted>a");
}

TEST(RedactTest, LeavesOtherTextAlone) {
  EXPECT_EQ(redact("WRONGPASS invalid username-password pair", "hunter2"),
            "WRONGPASS invalid username-password pair");
  EXPECT_EQ(redact("text", ""), "text");
  EXPECT_EQ(redact("", "secret"), "");
}

}  // namespace
}  // namespace seawall::upstream
