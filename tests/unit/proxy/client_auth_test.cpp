#include "seawall/proxy/client_auth.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "seawall/resp/replies.hpp"

namespace seawall::proxy {
namespace {

using ::testing::ElementsAre;
namespace replies = resp::replies;

AuthConfig users(std::initializer_list<AuthUser> list) {
  AuthConfig config;
  config.users = list;
  return config;
}

// One step for a command written as separate arguments.
AuthStep step(const ClientAuth& auth, std::initializer_list<std::string_view> line,
              bool authenticated) {
  const std::vector<std::string_view> args(line);
  return auth.step(args, authenticated);
}

void expect_reply(const AuthStep& s, std::string_view reply, bool authenticated) {
  EXPECT_EQ(s.action, AuthAction::Reply);
  EXPECT_EQ(s.reply, reply);
  EXPECT_EQ(s.authenticated, authenticated);
}

void expect_pass(const AuthStep& s, bool authenticated) {
  EXPECT_EQ(s.action, AuthAction::Pass);
  EXPECT_TRUE(s.reply.empty());
  EXPECT_EQ(s.authenticated, authenticated);
  EXPECT_FALSE(s.failed);
}

const ClientAuth& single() {
  static const ClientAuth auth(users({{"default", "pw"}}));
  return auth;
}

const ClientAuth& acl() {
  static const ClientAuth auth(users({{"alice", "alice-pw"}, {"bob", "bob-pw"}}));
  return auth;
}

TEST(ConstantTimeEqualTest, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secreT", "secret"));
  EXPECT_FALSE(constant_time_equal("Secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secre", "secret"));
  EXPECT_FALSE(constant_time_equal("secrets", "secret"));
  // The secret repeated is compared byte for byte, but the lengths still differ.
  EXPECT_FALSE(constant_time_equal("secretsecret", "secret"));
  EXPECT_FALSE(constant_time_equal("", "secret"));
  EXPECT_FALSE(constant_time_equal("", ""));  // an empty secret matches nothing
  EXPECT_FALSE(constant_time_equal("x", ""));
  EXPECT_TRUE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0c", 3), std::string_view("a\0b", 3)));
  EXPECT_TRUE(constant_time_equal("\xff\x80", "\xff\x80"));
}

TEST(ClientAuthTest, DisabledWithoutUsers) {
  EXPECT_FALSE(ClientAuth(AuthConfig{}).enabled());
  EXPECT_TRUE(single().enabled());
}

TEST(ClientAuthTest, CheckMatchesUserAndPasswordTogether) {
  EXPECT_TRUE(acl().check("alice", "alice-pw"));
  EXPECT_TRUE(acl().check("bob", "bob-pw"));
  EXPECT_FALSE(acl().check("alice", "bob-pw"));
  EXPECT_FALSE(acl().check("bob", "alice-pw"));
  EXPECT_FALSE(acl().check("carol", "alice-pw"));
  EXPECT_FALSE(acl().check("Alice", "alice-pw"));  // names are case-sensitive, as in Redis
  EXPECT_FALSE(acl().check("default", "alice-pw"));
}

TEST(ClientAuthTest, NoAuthBeforeAuthenticating) {
  expect_reply(step(single(), {"GET", "k"}, false), replies::kNoAuth, false);
  expect_reply(step(single(), {"PING"}, false), replies::kNoAuth, false);
  expect_reply(step(single(), {"CLIENT", "SETNAME", "x"}, false), replies::kNoAuth, false);
  expect_reply(step(single(), {"nosuchcommand"}, false), replies::kNoAuth, false);
  expect_reply(step(single(), {"MULTI"}, false), replies::kNoAuth, false);
}

TEST(ClientAuthTest, QuitAndResetPassBeforeAuthenticating) {
  expect_pass(step(single(), {"QUIT"}, false), false);
  expect_pass(step(single(), {"quit"}, false), false);
  expect_pass(step(single(), {"RESET"}, false), false);
}

TEST(ClientAuthTest, EverythingPassesOnceAuthenticated) {
  expect_pass(step(single(), {"GET", "k"}, true), true);
  expect_pass(step(single(), {"nosuchcommand"}, true), true);
  expect_pass(step(single(), {"QUIT"}, true), true);
}

TEST(ClientAuthTest, ResetLogsOut) { expect_pass(step(single(), {"reset"}, true), false); }

TEST(ClientAuthTest, AuthWithPasswordIsTheDefaultUser) {
  expect_reply(step(single(), {"AUTH", "pw"}, false), replies::kOk, true);
  expect_reply(step(single(), {"auth", "default", "pw"}, false), replies::kOk, true);
  // With ACL users but none named "default", AUTH <password> matches nobody.
  AuthStep s = step(acl(), {"AUTH", "alice-pw"}, false);
  expect_reply(s, replies::kWrongPass, false);
  EXPECT_TRUE(s.failed);
}

TEST(ClientAuthTest, AuthWithUserAndPassword) {
  expect_reply(step(acl(), {"AUTH", "alice", "alice-pw"}, false), replies::kOk, true);
  expect_reply(step(acl(), {"AUTH", "bob", "bob-pw"}, true), replies::kOk, true);
  AuthStep s = step(acl(), {"AUTH", "alice", "bob-pw"}, false);
  expect_reply(s, replies::kWrongPass, false);
  EXPECT_TRUE(s.failed);
}

TEST(ClientAuthTest, AFailedAuthKeepsAnEarlierAuthentication) {
  AuthStep s = step(single(), {"AUTH", "wrong"}, true);
  expect_reply(s, replies::kWrongPass, true);
  EXPECT_TRUE(s.failed);
}

TEST(ClientAuthTest, AuthWithBadArityGetsRedisErrors) {
  expect_reply(step(single(), {"AUTH"}, false), replies::kAuthArity, false);
  expect_reply(step(single(), {"AUTH", "a", "b", "c"}, false), replies::kSyntaxError, false);
  expect_reply(step(single(), {"AUTH", "a", "b", "c"}, true), replies::kSyntaxError, true);
  EXPECT_FALSE(step(single(), {"AUTH"}, false).failed);
}

TEST(ClientAuthTest, HelloWithoutAuthNeedsAnAuthenticatedSession) {
  expect_reply(step(single(), {"HELLO"}, false), replies::kNoAuthHello, false);
  expect_reply(step(single(), {"HELLO", "3"}, false), replies::kNoAuthHello, false);
  expect_reply(step(single(), {"HELLO", "2", "SETNAME", "x"}, false), replies::kNoAuthHello, false);
  expect_pass(step(single(), {"HELLO"}, true), true);
  expect_pass(step(single(), {"HELLO", "3", "SETNAME", "x"}, true), true);
}

TEST(ClientAuthTest, HelloAuthIsCheckedHere) {
  AuthStep ok = step(acl(), {"HELLO", "3", "AUTH", "alice", "alice-pw"}, false);
  EXPECT_EQ(ok.action, AuthAction::PassWithoutAuth);
  EXPECT_TRUE(ok.authenticated);
  EXPECT_TRUE(ok.reply.empty());
  EXPECT_EQ(step(single(), {"hello", "2", "auth", "default", "pw", "setname", "n"}, false).action,
            AuthAction::PassWithoutAuth);
  AuthStep bad = step(acl(), {"HELLO", "3", "AUTH", "alice", "nope"}, false);
  expect_reply(bad, replies::kWrongPass, false);
  EXPECT_TRUE(bad.failed);
  expect_reply(step(acl(), {"HELLO", "3", "AUTH", "alice", "nope"}, true), replies::kWrongPass,
               true);
}

TEST(ClientAuthTest, HelloTakesTheLastAuthOption) {
  EXPECT_EQ(
      step(acl(), {"HELLO", "3", "AUTH", "alice", "nope", "AUTH", "bob", "bob-pw"}, false).action,
      AuthAction::PassWithoutAuth);
  expect_reply(step(acl(), {"HELLO", "3", "AUTH", "bob", "bob-pw", "AUTH", "alice", "x"}, false),
               replies::kWrongPass, false);
}

TEST(ClientAuthTest, HelloChecksProtocolAndSyntaxFirst) {
  // Redis's order: protocol version, option syntax, then credentials.
  expect_reply(step(single(), {"HELLO", "4", "AUTH", "default", "pw"}, false), replies::kNoProto,
               false);
  expect_reply(step(single(), {"HELLO", "1"}, true), replies::kNoProto, true);
  expect_reply(step(single(), {"HELLO", "-3"}, false), replies::kNoProto, false);
  expect_reply(step(single(), {"HELLO", "x"}, false), replies::kHelloProtocolNotInteger, false);
  expect_reply(step(single(), {"HELLO", "03"}, false), replies::kHelloProtocolNotInteger, false);
  expect_reply(step(single(), {"HELLO", "+3"}, false), replies::kHelloProtocolNotInteger, false);
  expect_reply(step(single(), {"HELLO", "99999999999999999999"}, false),
               replies::kHelloProtocolNotInteger, false);
  expect_reply(step(single(), {"HELLO", "AUTH", "default", "pw"}, false),
               replies::kHelloProtocolNotInteger, false);
  expect_reply(step(single(), {"HELLO", "3", "FOO"}, true),
               "-ERR Syntax error in HELLO option 'FOO'\r\n", true);
  // AUTH without both of its arguments is a syntax error, and the password goes nowhere.
  expect_reply(step(single(), {"HELLO", "3", "AUTH", "pw"}, false),
               "-ERR Syntax error in HELLO option 'AUTH'\r\n", false);
  expect_reply(step(single(), {"HELLO", "3", "SETNAME"}, true),
               "-ERR Syntax error in HELLO option 'SETNAME'\r\n", true);
}

std::vector<std::string_view> without_auth(std::initializer_list<std::string_view> line) {
  std::vector<std::string_view> args(line);
  remove_hello_auth(args);
  return args;
}

TEST(RemoveHelloAuthTest, DropsEveryAuthOption) {
  EXPECT_THAT(without_auth({"HELLO", "3", "AUTH", "u", "p"}), ElementsAre("HELLO", "3"));
  EXPECT_THAT(without_auth({"HELLO", "2", "auth", "u", "p", "SETNAME", "n"}),
              ElementsAre("HELLO", "2", "SETNAME", "n"));
  EXPECT_THAT(without_auth({"HELLO", "3", "SETNAME", "n", "AUTH", "u", "p", "AUTH", "v", "q"}),
              ElementsAre("HELLO", "3", "SETNAME", "n"));
  EXPECT_THAT(without_auth({"HELLO"}), ElementsAre("HELLO"));
  EXPECT_THAT(without_auth({"HELLO", "3"}), ElementsAre("HELLO", "3"));
}

TEST(RemoveHelloAuthTest, AClientNamedAuthIsAName) {
  EXPECT_THAT(without_auth({"HELLO", "3", "SETNAME", "AUTH", "AUTH", "u", "p"}),
              ElementsAre("HELLO", "3", "SETNAME", "AUTH"));
}

}  // namespace
}  // namespace seawall::proxy
