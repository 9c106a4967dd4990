// The one reader of secrets the config names (client and upstream passwords alike).
#include "config/secret.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::config::detail {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("seawall_secret_test_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }

  void write(const std::string& text) {
    std::ofstream out(path_, std::ios::binary);
    out << text;
  }

  std::string path_;
};

TEST_F(SecretFileTest, DropsOneTrailingNewline) {
  write("s3cret\r\n");
  std::string out;
  EXPECT_THAT(secret_from_file(path_, out), IsEmpty());
  EXPECT_EQ(out, "s3cret");
  write("s3cret\n\n");
  EXPECT_THAT(secret_from_file(path_, out), IsEmpty());
  EXPECT_EQ(out, "s3cret\n");
}

TEST_F(SecretFileTest, RefusesAnEmptyFile) {
  write("\n");
  std::string out = "unchanged";
  EXPECT_EQ(secret_from_file(path_, out), "file " + path_ + " is empty");
  EXPECT_EQ(out, "unchanged");
}

TEST_F(SecretFileTest, RefusesAFileOverTheCap) {
  write(std::string(kMaxSecretFile, 'x'));
  std::string out;
  EXPECT_THAT(secret_from_file(path_, out), IsEmpty());
  EXPECT_EQ(out.size(), kMaxSecretFile);
  write(std::string(kMaxSecretFile + 1, 'x'));
  out.clear();
  EXPECT_EQ(secret_from_file(path_, out),
            "file " + path_ + " is larger than 64 KiB: not a password file");
  EXPECT_THAT(out, IsEmpty());
}

TEST_F(SecretFileTest, NamesAMissingFileOrADirectory) {
  std::string out;
  EXPECT_THAT(secret_from_file(path_, out), HasSubstr("cannot read " + path_ + ": "));
  const std::string dir = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(secret_from_file(dir, out), "cannot read " + dir + ": is a directory");
}

TEST(SecretEnvTest, ReadsSetVariablesAndNamesUnsetOrEmptyOnes) {
  setenv("SEAWALL_SECRET_TEST", "pw", 1);
  std::string out;
  EXPECT_THAT(secret_from_env("SEAWALL_SECRET_TEST", out), IsEmpty());
  EXPECT_EQ(out, "pw");
  setenv("SEAWALL_SECRET_TEST", "", 1);
  EXPECT_EQ(secret_from_env("SEAWALL_SECRET_TEST", out),
            "environment variable SEAWALL_SECRET_TEST is empty");
  unsetenv("SEAWALL_SECRET_TEST");
  EXPECT_EQ(secret_from_env("SEAWALL_SECRET_TEST", out),
            "environment variable SEAWALL_SECRET_TEST is not set");
}

TEST(SecretEnvTest, ChecksVariableNames) {
  EXPECT_THAT(check_env_name("REDIS_PASSWORD_1"), IsEmpty());
  EXPECT_THAT(check_env_name("_x"), IsEmpty());
  EXPECT_THAT(check_env_name("1ABC"), HasSubstr("must be an environment variable name"));
  EXPECT_THAT(check_env_name(""), HasSubstr("must be an environment variable name"));
  EXPECT_THAT(check_env_name("A-B"), HasSubstr("must be an environment variable name"));
}

}  // namespace
}  // namespace seawall::config::detail
