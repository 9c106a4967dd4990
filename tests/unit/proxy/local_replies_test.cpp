#include "seawall/proxy/local_replies.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace seawall::proxy {
namespace {

TEST(LocalRepliesTest, PingAnswersPongOrItsMessage) {
  std::string out;
  const std::vector<std::string_view> ping{"PING"};
  append_ping_reply(out, ping);
  EXPECT_EQ(out, "+PONG\r\n");
  out.clear();
  const std::vector<std::string_view> with_message{"ping", "hi"};
  append_ping_reply(out, with_message);
  EXPECT_EQ(out, "$2\r\nhi\r\n");
}

TEST(LocalRepliesTest, UnsubscribeAnswersEachChannelWithZero) {
  std::string out;
  const std::vector<std::string_view> args{"UNSUBSCRIBE", "a", "b"};
  append_unsubscribe_reply(out, "unsubscribe", args, resp::Protocol::Resp2);
  EXPECT_EQ(out,
            "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n"
            "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
}

TEST(LocalRepliesTest, UnsubscribeOfNothingIsOnePushInResp3) {
  std::string out;
  const std::vector<std::string_view> args{"PUNSUBSCRIBE"};
  append_unsubscribe_reply(out, "punsubscribe", args, resp::Protocol::Resp3);
  EXPECT_EQ(out, ">3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");
}

TEST(LocalRepliesTest, HelloDescribesTheClientInItsProtocol) {
  std::string out;
  append_hello_reply(out, resp::Protocol::Resp2, 42, "7.0.15");
  EXPECT_EQ(out.substr(0, 5), "*14\r\n");
  EXPECT_NE(out.find("$2\r\nid\r\n:42\r\n"), std::string::npos);
  EXPECT_NE(out.find("$6\r\n7.0.15\r\n"), std::string::npos);
  EXPECT_NE(out.find(":2\r\n"), std::string::npos);
  out.clear();
  append_hello_reply(out, resp::Protocol::Resp3, 1, "7.0.15");
  EXPECT_EQ(out.substr(0, 4), "%7\r\n");
  EXPECT_NE(out.find("$5\r\nproto\r\n:3\r\n"), std::string::npos);
}

}  // namespace
}  // namespace seawall::proxy
