#include "seawall/fault/fault_injector.hpp"

#include <array>
#include <deque>
#include <string_view>

#include <gtest/gtest.h>

#include "seawall/command/command_table.hpp"
#include "seawall/resp/replies.hpp"

namespace seawall::fault {
namespace {

using namespace std::chrono_literals;

// Hands out the scripted draws in order and counts how many were asked for.
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::initializer_list<std::uint32_t> draws) : draws_(draws) {}

  // RandomSource
  std::uint32_t draw() override {
    ++asked;
    if (draws_.empty()) {
      ADD_FAILURE() << "more draws than scripted";
      return 0;
    }
    const std::uint32_t d = draws_.front();
    draws_.pop_front();
    return d;
  }

  int asked = 0;

 private:
  std::deque<std::uint32_t> draws_;
};

FaultConfig error_fault(double percent, std::vector<std::string> commands = {}) {
  FaultConfig f;
  f.type = FaultType::Error;
  f.percent = percent;
  f.commands = std::move(commands);
  return f;
}

FaultConfig delay_fault(double percent, std::chrono::milliseconds delay,
                        std::vector<std::string> commands = {}) {
  FaultConfig f;
  f.type = FaultType::Delay;
  f.delay = delay;
  f.percent = percent;
  f.commands = std::move(commands);
  return f;
}

const Fault* pick(const FaultInjector& faults, std::string_view name, std::size_t upstream,
                  RandomSource& random) {
  const std::array<std::string_view, 2> args{name, "k"};
  return faults.pick(command::lookup(name), args, upstream, random);
}

TEST(FaultInjectorTest, EmptyInjectsNothing) {
  const FaultInjector faults;
  EXPECT_TRUE(faults.empty());
  ScriptedRandom random({});
  EXPECT_EQ(pick(faults, "get", 0, random), nullptr);
  EXPECT_EQ(random.asked, 0);
}

