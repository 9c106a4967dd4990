#include "seawall/policy/fallback.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <string>
#include <vector>

namespace seawall::policy {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const command::CommandInfo& cmd(std::string_view name) {
  const command::CommandInfo* info = command::lookup(name);
  EXPECT_NE(info, nullptr) << name;
  return *info;
}

std::string miss(std::vector<std::string_view> args) { return miss_reply(cmd(args[0]), args); }

std::optional<std::string> ack(std::vector<std::string_view> args) {
  return acknowledgement(cmd(args[0]), args);
}

TEST(MissReplyTest, MatchesWhatRedisAnswersForAMissingKey) {
  EXPECT_EQ(miss({"get", "k"}), "$-1\r\n");
  EXPECT_EQ(miss({"hget", "k", "f"}), "$-1\r\n");
  EXPECT_EQ(miss({"hgetall", "k"}), "*0\r\n");
  EXPECT_EQ(miss({"lrange", "k", "0", "-1"}), "*0\r\n");
  EXPECT_EQ(miss({"smembers", "k"}), "*0\r\n");
  EXPECT_EQ(miss({"exists", "k"}), ":0\r\n");
  EXPECT_EQ(miss({"strlen", "k"}), ":0\r\n");
  EXPECT_EQ(miss({"type", "k"}), "+none\r\n");
  EXPECT_EQ(miss({"getrange", "k", "0", "1"}), "$0\r\n\r\n");
  EXPECT_EQ(miss({"mget", "a", "b"}), "*2\r\n$-1\r\n$-1\r\n");
  EXPECT_EQ(miss({"hmget", "h", "a", "b", "c"}), "*3\r\n$-1\r\n$-1\r\n$-1\r\n");
  EXPECT_EQ(miss({"smismember", "s", "a", "b"}), "*2\r\n:0\r\n:0\r\n");
  EXPECT_EQ(miss({"lpos", "l", "x"}), "$-1\r\n");
  EXPECT_EQ(miss({"lpos", "l", "x", "COUNT", "2"}), "*0\r\n");
}

TEST(AcknowledgementTest, OnlyWritesWhoseReplyIsKnownWithoutRedis) {
  EXPECT_EQ(ack({"set", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(ack({"set", "k", "v", "EX", "10"}), "+OK\r\n");
  EXPECT_EQ(ack({"set", "k", "v", "NX"}), std::nullopt);
  EXPECT_EQ(ack({"set", "k", "v", "get"}), std::nullopt);
  EXPECT_EQ(ack({"mset", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(ack({"del", "a", "b", "c"}), ":3\r\n");
  EXPECT_EQ(ack({"hset", "h", "f1", "v1", "f2", "v2"}), ":2\r\n");
  EXPECT_EQ(ack({"sadd", "s", "a", "b"}), ":2\r\n");
  EXPECT_EQ(ack({"zadd", "z", "1", "a"}), ":1\r\n");
  EXPECT_EQ(ack({"zadd", "z", "XX", "1", "a"}), std::nullopt);
  EXPECT_EQ(ack({"expire", "k", "10"}), ":1\r\n");
  EXPECT_EQ(ack({"expire", "k", "10", "NX"}), std::nullopt);
  EXPECT_EQ(ack({"incr", "k"}), std::nullopt);
  EXPECT_EQ(ack({"lpush", "l", "a"}), std::nullopt);
  EXPECT_EQ(ack({"append", "k", "a"}), std::nullopt);
}

class FallbackTest : public ::testing::Test {
 protected:
  FallbackTest() : cache_(cache::ReplyCacheOptions{}), fallback_(cache_, 2, 2) {}

  Source answer(std::vector<std::string_view> args, const Policy& policy, std::string& out,
                Clock::time_point now, resp::Protocol protocol = resp::Protocol::Resp2) {
    std::string key;
    cache::make_cache_key(args, key);
    if (protocol == resp::Protocol::Resp3) {
      make_resp3_cache_key(key);
    }
    return fallback_.answer_read(cmd(args[0]), args, key, policy, table_, now, kError, out,
                                 protocol);
  }

  void put(std::vector<std::string_view> args, std::string_view reply, Clock::time_point now,
           resp::Protocol protocol = resp::Protocol::Resp2) {
    std::string key;
    cache::make_cache_key(args, key);
    if (protocol == resp::Protocol::Resp3) {
      make_resp3_cache_key(key);
    }
    const std::vector<std::string_view> keys{args[1]};
    ASSERT_EQ(cache_.put(cache_.begin_read(), key, keys, reply, 1s, 10s, now),
              cache::PutResult::Stored);
  }

  static constexpr std::string_view kError = "-UNAVAILABLE x\r\n";
  cache::ReplyCache cache_;
  Fallback fallback_;
  PolicyTable table_;
  Clock::time_point t0_ = Clock::now();
};

Policy with_l1() {
  Policy p;
  p.l1 = L1Policy{true, std::chrono::milliseconds(1000), std::chrono::milliseconds(10000)};
  return p;
}

TEST_F(FallbackTest, FreshThenStaleThenNothing) {
  const Policy p = with_l1();
  put({"get", "k"}, "$1\r\nv\r\n", t0_);
  std::string out;
  EXPECT_EQ(answer({"get", "k"}, p, out, t0_ + 500ms), Source::L1Fresh);
  EXPECT_EQ(out, "$1\r\nv\r\n");
  out.clear();
  EXPECT_EQ(answer({"get", "k"}, p, out, t0_ + 5s), Source::L1Stale);
  EXPECT_EQ(out, "$1\r\nv\r\n");
  out.clear();
  // Past ttl + max_stale the copy is gone: a miss within the budget.
  EXPECT_EQ(answer({"get", "k"}, p, out, t0_ + 12s), Source::Miss);
  EXPECT_EQ(out, "$-1\r\n");
  EXPECT_EQ(fallback_.counters().get(Source::L1Fresh), 1u);
  EXPECT_EQ(fallback_.counters().get(Source::L1Stale), 1u);
  EXPECT_EQ(fallback_.counters().get(Source::Miss), 1u);
}

TEST_F(FallbackTest, DefaultBeforeMiss) {
  Policy p;
  p.degraded_default = ":0\r\n";
  std::string out;
  EXPECT_EQ(answer({"get", "views:1"}, p, out, t0_), Source::Default);
  EXPECT_EQ(out, ":0\r\n");
}

TEST_F(FallbackTest, L1DisabledSkipsTheCache) {
  put({"get", "k"}, "$1\r\nv\r\n", t0_);
  Policy p;  // l1 disabled
  std::string out;
  EXPECT_EQ(answer({"get", "k"}, p, out, t0_), Source::Miss);
}

TEST_F(FallbackTest, ErrorPolicyAnswersTheError) {
  Policy p;
  p.on_unavailable = OnUnavailable::Error;
  std::string out;
  EXPECT_EQ(answer({"get", "k"}, p, out, t0_), Source::Error);
  EXPECT_EQ(out, kError);
}

TEST_F(FallbackTest, FallThroughBudgetProtectsTheDatabase) {
  Policy p;
  std::string out;
  // Burst 2, 2 per second: two misses, then errors until tokens come back.
  EXPECT_EQ(answer({"get", "a"}, p, out, t0_), Source::Miss);
  EXPECT_EQ(answer({"get", "b"}, p, out, t0_), Source::Miss);
  EXPECT_EQ(answer({"get", "c"}, p, out, t0_), Source::Error);
  EXPECT_EQ(answer({"get", "d"}, p, out, t0_ + 600ms), Source::Miss);
  EXPECT_EQ(fallback_.counters().fallthrough_denied.load(), 1u);
}

TEST_F(FallbackTest, MgetAnswersEachKeyLikeAGet) {
  table_ = PolicyTable({PolicyRule{"d:*",
                                   [] {
                                     Policy p;
                                     p.degraded_default = "$1\r\n0\r\n";
                                     return p;
                                   }()}},
                       with_l1());
  put({"get", "a"}, "$1\r\n1\r\n", t0_);
  std::string out;
  const std::vector<std::string_view> args{"mget", "a", "d:x", "zz"};
  const Source s =
      fallback_.answer_read(cmd("mget"), args, {}, with_l1(), table_, t0_, kError, out);
  EXPECT_EQ(s, Source::Miss);
  EXPECT_EQ(out, "*3\r\n$1\r\n1\r\n$1\r\n0\r\n$-1\r\n");
  // The same in RESP3: nulls are RESP3's.
  out.clear();
  EXPECT_EQ(fallback_.answer_read(cmd("mget"), args, {}, with_l1(), table_, t0_, kError, out,
                                  resp::Protocol::Resp3),
            Source::Miss);
  EXPECT_EQ(out, "*3\r\n$1\r\n1\r\n$1\r\n0\r\n_\r\n");
}

// Answers "w" with its written value and calls "u" written but unknown.
class TwoKeyOverlay final : public KeyOverlay {
 public:
  Result get(std::string_view key, std::string& out) override {
    if (key == "w") {
      out.append("$3\r\nnew\r\n");
      return Result::Answered;
    }
    return key == "u" ? Result::Unknown : Result::NotCovered;
  }
};

TEST_F(FallbackTest, MgetAsksTheOverlayFirstAndNeverFallsBackForAnUnknownKey) {
  table_ = PolicyTable({}, with_l1());
  put({"get", "w"}, "$3\r\nold\r\n", t0_);  // older than the overlay's value
  put({"get", "a"}, "$1\r\n1\r\n", t0_);
  put({"get", "u"}, "$3\r\nold\r\n", t0_);
  TwoKeyOverlay overlay;
  std::string out;
  const std::vector<std::string_view> wa{"mget", "w", "a"};
  EXPECT_EQ(fallback_.answer_read(cmd("mget"), wa, {}, with_l1(), table_, t0_, kError, out,
                                  resp::Protocol::Resp2, &overlay),
            Source::L1Fresh);
  EXPECT_EQ(out, "*2\r\n$3\r\nnew\r\n$1\r\n1\r\n");
  out.clear();
  const std::vector<std::string_view> ua{"mget", "a", "u"};
  EXPECT_EQ(fallback_.answer_read(cmd("mget"), ua, {}, with_l1(), table_, t0_, kError, out,
                                  resp::Protocol::Resp2, &overlay),
            Source::Error);
  EXPECT_EQ(out, kError);
  // Under writes_when_open: invalidate an unknown key takes the chain (its copies were dropped).
  Policy invalidate = with_l1();
  invalidate.writes_when_open = WritesWhenOpen::Invalidate;
  table_ = PolicyTable({}, invalidate);
  out.clear();
  EXPECT_EQ(fallback_.answer_read(cmd("mget"), ua, {}, invalidate, table_, t0_, kError, out,
                                  resp::Protocol::Resp2, &overlay),
            Source::L1Fresh);
  EXPECT_EQ(out, "*2\r\n$1\r\n1\r\n$3\r\nold\r\n");
}

TEST_F(FallbackTest, Resp3SessionsPreferTheirOwnCopyElseConvertTheResp2One) {
  const Policy p = with_l1();
  put({"get", "a"}, "$2\r\nv2\r\n", t0_);
  put({"hgetall", "h"}, "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", t0_);
  put({"hgetall", "h"}, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", t0_, resp::Protocol::Resp3);
  std::string out;
  EXPECT_EQ(answer({"get", "a"}, p, out, t0_, resp::Protocol::Resp3), Source::L1Fresh);
  EXPECT_EQ(out, "$2\r\nv2\r\n");
  out.clear();
  EXPECT_EQ(answer({"hgetall", "h"}, p, out, t0_, resp::Protocol::Resp3), Source::L1Fresh);
  EXPECT_EQ(out, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  // A RESP2 session never sees the RESP3 copy.
  out.clear();
  EXPECT_EQ(answer({"hgetall", "h"}, p, out, t0_), Source::L1Fresh);
  EXPECT_EQ(out, "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
}

TEST_F(FallbackTest, Resp3MissesAreResp3Typed) {
  Policy p = with_l1();
  p.on_unavailable = OnUnavailable::Miss;
  std::string out;
  EXPECT_EQ(answer({"get", "nope"}, p, out, t0_, resp::Protocol::Resp3), Source::Miss);
  EXPECT_EQ(out, "_\r\n");
  out.clear();
  EXPECT_EQ(answer({"hgetall", "nope"}, p, out, t0_ + 1s, resp::Protocol::Resp3), Source::Miss);
  EXPECT_EQ(out, "%0\r\n");
}

TEST_F(FallbackTest, FallbackMgetFromTwoThreadsKeepsEachAnswerItsOwn) {
  // One Fallback serves every worker thread: no per-call state may live in the object.
  table_ = PolicyTable({}, with_l1());
  for (int i = 0; i < 50; ++i) {
    const std::string k = "k" + std::to_string(i);
    const std::string v = "$" + std::to_string(k.size()) + "\r\n" + k + "\r\n";
    put({"get", k}, v, t0_);
  }
  std::atomic<int> wrong{0};
  auto run = [&](int offset) {
    for (int round = 0; round < 2000; ++round) {
      const int i = (round + offset) % 50;
      const std::string k = "k" + std::to_string(i);
      const std::vector<std::string_view> args{"mget", k, k};
      std::string out;
      fallback_.answer_read(cmd("mget"), args, {}, with_l1(), table_, t0_, kError, out);
      const std::string v = "$" + std::to_string(k.size()) + "\r\n" + k + "\r\n";
      if (out != "*2\r\n" + v + v) {
        wrong.fetch_add(1);
      }
    }
  };
  std::thread a(run, 0);
  std::thread b(run, 25);
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace seawall::policy
