#include "seawall/policy/policy_table.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace seawall::policy {
namespace {

using namespace std::chrono_literals;

PolicyRule rule(std::string pattern, std::chrono::milliseconds ttl,
                WritesWhenOpen writes = WritesWhenOpen::Reject) {
  PolicyRule r;
  r.pattern = std::move(pattern);
  r.policy.l1 = L1Policy{true, ttl, 10 * ttl};
  r.policy.writes_when_open = writes;
  return r;
}

Policy fallback_policy() {
  Policy p;
  p.name = "fallback";
  p.on_unavailable = OnUnavailable::Error;
  return p;
}

TEST(PolicyTableTest, EmptyTableGivesDefaultPolicy) {
  const PolicyTable table;
  const Policy& p = table.match("anything");
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(p.l1.enabled);
  EXPECT_FALSE(p.degraded_default.has_value());
  EXPECT_EQ(p.on_unavailable, OnUnavailable::Miss);
  EXPECT_EQ(p.writes_when_open, WritesWhenOpen::Reject);
  EXPECT_EQ(&p, &table.fallback());
}

TEST(PolicyTableTest, FirstMatchWins) {
  std::vector<PolicyRule> rules;
  rules.push_back(rule("user:*", 1s));
  rules.push_back(rule("user:admin", 2s));
  rules.push_back(rule("*", 3s));
  const PolicyTable table(std::move(rules), fallback_policy());
  EXPECT_EQ(table.match("user:admin").l1.ttl, 1s);
  EXPECT_EQ(table.match("user:admin").name, "user:*");
  EXPECT_EQ(table.match("session:1").l1.ttl, 3s);
  EXPECT_EQ(table.match("").l1.ttl, 3s);
}

TEST(PolicyTableTest, FallbackWhenNothingMatches) {
  std::vector<PolicyRule> rules;
  rules.push_back(rule("user:*", 1s));
  rules.push_back(rule("config", 2s));
  const PolicyTable table(std::move(rules), fallback_policy());
  const Policy& p = table.match("session:1");
  EXPECT_EQ(p.name, "fallback");
  EXPECT_EQ(p.on_unavailable, OnUnavailable::Error);
  EXPECT_EQ(&p, &table.fallback());
  EXPECT_EQ(table.match("config").l1.ttl, 2s);
  EXPECT_EQ(table.match("configs").name, "fallback");
  EXPECT_EQ(table.match("user").name, "fallback");
}

TEST(PolicyTableTest, EachKindOfPattern) {
  std::vector<PolicyRule> rules;
  rules.push_back(rule("exact", 1s));
  rules.push_back(rule("prefix:**", 2s, WritesWhenOpen::Journal));
  rules.push_back(rule("h[ae]llo:?", 3s, WritesWhenOpen::Invalidate));
  rules.push_back(rule("lit\\*star", 4s));
  rules.push_back(rule("esc\\*prefix*", 5s));
  rules.push_back(rule("", 6s));
  const PolicyTable table(std::move(rules), fallback_policy());
  EXPECT_EQ(table.size(), 6u);
  EXPECT_EQ(table.match("exact").l1.ttl, 1s);
  EXPECT_EQ(table.match("exactly").name, "fallback");
  EXPECT_EQ(table.match("prefix:").l1.ttl, 2s);
  EXPECT_EQ(table.match("prefix:a:b").writes_when_open, WritesWhenOpen::Journal);
  EXPECT_EQ(table.match("hallo:1").writes_when_open, WritesWhenOpen::Invalidate);
  EXPECT_EQ(table.match("hillo:1").name, "fallback");
  EXPECT_EQ(table.match("lit*star").l1.ttl, 4s);
  EXPECT_EQ(table.match("litXstar").name, "fallback");
  EXPECT_EQ(table.match("esc*prefix:1").l1.ttl, 5s);
  EXPECT_EQ(table.match("escXprefix:1").name, "fallback");
  EXPECT_EQ(table.match("").l1.ttl, 6s);
}

TEST(PolicyTableTest, KeepsDegradedDefault) {
  PolicyRule r = rule("feature:*", 1s);
  r.policy.degraded_default = "$-1\r\n";
  std::vector<PolicyRule> rules;
  rules.push_back(std::move(r));
  const PolicyTable table(std::move(rules), fallback_policy());
  ASSERT_TRUE(table.match("feature:x").degraded_default.has_value());
  EXPECT_EQ(*table.match("feature:x").degraded_default, "$-1\r\n");
  EXPECT_EQ(table.match("feature:x").l1.max_stale, 10s);
}

TEST(PolicyTableTest, TrackingPrefixOfNearPatterns) {
  EXPECT_EQ(tracking_prefix("*"), std::optional<std::string>(""));
  EXPECT_EQ(tracking_prefix("user:*"), std::optional<std::string>("user:"));
  EXPECT_EQ(tracking_prefix("a\\?b*"), std::nullopt);
  EXPECT_EQ(tracking_prefix("user:*:name"), std::nullopt);
  EXPECT_EQ(tracking_prefix("user:?*"), std::nullopt);
  EXPECT_EQ(tracking_prefix("user"), std::nullopt);
  EXPECT_EQ(tracking_prefix(""), std::nullopt);
}

TEST(PolicyTableTest, NearPrefixesWithoutOverlaps) {
  const auto near = [](std::string pattern) {
    PolicyRule r = rule(std::move(pattern), 1000ms);
    r.policy.l1.mode = L1Mode::Near;
    return r;
  };
  EXPECT_TRUE(PolicyTable({rule("a:*", 1000ms)}, fallback_policy()).near_prefixes().empty());
  const PolicyTable table(
      {near("user:1*"), near("user:*"), near("item:*"), rule("x:*", 1000ms), near("user:*")},
      fallback_policy());
  EXPECT_EQ(table.near_prefixes(), (std::vector<std::string>{"item:", "user:"}));
  const PolicyTable all({near("user:*"), near("*")}, fallback_policy());
  EXPECT_EQ(all.near_prefixes(), (std::vector<std::string>{""}));
  PolicyRule disabled = near("off:*");
  disabled.policy.l1.enabled = false;
  EXPECT_TRUE(PolicyTable({disabled}, fallback_policy()).near_prefixes().empty());
}
}  // namespace
}  // namespace seawall::policy
