// The `admin:` section of the config file.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "seawall/config/loader.hpp"

namespace seawall::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

using test_support::load_with_upstream;

TEST(LoaderAdminTest, DefaultsToEnabledOnLoopbackPort9380) {
  const LoadResult result = load_with_upstream("");
  ASSERT_THAT(result.errors, IsEmpty());
  const AdminConfig& admin = result.config->admin;
  EXPECT_TRUE(admin.enabled);
  EXPECT_EQ(admin.address, "127.0.0.1");
  EXPECT_EQ(admin.port, 9380);
  EXPECT_EQ(admin.max_connections, 16u);
  EXPECT_EQ(admin.max_request_size, 16u * 1024);
  EXPECT_EQ(admin.read_timeout, 5s);
  EXPECT_EQ(admin, AdminConfig{});
}

TEST(LoaderAdminTest, EmptySectionKeepsDefaults) {
  const LoadResult result = load_with_upstream("admin:\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->admin, AdminConfig{});
}

TEST(LoaderAdminTest, ReadsEveryField) {
  const LoadResult result = load_with_upstream(
      "admin: {enabled: false, address: \"::1\", port: 9999, max_connections: 3,\n"
      "        max_request_size: 4kb, read_timeout: 250ms}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  const AdminConfig& admin = result.config->admin;
  EXPECT_FALSE(admin.enabled);
  EXPECT_EQ(admin.address, "::1");
  EXPECT_EQ(admin.port, 9999);
  EXPECT_EQ(admin.max_connections, 3u);
  EXPECT_EQ(admin.max_request_size, 4096u);
  EXPECT_EQ(admin.read_timeout, 250ms);
}

TEST(LoaderAdminTest, AcceptsRangeBoundaries) {
  const LoadResult result = load_with_upstream(
      "admin: {port: 1, max_connections: 1024, max_request_size: 1mb, read_timeout: 1ms}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->admin.port, 1);
  EXPECT_EQ(result.config->admin.max_connections, 1024u);
  EXPECT_EQ(result.config->admin.max_request_size, 1u << 20);
  EXPECT_EQ(load_with_upstream("admin: {max_request_size: 1kb}\n").config->admin.max_request_size,
            1024u);
}

TEST(LoaderAdminTest, RejectsBadValuesWithTheirPath) {
  const LoadResult result = load_with_upstream(R"(admin:
  enabled: maybe
  address: localhost
  port: 0
  max_connections: 0
  max_request_size: 100
  read_timeout: 0s
  verbose: true
)");
  EXPECT_FALSE(result.config.has_value());
  ASSERT_EQ(result.errors.size(), 7u);
  EXPECT_THAT(result.errors[0], ::testing::StartsWith("test.yaml:2: admin.enabled: "));
  EXPECT_THAT(result.errors[1],
              ::testing::StartsWith("test.yaml:3: admin.address: must be an IPv4"));
  EXPECT_THAT(result.errors[2], ::testing::StartsWith("test.yaml:4: admin.port: "));
  EXPECT_THAT(result.errors[3], ::testing::StartsWith("test.yaml:5: admin.max_connections: "));
  EXPECT_THAT(result.errors[4], ::testing::StartsWith("test.yaml:6: admin.max_request_size: "));
  EXPECT_THAT(result.errors[5], ::testing::StartsWith("test.yaml:7: admin.read_timeout: "));
  EXPECT_EQ(result.errors[6], "test.yaml:8: admin.verbose: unknown key");
}

TEST(LoaderAdminTest, RejectsTheListenPortOnTheSameAddress) {
  EXPECT_THAT(load_with_upstream("listen: {port: 7000}\nadmin: {port: 7000}\n").errors,
              ElementsAre("test.yaml:2: admin.port: port 7000 is also the listen port "
                          "(listen.port)"));
  // A wildcard address overlaps every other.
  EXPECT_THAT(
      load_with_upstream("listen: {port: 7000}\nadmin:\n  address: 0.0.0.0\n  port: 7000\n").errors,
      ElementsAre("test.yaml:4: admin.port: port 7000 is also the listen port "
                  "(listen.port)"));
  EXPECT_THAT(load_with_upstream("listen: {port: 9380}\n").errors,
              ElementsAre("test.yaml:1: admin: the default admin port 9380 is also the listen "
                          "port (listen.port); set admin.port, or admin.enabled: false"));
  // Any of several listen addresses, in any spelling.
  EXPECT_THAT(load_with_upstream("listen: {address: [127.0.0.1, \"::1\"], port: 7000}\n"
                                 "admin: {address: \"0::1\", port: 7000}\n")
                  .errors,
              ElementsAre("test.yaml:2: admin.port: port 7000 is also the listen port "
                          "(listen.port)"));
}

TEST(LoaderAdminTest, AllowsTheListenPortWhenDisabledOrOnAnotherAddress) {
  EXPECT_THAT(load_with_upstream("listen: {port: 9380}\nadmin: {enabled: false}\n").errors,
              IsEmpty());
  EXPECT_THAT(
      load_with_upstream("listen: {port: 7000}\nadmin: {address: 127.0.0.2, port: 7000}\n").errors,
      IsEmpty());
}

TEST(LoaderAdminTest, ExampleConfigEnablesAdminOnAllInterfaces) {
  const LoadResult result = load_file(std::string(SEAWALL_SOURCE_DIR) + "/config/example.yaml");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_TRUE(result.config->admin.enabled);
  EXPECT_EQ(result.config->admin.address, "0.0.0.0");
  EXPECT_EQ(result.config->admin.read_timeout, 2s);
}

}  // namespace
}  // namespace seawall::config
