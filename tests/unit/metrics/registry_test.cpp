#include "seawall/metrics/registry.hpp"

#include <array>
#include <atomic>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::metrics {
namespace {

using ::testing::HasSubstr;

constexpr std::array<double, 3> kSizeBuckets{64.0, 1024.0, 0.5e6};

constexpr Spec kRequests{"test_requests_total",
                         Type::Counter,
                         "Requests by command and outcome.",
                         {"command", "outcome"}};
constexpr Spec kOpen{"test_open", Type::Gauge, "Open things."};
constexpr Spec kReplyBytes{
    "test_reply_bytes", Type::Histogram, "Reply sizes in bytes.", {"upstream"}, kSizeBuckets};
constexpr Spec kLatency{"test_latency_seconds", Type::Histogram, "Latency."};
constexpr Spec kBreaker{"test_breaker_state",
                        Type::Gauge,
                        "Breaker state: 0 closed, 1 open, 2 half-open.",
                        {"upstream"}};
constexpr std::array kTable{kRequests, kOpen, kReplyBytes};

TEST(RegistryTest, RendersTheTextFormatExactly) {
  Registry registry;
  registry.declare(kTable);
  CounterFamily& requests = registry.counter(kRequests);
  requests.with({"GET", "ok"}).add(3);
  requests.with({"SET", "error"}).inc();
  registry.gauge(kOpen).with({}).set(2.5);
  Histogram& main_bytes = registry.histogram(kReplyBytes).with({"main"});
  main_bytes.observe(10.0);
  main_bytes.observe(64.0);
  main_bytes.observe(2000.0);
  main_bytes.observe(1e6);
  std::atomic<int> state{1};
  registry.gauge(kBreaker).with_callback({"main"}, [&state] { return state.load(); });

  EXPECT_EQ(registry.render(),
            "# HELP test_requests_total Requests by command and outcome.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{command=\"GET\",outcome=\"ok\"} 3\n"
            "test_requests_total{command=\"SET\",outcome=\"error\"} 1\n"
            "# HELP test_open Open things.\n"
            "# TYPE test_open gauge\n"
            "test_open 2.5\n"
            "# HELP test_reply_bytes Reply sizes in bytes.\n"
            "# TYPE test_reply_bytes histogram\n"
            "test_reply_bytes_bucket{upstream=\"main\",le=\"64\"} 2\n"
            "test_reply_bytes_bucket{upstream=\"main\",le=\"1024\"} 2\n"
            "test_reply_bytes_bucket{upstream=\"main\",le=\"500000\"} 3\n"
            "test_reply_bytes_bucket{upstream=\"main\",le=\"+Inf\"} 4\n"
            "test_reply_bytes_sum{upstream=\"main\"} 1002074\n"
            "test_reply_bytes_count{upstream=\"main\"} 4\n"
            "# HELP test_breaker_state Breaker state: 0 closed, 1 open, 2 half-open.\n"
            "# TYPE test_breaker_state gauge\n"
            "test_breaker_state{upstream=\"main\"} 1\n");

  // Callbacks are read at each render.
  state = 2;
  EXPECT_THAT(registry.render(), HasSubstr("test_breaker_state{upstream=\"main\"} 2\n"));
}

TEST(RegistryTest, RendersUntouchedMetrics) {
  Registry registry;
  registry.declare(kTable);
  registry.declare(std::array{kLatency});
  EXPECT_EQ(registry.render(),
            "# HELP test_requests_total Requests by command and outcome.\n"
            "# TYPE test_requests_total counter\n"
            "# HELP test_open Open things.\n"
            "# TYPE test_open gauge\n"
            "test_open 0\n"
            "# HELP test_reply_bytes Reply sizes in bytes.\n"
            "# TYPE test_reply_bytes histogram\n"
            "# HELP test_latency_seconds Latency.\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{le=\"5e-05\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.0001\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.00025\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.0005\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.001\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.0025\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.005\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.01\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.025\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.05\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.1\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.25\"} 0\n"
            "test_latency_seconds_bucket{le=\"0.5\"} 0\n"
            "test_latency_seconds_bucket{le=\"1\"} 0\n"
            "test_latency_seconds_bucket{le=\"2.5\"} 0\n"
            "test_latency_seconds_bucket{le=\"5\"} 0\n"
            "test_latency_seconds_bucket{le=\"10\"} 0\n"
            "test_latency_seconds_bucket{le=\"+Inf\"} 0\n"
            "test_latency_seconds_sum 0\n"
            "test_latency_seconds_count 0\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  constexpr Spec kOdd{
      "test_odd_total", Type::Counter, "Help with \\ and\nnewline \"kept\".", {"key"}};
  registry.counter(kOdd).with({"a\"b\\c\nd"}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP test_odd_total Help with \\\\ and\\nnewline \"kept\".\n"
            "# TYPE test_odd_total counter\n"
            "test_odd_total{key=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(RegistryTest, ReturnsTheSameFamilyAndChildForTheSameSpecAndLabels) {
  Registry registry;
  CounterFamily& first = registry.counter(kRequests);
  registry.declare(kTable);
  EXPECT_EQ(&registry.counter(kRequests), &first);
  Counter& ok = first.with({"GET", "ok"});
  EXPECT_EQ(&first.with({"GET", "ok"}), &ok);
  EXPECT_NE(&first.with({"GET", "error"}), &ok);
  // A spec built at run time with the same content is the same metric.
  const std::string name = "test_requests_total";
  Spec copy = kRequests;
  copy.name = name;
  EXPECT_EQ(&registry.counter(copy), &first);
}

TEST(RegistryTest, RejectsConflictingDeclarations) {
  Registry registry;
  registry.declare(kTable);
  Spec other_help = kRequests;
  other_help.help = "Something else.";
  EXPECT_THROW(registry.counter(other_help), std::invalid_argument);
  Spec other_labels = kRequests;
  other_labels.labels = {"command"};
  EXPECT_THROW(registry.counter(other_labels), std::invalid_argument);
  Spec other_type = kRequests;
  other_type.type = Type::Gauge;
  EXPECT_THROW(registry.gauge(other_type), std::invalid_argument);
  Spec other_buckets = kReplyBytes;
  other_buckets.buckets = {};
  EXPECT_THROW(registry.histogram(other_buckets), std::invalid_argument);
  // Asking for a family by the wrong type.
  EXPECT_THROW(registry.gauge(kRequests), std::invalid_argument);
  EXPECT_THROW(registry.histogram(kOpen), std::invalid_argument);
}

TEST(RegistryTest, RejectsMalformedSpecs) {
  Registry registry;
  EXPECT_THROW(registry.counter({"bad-name", Type::Counter, "h"}), std::invalid_argument);
  EXPECT_THROW(registry.counter({"x_total", Type::Counter, ""}), std::invalid_argument);
  EXPECT_THROW(registry.counter({"x_total", Type::Counter, "h", {"a-b"}}), std::invalid_argument);
  EXPECT_THROW(registry.counter({"x_total", Type::Counter, "h", {"a", "a"}}),
               std::invalid_argument);
  EXPECT_THROW(registry.counter({"x_total", Type::Counter, "h", {"a", "", "b"}}),
               std::invalid_argument);
  EXPECT_THROW(registry.histogram({"x_seconds", Type::Histogram, "h", {"le"}}),
               std::invalid_argument);
  EXPECT_THROW(registry.gauge({"x", Type::Gauge, "h", {}, kSizeBuckets}), std::invalid_argument);
  constexpr std::array<double, 2> kDescending{2.0, 1.0};
  EXPECT_THROW(registry.histogram({"x_seconds", Type::Histogram, "h", {}, kDescending}),
               std::invalid_argument);
  EXPECT_THROW(Registry(3), std::invalid_argument);
  // Nothing half-made was kept.
  EXPECT_EQ(registry.render(), "");
}

TEST(RegistryTest, RejectsWrongLabelArityAndDuplicateCallbacks) {
  Registry registry;
  CounterFamily& requests = registry.counter(kRequests);
  EXPECT_THROW(requests.with({"GET"}), std::invalid_argument);
  EXPECT_THROW(requests.with({"GET", "ok", "extra"}), std::invalid_argument);
  GaugeFamily& breaker = registry.gauge(kBreaker);
  breaker.with_callback({"main"}, [] { return 0.0; });
  EXPECT_THROW(breaker.with_callback({"main"}, [] { return 1.0; }), std::invalid_argument);
  EXPECT_THROW(breaker.with({"main"}), std::invalid_argument);
  breaker.with({"other"}).set(1);
  EXPECT_THROW(breaker.with_callback({"other"}, [] { return 1.0; }), std::invalid_argument);
}

TEST(RegistryTest, UnlabelledCallbackCounter) {
  Registry registry;
  std::uint64_t events = 7;
  registry.counter({"test_events_total", Type::Counter, "Events."}).with_callback({}, [&events] {
    return static_cast<double>(events);
  });
  EXPECT_EQ(registry.render(),
            "# HELP test_events_total Events.\n"
            "# TYPE test_events_total counter\n"
            "test_events_total 7\n");
}

TEST(RegistryTest, ShardedRegistryCountsEveryIncrement) {
  Registry registry(4);
  Counter& counter = registry.counter(kRequests).with({"GET", "ok"});
  for (int i = 0; i < 10; ++i) {
    counter.inc();
  }
  EXPECT_THAT(registry.render(), HasSubstr("{command=\"GET\",outcome=\"ok\"} 10\n"));
}

TEST(RegistryTest, DescribesEveryDeclaredMetricInATable) {
  Registry registry;
  registry.declare(kTable);
  EXPECT_EQ(registry.describe(),
            "NAME                 TYPE       LABELS           HELP\n"
            "test_requests_total  counter    command,outcome  Requests by command and outcome.\n"
            "test_open            gauge      -                Open things.\n"
            "test_reply_bytes     histogram  upstream         Reply sizes in bytes.\n");
}

}  // namespace
}  // namespace seawall::metrics
