#include "seawall/upstream/upstream_state.hpp"

#include <gtest/gtest.h>

namespace seawall::upstream {
namespace {

using namespace std::chrono_literals;

TEST(UpstreamStateTest, ErrorLinesNameTheUpstream) {
  config::UpstreamConfig c;
  c.name = "cache-a";
  UpstreamState s(c, config::JournalConfig{}, 1);
  EXPECT_EQ(s.no_fallback_error(),
            "-UNAVAILABLE seawall: upstream 'cache-a' is unavailable and nothing can answer\r\n");
  EXPECT_EQ(s.write_rejected_error().rfind("-UNAVAILABLE seawall: upstream 'cache-a'", 0), 0u);
}

TEST(UpstreamStateTest, RampAdmitsAGrowingShareAfterClosing) {
  config::UpstreamConfig c;
  c.name = "a";
  c.recovery_ramp = 1000ms;
  UpstreamState s(c, config::JournalConfig{}, 1);
  const auto before = UpstreamState::Clock::now();
  EXPECT_TRUE(s.admit_read(before));  // no ramp yet
  s.breaker().force_open();
  s.breaker().force_close();  // -> Closed: the ramp starts now
  const auto start = UpstreamState::Clock::now();
  auto admitted = [&](std::chrono::milliseconds at) {
    int n = 0;
    for (int i = 0; i < 1000; ++i) {
      n += s.admit_read(start + at) ? 1 : 0;
    }
    return n;
  };
  const int early = admitted(100ms);
  const int late = admitted(800ms);
  EXPECT_LT(early, 200);
  EXPECT_GT(late, 700);
  EXPECT_LT(early, late);
  EXPECT_EQ(admitted(1500ms), 1000);
}

TEST(UpstreamStateTest, ReadyOnlyWhenTheJournalIsEmpty) {
  config::UpstreamConfig c;
  c.name = "a";
  UpstreamState s(c, config::JournalConfig{}, 1);
  EXPECT_TRUE(s.ready());
  const std::vector<std::string_view> set = {"SET", "k", "v"};
  ASSERT_EQ(s.journal().append(set, Journal::Mode::Journal, std::chrono::system_clock::now()),
            Journal::Append::Ok);
  EXPECT_FALSE(s.ready());
}

}  // namespace
}  // namespace seawall::upstream
