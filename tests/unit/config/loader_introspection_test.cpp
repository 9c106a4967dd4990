// The `introspection:` section of the config file.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "seawall/config/loader.hpp"

namespace seawall::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using test_support::load_with_upstream;

TEST(LoaderIntrospectionTest, DefaultsToSeawallsViewWithRedisInfoMerged) {
  const LoadResult result = load_with_upstream("");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->introspection.client_list, AnsweredBy::Seawall);
  EXPECT_EQ(result.config->introspection.info, InfoMode::Merged);
  EXPECT_EQ(load_with_upstream("introspection:\n").config->introspection, IntrospectionConfig{});
}

TEST(LoaderIntrospectionTest, ReadsEachField) {
  const LoadResult both =
      load_with_upstream("introspection: {client_list: seawall, info: seawall}\n");
  ASSERT_THAT(both.errors, IsEmpty());
  EXPECT_EQ(both.config->introspection.client_list, AnsweredBy::Seawall);
  EXPECT_EQ(both.config->introspection.info, InfoMode::Seawall);

  const LoadResult one = load_with_upstream(
      "introspection:\n"
      "  client_list: upstream\n"
      "  info: upstream\n");
  ASSERT_THAT(one.errors, IsEmpty());
  EXPECT_EQ(one.config->introspection.client_list, AnsweredBy::Upstream);
  EXPECT_EQ(one.config->introspection.info, InfoMode::Upstream);

  const LoadResult merged = load_with_upstream("introspection: {info: merged}\n");
  ASSERT_THAT(merged.errors, IsEmpty());
  EXPECT_EQ(merged.config->introspection.info, InfoMode::Merged);
}

TEST(LoaderIntrospectionTest, RejectsUnknownValuesAndKeysWithFileLineAndKey) {
  EXPECT_THAT(load_with_upstream("introspection:\n"
                                 "  client_list: proxy\n"
                                 "  info: Seawall\n"
                                 "  config: seawall\n")
                  .errors,
              ElementsAre("test.yaml:2: introspection.client_list: must be one of upstream or "
                          "seawall, got \"proxy\"",
                          "test.yaml:3: introspection.info: must be one of merged, upstream or "
                          "seawall, got \"Seawall\"",
                          "test.yaml:4: introspection.config: unknown key"));
  EXPECT_THAT(load_with_upstream("introspection: seawall\n").errors, ::testing::SizeIs(1));
}

TEST(LoaderIntrospectionTest, ExampleConfigHasSeawallAnswerBoth) {
  const LoadResult result = load_file(std::string(SEAWALL_SOURCE_DIR) + "/config/example.yaml");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->introspection.client_list, AnsweredBy::Seawall);
  EXPECT_EQ(result.config->introspection.info, InfoMode::Merged);
}

}  // namespace
}  // namespace seawall::config
