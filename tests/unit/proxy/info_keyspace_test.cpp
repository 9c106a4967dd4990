#include "seawall/proxy/info_keyspace.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seawall::proxy {
namespace {

TEST(InfoKeyspaceTest, CountsAreSummedOverEveryShard) {
  const std::vector<std::string_view> texts{
      "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=100\r\n",
      "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=300\r\n"
      "db1:keys=1,expires=0,avg_ttl=0\r\n",
      "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\n"};
  EXPECT_EQ(sum_keyspaces(texts),
            "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\n"
            "db0:keys=15,expires=4,avg_ttl=200\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n");
}

TEST(InfoKeyspaceTest, SectionsAfterTheKeyspaceStay) {
  const std::vector<std::string_view> texts{
      "# Keyspace\r\n\r\n# Seawall\r\nx:1\r\n",
      "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0,subexpiry=0\r\n\r\n# Other\r\ny:2\r\n"};
  EXPECT_EQ(sum_keyspaces(texts),
            "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0,subexpiry=0\r\n\r\n# Seawall\r\nx:1\r\n");
}

TEST(InfoKeyspaceTest, TextsWithoutAKeyspaceComeBackAsTheyAre) {
  const std::vector<std::string_view> texts{"# Server\r\nredis_version:7.0.15\r\n",
                                            "# Keyspace\r\ndb0:keys=3\r\n"};
  EXPECT_EQ(sum_keyspaces(texts), "# Server\r\nredis_version:7.0.15\r\n");
}

}  // namespace
}  // namespace seawall::proxy
