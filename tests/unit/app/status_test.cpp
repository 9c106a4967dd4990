#include "app/status.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::app::detail {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

WallClock::time_point at(std::int64_t ms) {
  return WallClock::time_point(std::chrono::milliseconds(ms));
}

TEST(StatusTest, FormatsTimesAsIso8601Utc) {
  EXPECT_EQ(iso8601_utc(at(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(at(1'796'415'459'123)), "2026-12-04T20:17:39.123Z");
}

TEST(StatusTest, ListenEndpointsBracketIpv6Addresses) {
  config::ListenConfig listen;
  EXPECT_EQ(listen_endpoints(listen, 6380), "127.0.0.1:6380");
  listen.addresses = {"127.0.0.1", "::1"};
  EXPECT_EQ(listen_endpoints(listen, 7000), "127.0.0.1:7000, [::1]:7000");
}

TEST(StatusTest, ContentHashTellsTextsApart) {
  EXPECT_EQ(content_hash(""), "cbf29ce484222325");  // FNV-1a 64 offset basis
  EXPECT_EQ(content_hash("a: 1\n"), content_hash("a: 1\n"));
  EXPECT_NE(content_hash("a: 1\n"), content_hash("a: 2\n"));
  EXPECT_EQ(content_hash("x").size(), 16u);
}

TEST(StatusTest, UpstreamShowsForcedStateAndLastTransition) {
  config::UpstreamConfig c;
  c.name = "main";
  c.host = "127.0.0.1";
  c.port = 6379;
  upstream::UpstreamState state(c, config::JournalConfig{}, 1);
  std::string out;
  append_upstream_status(out, state, c, WallClock::now());
  EXPECT_THAT(out, HasSubstr(R"("name":"main","address":"127.0.0.1:6379")"));
  EXPECT_THAT(out, HasSubstr(R"("state":"closed","override":"none","forced":false)"));
  EXPECT_THAT(out, HasSubstr(R"("last_transition":null)"));
  EXPECT_THAT(out, HasSubstr(R"("journal_entries":0,"journal_bytes":0,"requests_in_doubt":0)"));

  state.force_breaker_open();
  out.clear();
  append_upstream_status(out, state, c, state.last_transition()->at + 2500ms);
  EXPECT_THAT(out, HasSubstr(R"("state":"open","override":"forced_open","forced":true)"));
  EXPECT_THAT(out, HasSubstr(R"("last_transition":{"from":"closed","to":"open","at":")"));
  EXPECT_THAT(out, HasSubstr(R"("seconds_ago":2.500})"));
  EXPECT_THAT(out, HasSubstr(R"("open_until_remaining_ms":null)"));  // forced: no end
}

TEST(StatusTest, AnswersListEverySource) {
  policy::AnswerCounters counters;
  counters.count(policy::Source::L1Stale);
  counters.count(policy::Source::L1Stale);
  counters.fallthrough_denied = 3;
  std::string out;
  append_answers(out, counters);
  EXPECT_EQ(
      out,
      R"("answers":{"upstream":0,"journal":0,"l1_fresh":0,"l1_stale":2,"l1_evicted":0,"l1_near":0,)"
      R"("default":0,)"
      R"("miss":0,"error":0},"fallthrough_denied":3)");
}

TEST(StatusTest, ConfigShowsTheLastReload) {
  ConfigStatus config;
  config.path = "/etc/seawall/seawall.yaml";
  config.version = 1;
  config.hash = content_hash("x");
  config.loaded_at = at(0);
  std::string out;
  append_config_status(out, config, at(1000));
  EXPECT_THAT(out, HasSubstr(R"("path":"/etc/seawall/seawall.yaml","version":1,"hash":")"));
  EXPECT_THAT(out, HasSubstr(R"("loaded_at":"1970-01-01T00:00:00.000Z","last_reload":null})"));

  config.last_reload = ConfigStatus::Reload::Failed;
  config.last_reload_at = at(500);
  config.last_reload_reason = "SIGHUP";
  config.last_reload_error = "seawall.yaml:3: upstreams[0].port: must be > 0\n\"quoted\"";
  out.clear();
  append_config_status(out, config, at(1000));
  EXPECT_THAT(out, HasSubstr(R"("last_reload":{"result":"failed","at":"1970-01-01T00:00:00.500Z")"
                             R"(,"seconds_ago":0.500,"reason":"SIGHUP","error":"seawall.yaml:3: )"
                             R"(upstreams[0].port: must be > 0\n\"quoted\""})"));

  config.last_reload = ConfigStatus::Reload::Ok;
  out.clear();
  append_config_status(out, config, at(1000));
  EXPECT_THAT(out, HasSubstr(R"("result":"ok")"));
  EXPECT_THAT(out, HasSubstr(R"("error":null)"));
  EXPECT_THAT(out, Not(HasSubstr("quoted")));
}

}  // namespace
}  // namespace seawall::app::detail
