#include "seawall/util/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace seawall::util {
namespace {

TEST(LogTest, JsonLinesEscapeTheMessage) {
  init_logging("info", true);
  auto l = logger("log_test_json");
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  l->sinks().push_back(sink);
  init_logging("info", true);  // applies the JSON formatter to every sink of every logger
  l->info("key=\"a\\b\" newline=\n end");
  l->sinks().pop_back();
  init_logging("info", false);
  const std::string line = out.str();
  EXPECT_NE(line.find(R"("msg":"key=\"a\\b\" newline=\u000a end")"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;  // one line
}

TEST(LogTest, RateLimiterCountsWhatItSuppressed) {
  LogRateLimiter limiter(std::chrono::hours(1), 2);
  std::uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.allow(suppressed));
  EXPECT_TRUE(limiter.allow(suppressed));
  EXPECT_FALSE(limiter.allow(suppressed));
  EXPECT_FALSE(limiter.allow(suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace seawall::util
