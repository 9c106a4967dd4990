#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "seawall/config/loader.hpp"

namespace seawall::config {
namespace {

using namespace std::chrono_literals;
using test_support::load_with_upstream;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LoaderFaultsTest, NoFaultsByDefault) {
  const LoadResult result = load_with_upstream("");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.config->faults, IsEmpty());
}

TEST(LoaderFaultsTest, ReadsDelayAndErrorFaults) {
  const LoadResult result = load_with_upstream(
      "faults:\n"
      "  - {type: delay, delay: 20ms, percent: 10, commands: [GET, mget], upstream: main}\n"
      "  - type: error\n"
      "    percent: 0.5\n"
      "    message: LOADING Redis is loading the dataset in memory\n"
      "  - {type: error, percent: 100, commands: [config|get]}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  const auto& faults = result.config->faults;
  ASSERT_EQ(faults.size(), 3u);
  EXPECT_EQ(faults[0].type, fault::FaultType::Delay);
  EXPECT_EQ(faults[0].delay, 20ms);
  EXPECT_DOUBLE_EQ(faults[0].percent, 10.0);
  EXPECT_THAT(faults[0].commands, ElementsAre("get", "mget"));  // stored lowercase
  EXPECT_EQ(faults[0].upstream, "main");
  EXPECT_EQ(faults[0].upstream_index, 0u);
  EXPECT_EQ(faults[1].type, fault::FaultType::Error);
  EXPECT_DOUBLE_EQ(faults[1].percent, 0.5);
  EXPECT_THAT(faults[1].commands, IsEmpty());
  EXPECT_EQ(faults[1].upstream, "");
  EXPECT_EQ(faults[1].message, "LOADING Redis is loading the dataset in memory");
  EXPECT_THAT(faults[2].commands, ElementsAre("config|get"));
}

TEST(LoaderFaultsTest, ResolvesTheUpstreamByName) {
  const LoadResult result = load_string(
      "upstreams:\n"
      "  - {name: a, address: 127.0.0.1:6379}\n"
      "  - {name: b, address: 127.0.0.1:6380}\n"
      "faults: [{type: error, percent: 5, upstream: b}]\n",
      "test.yaml");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->faults[0].upstream_index, 1u);
}

TEST(LoaderFaultsTest, AnUnknownTypeNamesFileLineAndKey) {
  EXPECT_THAT(load_with_upstream("faults:\n  - type: abort\n    percent: 10\n").errors,
              ElementsAre("test.yaml:2: faults[0].type: must be one of delay or error, got "
                          "\"abort\""));
}

TEST(LoaderFaultsTest, TypeAndPercentAreRequired) {
  EXPECT_THAT(load_with_upstream("faults:\n  - commands: [get]\n").errors,
              ElementsAre("test.yaml:2: faults[0].type: is required",
                          "test.yaml:2: faults[0].percent: is required"));
}

TEST(LoaderFaultsTest, PercentMustBeBetweenZeroAndHundred) {
  EXPECT_THAT(load_with_upstream("faults:\n  - type: error\n    percent: 150\n").errors,
              ElementsAre("test.yaml:3: faults[0].percent: must be between 0.0 and 100.0"));
  EXPECT_THAT(load_with_upstream("faults:\n  - {type: error, percent: -1}\n").errors,
              ElementsAre("test.yaml:2: faults[0].percent: must be between 0.0 and 100.0"));
  EXPECT_THAT(load_with_upstream("faults:\n  - {type: error, percent: often}\n").errors,
              ElementsAre("test.yaml:2: faults[0].percent: must be a number, got \"often\""));
}

TEST(LoaderFaultsTest, AnUnknownUpstreamIsAnError) {
  EXPECT_THAT(
      load_with_upstream("faults:\n  - type: error\n    percent: 10\n    upstream: cache\n").errors,
      ElementsAre("test.yaml:4: faults[0].upstream: no upstream named \"cache\""));
}

TEST(LoaderFaultsTest, AnUnknownCommandIsAnError) {
  EXPECT_THAT(load_with_upstream("faults:\n"
                                 "  - type: error\n"
                                 "    percent: 10\n"
                                 "    commands:\n"
                                 "      - get\n"
                                 "      - gett\n")
                  .errors,
              ElementsAre("test.yaml:6: faults[0].commands[1]: unknown command \"gett\""));
}

TEST(LoaderFaultsTest, ADelayFaultNeedsItsDelay) {
  EXPECT_THAT(load_with_upstream("faults:\n  - type: delay\n    percent: 10\n").errors,
              ElementsAre("test.yaml:2: faults[0].delay: is required for type: delay"));
  EXPECT_THAT(load_with_upstream("faults:\n  - {type: delay, percent: 10, delay: 0ms}\n").errors,
              ElementsAre("test.yaml:2: faults[0].delay: must be > 0, got 0ms"));
}

TEST(LoaderFaultsTest, FieldsOfTheOtherTypeAreErrors) {
  EXPECT_THAT(
      load_with_upstream("faults:\n  - type: error\n    percent: 10\n    delay: 20ms\n").errors,
      ElementsAre("test.yaml:4: faults[0].delay: applies only to type: delay"));
  EXPECT_THAT(load_with_upstream(
                  "faults:\n  - type: delay\n    delay: 5ms\n    percent: 1\n    message: ERR x\n")
                  .errors,
              ElementsAre("test.yaml:5: faults[0].message: applies only to type: error"));
}

TEST(LoaderFaultsTest, AMessageIsOnePrintableLine) {
  EXPECT_THAT(
      load_with_upstream("faults:\n  - {type: error, percent: 1, message: \"ERR a\\r\\nb\"}\n")
          .errors,
      ElementsAre("test.yaml:2: faults[0].message: may contain only printable ASCII "
                  "characters on one line"));
}

TEST(LoaderFaultsTest, UnknownKeysAreReportedWithASuggestion) {
  EXPECT_THAT(load_with_upstream("faults:\n  - {type: error, percnt: 10}\n").errors,
              ElementsAre("test.yaml:2: faults[0].percent: is required",
                          "test.yaml:2: faults[0].percnt: unknown key (did you mean percent?)"));
}

}  // namespace
}  // namespace seawall::config
