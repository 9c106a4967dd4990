// The `auth:` section and `deny_commands` of the config file.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "seawall/config/loader.hpp"

namespace seawall::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using test_support::load_with_upstream;

// Environment variables and password files the tests create; removed afterwards.
class LoaderAuthTest : public ::testing::Test {
 protected:
  static constexpr const char* kSet = "SEAWALL_TEST_AUTH_SET";
  static constexpr const char* kOther = "SEAWALL_TEST_AUTH_OTHER";
  static constexpr const char* kEmpty = "SEAWALL_TEST_AUTH_EMPTY";
  static constexpr const char* kUnset = "SEAWALL_TEST_AUTH_UNSET";

  void SetUp() override {
    ::setenv(kSet, "s3cret-env", 1);
    ::setenv(kOther, "other-secret", 1);
    ::setenv(kEmpty, "", 1);
    ::unsetenv(kUnset);
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("loader_auth_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    ::unsetenv(kSet);
    ::unsetenv(kOther);
    ::unsetenv(kEmpty);
    std::filesystem::remove_all(dir_);
  }

  std::string write_file(const std::string& name, const std::string& contents) {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << contents;
    return path.string();
  }

  std::filesystem::path dir_;
};

TEST_F(LoaderAuthTest, OffByDefault) {
  const LoadResult result = load_with_upstream("");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_FALSE(result.config->auth.enabled());
  EXPECT_EQ(result.config->auth, AuthConfig{});
  EXPECT_THAT(result.config->deny_commands, IsEmpty());
}

TEST_F(LoaderAuthTest, PasswordEnvIsThePasswordOfTheDefaultUser) {
  const LoadResult result = load_with_upstream("auth: {password_env: SEAWALL_TEST_AUTH_SET}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_TRUE(result.config->auth.enabled());
  EXPECT_THAT(result.config->auth.users, ElementsAre(AuthUser{"default", "s3cret-env"}));
}

TEST_F(LoaderAuthTest, PasswordFileIsThePasswordOfTheDefaultUser) {
  const std::string file = write_file("pw", "from-file\n");
  const LoadResult result = load_with_upstream("auth: {password_file: " + file + "}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.config->auth.users, ElementsAre(AuthUser{"default", "from-file"}));
}

TEST_F(LoaderAuthTest, ReadsUsersFromTheEnvironmentAndFiles) {
  const std::string bob = write_file("bob", "bob-pw\n");
  const LoadResult result = load_with_upstream(
      "auth:\n"
      "  users:\n"
      "    - {name: alice, password_env: SEAWALL_TEST_AUTH_SET}\n"
      "    - {name: bob, password_file: " +
      bob +
      "}\n"
      "    - {name: default, password_env: SEAWALL_TEST_AUTH_OTHER}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.config->auth.users,
              ElementsAre(AuthUser{"alice", "s3cret-env"}, AuthUser{"bob", "bob-pw"},
                          AuthUser{"default", "other-secret"}));
}

TEST_F(LoaderAuthTest, PasswordFileLosesOnlyOneTrailingNewline) {
  const auto password_in = [&](const std::string& contents) {
    const std::string file = write_file("pw", contents);
    const LoadResult result = load_with_upstream("auth: {password_file: " + file + "}\n");
    EXPECT_THAT(result.errors, IsEmpty()) << contents;
    return result.config ? result.config->auth.users.at(0).password : std::string();
  };
  EXPECT_EQ(password_in("plain"), "plain");
  EXPECT_EQ(password_in("unix\n"), "unix");
  EXPECT_EQ(password_in("windows\r\n"), "windows");
  EXPECT_EQ(password_in("two\n\n"), "two\n");
  EXPECT_EQ(password_in(" spaces kept \n"), " spaces kept ");
  EXPECT_EQ(password_in(std::string("nul\0inside", 10)), std::string("nul\0inside", 10));
}

TEST_F(LoaderAuthTest, AMissingEnvironmentVariableIsAnError) {
  EXPECT_THAT(
      load_with_upstream("threads: 1\nauth:\n  password_env: SEAWALL_TEST_AUTH_UNSET\n").errors,
      ElementsAre("test.yaml:3: auth.password_env: environment variable "
                  "SEAWALL_TEST_AUTH_UNSET is not set"));
  EXPECT_THAT(
      load_with_upstream(
          "auth:\n  users:\n    - name: alice\n      password_env: SEAWALL_TEST_AUTH_UNSET\n")
          .errors,
      ElementsAre("test.yaml:4: auth.users[0].password_env: environment variable "
                  "SEAWALL_TEST_AUTH_UNSET is not set"));
}

TEST_F(LoaderAuthTest, AnEmptyEnvironmentVariableIsAnError) {
  EXPECT_THAT(load_with_upstream("auth: {password_env: SEAWALL_TEST_AUTH_EMPTY}\n").errors,
              ElementsAre("test.yaml:1: auth.password_env: environment variable "
                          "SEAWALL_TEST_AUTH_EMPTY is empty"));
}

TEST_F(LoaderAuthTest, RejectsMalformedEnvironmentVariableNames) {
  EXPECT_THAT(load_with_upstream("auth: {password_env: 1PW}\n").errors,
              ElementsAre("test.yaml:1: auth.password_env: must be an environment variable name "
                          "(letters, digits and '_', not starting with a digit), got \"1PW\""));
  EXPECT_THAT(load_with_upstream("auth: {password_env: \"MY-PW\"}\n").errors, ::testing::SizeIs(1));
}

TEST_F(LoaderAuthTest, UnreadableOrEmptyPasswordFilesAreErrors) {
  const std::string missing = (dir_ / "missing").string();
  EXPECT_THAT(load_with_upstream("auth: {password_file: " + missing + "}\n").errors,
              ElementsAre("test.yaml:1: auth.password_file: cannot read " + missing +
                          ": No such file or directory"));
  EXPECT_THAT(load_with_upstream("auth: {password_file: " + dir_.string() + "}\n").errors,
              ElementsAre("test.yaml:1: auth.password_file: cannot read " + dir_.string() +
                          ": is a directory"));
  const std::string empty = write_file("empty", "\n");
  EXPECT_THAT(load_with_upstream("auth: {password_file: " + empty + "}\n").errors,
              ElementsAre("test.yaml:1: auth.password_file: file " + empty + " is empty"));
  EXPECT_THAT(load_with_upstream("auth: {password_file: \"\"}\n").errors,
              ElementsAre("test.yaml:1: auth.password_file: must not be empty"));
}

TEST_F(LoaderAuthTest, NeedsExactlyOnePasswordSource) {
  EXPECT_THAT(load_with_upstream("auth: {}\n").errors,
              ElementsAre("test.yaml:1: auth: set password_env or password_file (one password), "
                          "or users (names and passwords)"));
  EXPECT_THAT(load_with_upstream("auth:\n").errors, ::testing::SizeIs(1));
  const std::string file = write_file("pw", "x");
  EXPECT_THAT(
      load_with_upstream("auth:\n  password_env: SEAWALL_TEST_AUTH_SET\n  password_file: " + file +
                         "\n")
          .errors,
      ElementsAre("test.yaml:3: auth.password_file: set either password_env or password_file, "
                  "not both"));
  EXPECT_THAT(load_with_upstream("auth:\n  users:\n    - name: alice\n").errors,
              ElementsAre("test.yaml:3: auth.users[0]: needs password_env or password_file"));
  EXPECT_THAT(load_with_upstream("auth:\n  password_env: SEAWALL_TEST_AUTH_SET\n  users:\n"
                                 "    - {name: alice, password_env: SEAWALL_TEST_AUTH_SET}\n")
                  .errors,
              ElementsAre("test.yaml:3: auth.users: set either one password (password_env or "
                          "password_file, for the user \"default\") or users, not both"));
}

TEST_F(LoaderAuthTest, ChecksUsers) {
  EXPECT_THAT(load_with_upstream("auth: {users: []}\n").errors,
              ElementsAre("test.yaml:1: auth.users: at least one user is required"));
  EXPECT_THAT(
      load_with_upstream("auth:\n  users:\n    - {password_env: SEAWALL_TEST_AUTH_SET}\n").errors,
      ElementsAre("test.yaml:3: auth.users[0].name: is required"));
  EXPECT_THAT(
      load_with_upstream(
          "auth:\n  users:\n    - {name: \"al ice\", password_env: SEAWALL_TEST_AUTH_SET}\n")
          .errors,
      ElementsAre("test.yaml:3: auth.users[0].name: may contain only printable ASCII characters "
                  "without spaces"));
  EXPECT_THAT(load_with_upstream("auth:\n  users:\n"
                                 "    - {name: alice, password_env: SEAWALL_TEST_AUTH_SET}\n"
                                 "    - {name: alice, password_env: SEAWALL_TEST_AUTH_OTHER}\n")
                  .errors,
              ElementsAre("test.yaml:4: auth.users[1].name: duplicate user name \"alice\" (first "
                          "at line 3)"));
}

TEST_F(LoaderAuthTest, RejectsUnknownKeysSuchAsAnInlinePassword) {
  EXPECT_THAT(load_with_upstream("auth: {password: hunter2}\n").errors,
              ElementsAre("test.yaml:1: auth: set password_env or password_file (one password), "
                          "or users (names and passwords)",
                          "test.yaml:1: auth.password: unknown key"));
}

TEST_F(LoaderAuthTest, ErrorsNeverContainAPassword) {
  const std::string file = write_file("pw", "file-secret\n");
  const LoadResult result = load_with_upstream(
      "auth:\n"
      "  password_env: SEAWALL_TEST_AUTH_SET\n"
      "  users:\n"
      "    - {name: a, password_env: SEAWALL_TEST_AUTH_OTHER, password_file: " +
      file +
      "}\n"
      "    - {name: a, password_file: " +
      file + "}\n");
  ASSERT_THAT(result.errors, Not(IsEmpty()));
  for (const std::string& error : result.errors) {
    EXPECT_THAT(error, Not(HasSubstr("s3cret-env")));
    EXPECT_THAT(error, Not(HasSubstr("other-secret")));
    EXPECT_THAT(error, Not(HasSubstr("file-secret")));
  }
}

// ---- deny_commands ------------------------------------------------------------------------------

TEST(LoaderDenyTest, StoresNamesInLowercase) {
  const LoadResult result =
      load_with_upstream("deny_commands: [KEYS, flushall, Debug, shutdown, \"CONFIG|set\"]\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.config->deny_commands,
              ElementsAre("keys", "flushall", "debug", "shutdown", "config|set"));
}

TEST(LoaderDenyTest, AcceptsAnEmptyList) {
  const LoadResult result = load_with_upstream("deny_commands: []\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.config->deny_commands, IsEmpty());
}

TEST(LoaderDenyTest, RejectsUnknownCommandsWithTheirLine) {
  EXPECT_THAT(load_with_upstream("deny_commands:\n"
                                 "  - keys\n"
                                 "  - nosuchcommand\n"
                                 "  - config|nosuch\n"
                                 "  - get|set\n")
                  .errors,
              ElementsAre("test.yaml:3: deny_commands[1]: unknown command \"nosuchcommand\"",
                          "test.yaml:4: deny_commands[2]: unknown subcommand \"config|nosuch\" "
                          "(write the container alone, \"config\", to deny all of its "
                          "subcommands)",
                          "test.yaml:5: deny_commands[3]: \"get\" has no subcommands"));
}

TEST(LoaderDenyTest, RejectsWhatIsNotAListOfNames) {
  EXPECT_THAT(load_with_upstream("deny_commands: keys\n").errors,
              ElementsAre("test.yaml:1: deny_commands: expected a sequence of strings, got a "
                          "scalar"));
  EXPECT_THAT(load_with_upstream("deny_commands: [[keys]]\n").errors,
              ElementsAre("test.yaml:1: deny_commands[0]: expected a string, got a sequence"));
}

}  // namespace
}  // namespace seawall::config
