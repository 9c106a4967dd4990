#include "seawall/resp/writer.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

namespace seawall::resp {
namespace {

TEST(WriterTest, Scalars) {
  std::string out;
  append_simple(out, "OK");
  append_error(out, "ERR x");
  append_integer(out, -7);
  append_integer(out, INT64_MIN);
  append_bulk(out, "ab");
  append_null(out);
  append_array_header(out, 3);
  EXPECT_EQ(out, "+OK\r\n-ERR x\r\n:-7\r\n:-9223372036854775808\r\n$2\r\nab\r\n$-1\r\n*3\r\n");
}

TEST(WriterTest, Command) {
  std::string out;
  const std::vector<std::string_view> args{"SET", "k", ""};
  append_command(out, args);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

}  // namespace
}  // namespace seawall::resp
