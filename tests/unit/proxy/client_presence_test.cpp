#include "seawall/proxy/client_presence.hpp"

#include <array>
#include <optional>
#include <string_view>

#include <gtest/gtest.h>

namespace seawall::proxy {
namespace {

std::optional<std::string_view> user_of(std::span<const std::string_view> args) {
  return ClientPresence::authenticating_user(command::Command::of(args[0]), args);
}

TEST(ClientPresenceTest, AuthenticatingUserOfAuthAndHelloAuth) {
  const std::array<std::string_view, 2> password{"AUTH", "pw"};
  const std::array<std::string_view, 3> named{"auth", "alice", "pw"};
  const std::array<std::string_view, 5> hello{"HELLO", "2", "AUTH", "alice", "pw"};
  const std::array<std::string_view, 7> hello_setname{"hello", "3",     "setname", "n",
                                                      "auth",  "carol", "pw"};
  EXPECT_EQ(user_of(password), "default");
  EXPECT_EQ(user_of(named), "alice");
  EXPECT_EQ(user_of(hello), "alice");
  EXPECT_EQ(user_of(hello_setname), "carol");
}

TEST(ClientPresenceTest, NoAuthenticatingUserForOtherCommands) {
  const std::array<std::string_view, 2> hello{"HELLO", "3"};
  const std::array<std::string_view, 3> set{"SET", "auth", "alice"};
  const std::array<std::string_view, 2> unknown{"NOSUCHCOMMAND", "auth"};
  EXPECT_EQ(user_of(hello), std::nullopt);
  EXPECT_EQ(user_of(set), std::nullopt);
  EXPECT_EQ(user_of(unknown), std::nullopt);
}

}  // namespace
}  // namespace seawall::proxy