TEST(FaultInjectorTest, ADrawBelowThePercentageApplies) {
  const std::vector<FaultConfig> config{error_fault(10.0, {"get"})};
  const FaultInjector faults(config);
  // 10% of 1,000,000 draws: 0..99,999 apply, 100,000 and above do not.
  ScriptedRandom random({0, 99'999, 100'000, 999'999});
  const Fault* first = pick(faults, "get", 0, random);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->type, FaultType::Error);
  EXPECT_EQ(first->error_reply, resp::replies::kInjectedFault);
  EXPECT_NE(pick(faults, "get", 0, random), nullptr);
  EXPECT_EQ(pick(faults, "get", 0, random), nullptr);
  EXPECT_EQ(pick(faults, "get", 0, random), nullptr);
  EXPECT_EQ(random.asked, 4);
}

TEST(FaultInjectorTest, ZeroAndHundredPercentAreNeverAndAlways) {
  const std::vector<FaultConfig> never{error_fault(0.0)};
  const std::vector<FaultConfig> always{error_fault(100.0)};
  ScriptedRandom random({0, RandomSource::kDrawRange - 1});
  EXPECT_EQ(pick(FaultInjector(never), "get", 0, random), nullptr);
  EXPECT_NE(pick(FaultInjector(always), "get", 0, random), nullptr);
}

TEST(FaultInjectorTest, FractionalPercentages) {
  const std::vector<FaultConfig> config{error_fault(0.5)};  // one in 200: draws below 5,000
  const FaultInjector faults(config);
  ScriptedRandom random({4'999, 5'000});
  EXPECT_NE(pick(faults, "set", 0, random), nullptr);
  EXPECT_EQ(pick(faults, "set", 0, random), nullptr);
}

TEST(FaultInjectorTest, NonMatchingCommandsCostNoDraw) {
  const std::vector<FaultConfig> config{error_fault(100.0, {"get", "mget"})};
  const FaultInjector faults(config);
  ScriptedRandom random({0, 0});
  EXPECT_EQ(pick(faults, "set", 0, random), nullptr);
  EXPECT_EQ(pick(faults, "hget", 0, random), nullptr);
  EXPECT_EQ(random.asked, 0);
  EXPECT_NE(pick(faults, "GET", 0, random), nullptr);  // the table's lookup ignores case
  EXPECT_NE(pick(faults, "mget", 0, random), nullptr);
  // A command the table does not know matches only a fault without a command list.
  const std::array<std::string_view, 1> unknown{"nosuchcommand"};
  EXPECT_EQ(faults.pick(nullptr, unknown, 0, random), nullptr);
  EXPECT_EQ(random.asked, 2);
}

TEST(FaultInjectorTest, SubcommandsMatchOnlyTheirOwnRequests) {
  const std::vector<FaultConfig> config{error_fault(100.0, {"config|get"})};
  const FaultInjector faults(config);
  ScriptedRandom random({0});
  const std::array<std::string_view, 3> set{"config", "set", "x"};
  const std::array<std::string_view, 3> get{"config", "get", "x"};
  EXPECT_EQ(faults.pick(command::lookup("config"), set, 0, random), nullptr);
  EXPECT_NE(faults.pick(command::lookup("config"), get, 0, random), nullptr);
}

TEST(FaultInjectorTest, AnUpstreamFaultLeavesTheOthersAlone) {
  FaultConfig f = error_fault(100.0);
  f.upstream = "b";
  f.upstream_index = 1;
  const std::vector<FaultConfig> config{f};
  const FaultInjector faults(config);
  ScriptedRandom random({0});
  EXPECT_EQ(pick(faults, "get", 0, random), nullptr);
  EXPECT_EQ(pick(faults, "get", 2, random), nullptr);
  EXPECT_EQ(random.asked, 0);
  EXPECT_NE(pick(faults, "get", 1, random), nullptr);
}

TEST(FaultInjectorTest, TheFirstFaultWhoseDrawHitsApplies) {
  const std::vector<FaultConfig> config{delay_fault(50.0, 20ms, {"get"}), error_fault(50.0)};
  const FaultInjector faults(config);
  // The delay's draw misses, the error's hits.
  ScriptedRandom random({600'000, 100'000, 100'000});
  const Fault* fault = pick(faults, "get", 0, random);
  ASSERT_NE(fault, nullptr);
  EXPECT_EQ(fault->type, FaultType::Error);
  EXPECT_EQ(random.asked, 2);
  // The delay hits first: the error is not even drawn for.
  fault = pick(faults, "get", 0, random);
  ASSERT_NE(fault, nullptr);
  EXPECT_EQ(fault->type, FaultType::Delay);
  EXPECT_EQ(fault->delay, 20ms);
  EXPECT_EQ(random.asked, 3);
}

TEST(FaultInjectorTest, AConfiguredMessageIsTheErrorLine) {
  FaultConfig f = error_fault(100.0);
  f.message = "LOADING Redis is loading the dataset in memory";
  const std::vector<FaultConfig> config{f};
  const FaultInjector faults(config);
  ScriptedRandom random({0});
  const Fault* fault = pick(faults, "get", 0, random);
  ASSERT_NE(fault, nullptr);
  EXPECT_EQ(fault->error_reply, "-LOADING Redis is loading the dataset in memory\r\n");
}

TEST(FastRandomTest, DrawsStayInRangeAndSpreadEvenly) {
  FastRandom random(42);
  constexpr int kDraws = 100'000;
  int below_ten_percent = 0;
  for (int i = 0; i < kDraws; ++i) {
    const std::uint32_t d = random.draw();
    ASSERT_LT(d, RandomSource::kDrawRange);
    below_ten_percent += d < RandomSource::kDrawRange / 10 ? 1 : 0;
  }
  // Binomial(100000, 0.1): mean 10000, sd ~95; 5 sd either side.
  EXPECT_GT(below_ten_percent, 10'000 - 475);
  EXPECT_LT(below_ten_percent, 10'000 + 475);
}

}  // namespace
}  // namespace seawall::fault
