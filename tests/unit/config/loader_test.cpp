#include "seawall/config/loader.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace std::chrono_literals;

// Appended after the part under test so that its line numbers are not shifted.
constexpr std::string_view kOneUpstream =
    "upstreams:\n"
    "  - name: main\n"
    "    address: 127.0.0.1:6379\n";

LoadResult load(std::string_view yaml) { return load_string(yaml, "test.yaml"); }

LoadResult load_with_upstream(std::string_view yaml) {
  return load(std::string(yaml) + std::string(kOneUpstream));
}

std::string source_file(const std::string& relative) {
  return std::string(SEAWALL_SOURCE_DIR) + "/" + relative;
}

UpstreamConfig default_upstream(std::string name, std::string host, std::uint16_t port) {
  UpstreamConfig upstream;
  upstream.name = std::move(name);
  upstream.host = std::move(host);
  upstream.port = port;
  return upstream;
}

// ---- values -------------------------------------------------------------------------------------

TEST(LoaderTest, MinimalConfigGetsEveryDefault) {
  const LoadResult result = load(kOneUpstream);
  ASSERT_THAT(result.errors, IsEmpty());
  ASSERT_TRUE(result.config.has_value());

  Config expected;
  expected.source_path = "test.yaml";
  expected.upstreams.push_back(default_upstream("main", "127.0.0.1", 6379));
  EXPECT_EQ(*result.config, expected);
  // The defaults the contract promises, spelled out once.
  EXPECT_THAT(result.config->listen.addresses, ElementsAre("127.0.0.1"));
  EXPECT_EQ(result.config->listen.port, 6380);
  EXPECT_EQ(result.config->threads, 1u);
  const UpstreamConfig& upstream = result.config->upstreams.front();
  EXPECT_EQ(upstream.connections, 2u);
  EXPECT_EQ(upstream.connect_timeout, 250ms);
  EXPECT_EQ(upstream.request_timeout, 100ms);
  EXPECT_EQ(upstream.reconnect_backoff_min, 10ms);
  EXPECT_EQ(upstream.reconnect_backoff_max, 1s);
  EXPECT_EQ(upstream.max_pending, 65536u);
  const LimitsConfig& limits = result.config->limits;
  EXPECT_EQ(limits.max_clients, 10000u);
  EXPECT_EQ(limits.max_bulk, 512ull << 20);
  EXPECT_EQ(limits.max_array, 1048576u);
  EXPECT_EQ(limits.max_inline, 64u << 10);
  EXPECT_EQ(limits.max_depth, 64u);
  EXPECT_EQ(limits.client_output_buffer, 64ull << 20);
  EXPECT_EQ(limits.max_pipeline, 16384u);
  EXPECT_EQ(limits.idle_timeout, 0ms);
  EXPECT_EQ(result.config->log.level, "info");
  EXPECT_EQ(result.config->log.format, LogFormat::Text);
  EXPECT_EQ(result.config->shutdown.drain_timeout, 5s);
}

TEST(LoaderTest, EmptySectionsKeepDefaults) {
  const LoadResult result = load_with_upstream("listen:\nlimits: {}\nlog:\nshutdown: {}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->listen, ListenConfig{});
  EXPECT_EQ(result.config->limits, LimitsConfig{});
  EXPECT_EQ(result.config->log, LogConfig{});
  EXPECT_EQ(result.config->shutdown, ShutdownConfig{});
}

TEST(LoaderTest, ReadsEveryField) {
  const LoadResult result = load(R"(listen: {address: "::1", port: 7000}
threads: 4
upstreams:
  - name: primary
    address: redis.internal:6390
    connections: 8
    connect_timeout: 1s
    request_timeout: 1.5s
    reconnect_backoff_min: 50ms
    reconnect_backoff_max: 2m
    max_pending: 100
    eviction_events: configure
  - name: replica-2.b_c
    address: "[::1]:6391"
limits:
  max_clients: 5
  max_bulk: 1gb
  max_array: 1000
  max_inline: 4KB
  max_depth: 8
  client_output_buffer: 100
  max_pipeline: 32
  idle_timeout: 1h
log: {level: debug, format: json}
shutdown: {drain_timeout: 0s}
)");
  ASSERT_THAT(result.errors, IsEmpty());
  const Config& config = *result.config;
  EXPECT_THAT(config.listen.addresses, ElementsAre("::1"));
  EXPECT_EQ(config.listen.port, 7000);
  EXPECT_EQ(config.threads, 4u);
  ASSERT_THAT(config.upstreams, SizeIs(2));
  const UpstreamConfig& primary = config.upstreams[0];
  EXPECT_EQ(primary.name, "primary");
  EXPECT_EQ(primary.host, "redis.internal");
  EXPECT_EQ(primary.port, 6390);
  EXPECT_EQ(primary.connections, 8u);
  EXPECT_EQ(primary.connect_timeout, 1s);
  EXPECT_EQ(primary.request_timeout, 1500ms);
  EXPECT_EQ(primary.reconnect_backoff_min, 50ms);
  EXPECT_EQ(primary.reconnect_backoff_max, 2min);
  EXPECT_EQ(primary.max_pending, 100u);
  EXPECT_EQ(primary.eviction_events, upstream::EvictionEvents::Configure);
  EXPECT_EQ(result.config->upstreams[1].eviction_events, upstream::EvictionEvents::Subscribe);
  EXPECT_EQ(config.upstreams[1], default_upstream("replica-2.b_c", "::1", 6391));
  EXPECT_EQ(config.limits.max_clients, 5u);
  EXPECT_EQ(config.limits.max_bulk, 1ull << 30);
  EXPECT_EQ(config.limits.max_array, 1000u);
  EXPECT_EQ(config.limits.max_inline, 4096u);
  EXPECT_EQ(config.limits.max_depth, 8u);
  EXPECT_EQ(config.limits.client_output_buffer, 100u);
  EXPECT_EQ(config.limits.max_pipeline, 32u);
  EXPECT_EQ(config.limits.idle_timeout, 1h);
  EXPECT_EQ(config.log.level, "debug");
  EXPECT_EQ(config.log.format, LogFormat::Json);
  EXPECT_EQ(config.shutdown.drain_timeout, 0ms);
}

TEST(LoaderTest, AcceptsEveryLogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    const LoadResult result = load_with_upstream("log: {level: " + std::string(level) + "}\n");
    ASSERT_THAT(result.errors, IsEmpty()) << level;
    EXPECT_EQ(result.config->log.level, level);
  }
}

TEST(LoaderTest, AcceptsRangeBoundaries) {
  const LoadResult result = load(R"(listen: {port: 65535}
threads: 256
upstreams:
  - {name: a, address: "h:1", connections: 64, max_pending: 1}
  - {name: b, address: "h:65535", connections: 1, reconnect_backoff_min: 1s, reconnect_backoff_max: 1s}
limits: {max_depth: 1024, max_array: 2147483647, max_clients: 4294967295, max_bulk: 1}
)");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->listen.port, 65535);
  EXPECT_EQ(result.config->threads, 256u);
  EXPECT_EQ(result.config->upstreams[0].port, 1);
  EXPECT_EQ(result.config->upstreams[1].port, 65535);
  EXPECT_EQ(result.config->limits.max_clients, 4294967295u);
}

TEST(LoaderTest, NumbersMayBeQuoted) {
  const LoadResult result = load_with_upstream("threads: \"3\"\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->threads, 3u);
}

// ---- errors: structure --------------------------------------------------------------------------

TEST(LoaderTest, RejectsUnknownKeysWithTheirPath) {
  const LoadResult result = load(R"(threads: 1
thread_count: 2
limits:
  max_bulks: 1mb
  whatever: 1
upstreams:
  - name: main
    address: 127.0.0.1:6379
    timeout: 1s
)");
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(result.errors,
              ElementsAre("test.yaml:2: thread_count: unknown key",
                          "test.yaml:4: limits.max_bulks: unknown key (did you mean max_bulk?)",
                          "test.yaml:5: limits.whatever: unknown key",
                          "test.yaml:9: upstreams[0].timeout: unknown key"));
}

TEST(LoaderTest, SuggestsAKeyThatDiffersOnlyInCase) {
  EXPECT_THAT(load_with_upstream("Threads: 2\n").errors,
              ElementsAre("test.yaml:1: Threads: unknown key (did you mean threads?)"));
}

TEST(LoaderTest, RejectsWrongTypes) {
  const LoadResult result = load(R"(listen: 5
threads: [1, 2]
limits:
  max_bulk: {a: 1}
log: text
upstreams:
  - name: {x: 1}
    address: [a]
)");
  EXPECT_THAT(result.errors,
              ElementsAre("test.yaml:1: listen: expected a mapping, got a scalar",
                          "test.yaml:2: threads: expected an unsigned integer, got a sequence",
                          "test.yaml:4: limits.max_bulk: expected a size such as 64kb or 512mb, "
                          "got a mapping",
                          "test.yaml:5: log: expected a mapping, got a scalar",
                          "test.yaml:7: upstreams[0].name: expected a string, got a mapping",
                          "test.yaml:8: upstreams[0].address: expected host:port, got a sequence"));
}

TEST(LoaderTest, RejectsNonNumbers) {
  EXPECT_THAT(load_with_upstream("threads: two\n").errors,
              ElementsAre("test.yaml:1: threads: expected an unsigned integer, got \"two\""));
  EXPECT_THAT(load_with_upstream("threads: 1.5\n").errors,
              ElementsAre("test.yaml:1: threads: expected an unsigned integer, got \"1.5\""));
  EXPECT_THAT(load_with_upstream("threads: 0x10\n").errors,
              ElementsAre("test.yaml:1: threads: expected an unsigned integer, got \"0x10\""));
}

TEST(LoaderTest, RejectsEmptyValues) {
  EXPECT_THAT(load_with_upstream("threads:\nlog: {level: }\n").errors,
              ElementsAre("test.yaml:1: threads: missing value, expected an unsigned integer",
                          "test.yaml:2: log.level: missing value, expected one of trace, debug, "
                          "info, warn, error, critical or off"));
}

TEST(LoaderTest, RejectsUpstreamsThatAreNotASequence) {
  EXPECT_THAT(load("upstreams: {name: main}\n").errors,
              ElementsAre("test.yaml:1: upstreams: expected a sequence, got a mapping"));
  EXPECT_THAT(load("upstreams:\n  - 5\n  - [x]\n").errors,
              ElementsAre("test.yaml:2: upstreams[0]: expected a mapping, got a scalar",
                          "test.yaml:3: upstreams[1]: expected a mapping, got a sequence"));
}

TEST(LoaderTest, RequiresAtLeastOneUpstream) {
  EXPECT_THAT(load("threads: 1\n").errors, ElementsAre("test.yaml:1: upstreams: is required"));
  EXPECT_THAT(load("threads: 1\nupstreams: []\n").errors,
              ElementsAre("test.yaml:2: upstreams: at least one upstream is required"));
  EXPECT_THAT(load("threads: 1\nupstreams:\n").errors,
              ElementsAre("test.yaml:2: upstreams: at least one upstream is required"));
}

TEST(LoaderTest, EmptyFileNeedsUpstreams) {
  EXPECT_THAT(load("").errors, ElementsAre("test.yaml:1: upstreams: is required"));
  EXPECT_THAT(load("# nothing\n").errors, ElementsAre("test.yaml:1: upstreams: is required"));
}

TEST(LoaderTest, RejectsARootThatIsNotAMapping) {
  EXPECT_THAT(load("- a\n- b\n").errors,
              ElementsAre("test.yaml:1: expected a mapping, got a sequence"));
}

TEST(LoaderTest, RejectsDuplicateKeys) {
  EXPECT_THAT(
      load_with_upstream("threads: 1\nlimits: {max_depth: 2, max_depth: 3}\nthreads: 2\n").errors,
      ElementsAre("test.yaml:2: limits.max_depth: duplicate key",
                  "test.yaml:3: threads: duplicate key"));
}

TEST(LoaderTest, ReportsSyntaxErrorsWithTheirLine) {
  const LoadResult result = load("threads: 1\nlimits: {max_bulk: 1mb\nlog: {}\n");
  EXPECT_FALSE(result.config.has_value());
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0], ::testing::StartsWith("test.yaml:3: invalid YAML: "));

  EXPECT_THAT(load("a: 1\n  b: 2\n").errors,
              ElementsAre("test.yaml:2: invalid YAML: illegal map value"));
}

TEST(LoaderTest, RejectsASecondDocument) {
  EXPECT_THAT(load(std::string(kOneUpstream) + "---\nthreads: 2\n").errors,
              ElementsAre("test.yaml:5: only one YAML document is allowed"));
}

// yaml-cpp 0.7's LoadAll returns endless empty documents for these (jbeder/yaml-cpp#1040), and
// the loader allocated until it was killed; found by tests/fuzz/config_loader_fuzz.
TEST(LoaderTest, StrayFlowEntryIsASyntaxErrorNotAnEndlessStream) {
  EXPECT_THAT(load_string(",", "test.yaml").errors,
              ElementsAre("test.yaml:1: invalid YAML: unknown token"));
  EXPECT_THAT(load_string(", a", "test.yaml").errors,
              ElementsAre("test.yaml:1: invalid YAML: unknown token"));
  EXPECT_THAT(load_string("threads: 1\n---\n,\n", "test.yaml").errors,
              ElementsAre("test.yaml:3: invalid YAML: unknown token"));
}

// The document scan that replaced YAML::LoadAll counts empty documents as LoadAll did, and names
// the line of the second document's first node, as LoadAll's Mark() did.
TEST(LoaderTest, EmptyDocumentsStillCount) {
  EXPECT_THAT(load_string("---\n---\n", "test.yaml").errors,
              ElementsAre("test.yaml:3: only one YAML document is allowed"));
  EXPECT_THAT(load_string("a: 1\n---\n", "test.yaml").errors,
              ElementsAre("test.yaml:3: only one YAML document is allowed"));
  EXPECT_THAT(load_string("a: 1\n...\n---\n[x]\n", "test.yaml").errors,
              ElementsAre("test.yaml:4: only one YAML document is allowed"));
}

// ---- errors: values -----------------------------------------------------------------------------

TEST(LoaderTest, RejectsPortsOutOfRange) {
  EXPECT_THAT(load_with_upstream("listen: {port: 0}\n").errors,
              ElementsAre("test.yaml:1: listen.port: must be between 1 and 65535, got 0"));
  EXPECT_THAT(load_with_upstream("listen: {port: 65536}\n").errors,
              ElementsAre("test.yaml:1: listen.port: must be between 1 and 65535, got 65536"));
  EXPECT_THAT(load_with_upstream("listen: {port: -1}\n").errors,
              ElementsAre("test.yaml:1: listen.port: must be between 1 and 65535, got -1"));
}

TEST(LoaderTest, RejectsCountsOutOfRange) {
  const LoadResult result = load(R"(threads: 0
limits:
  max_depth: 1025
  max_clients: 4294967296
  max_pipeline: 0
  max_array: 99999999999999999999999
upstreams:
  - name: main
    address: 127.0.0.1:6379
    connections: 65
    max_pending: 0
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre("test.yaml:1: threads: must be between 1 and 256, got 0",
                  "test.yaml:3: limits.max_depth: must be between 1 and 1024, got 1025",
                  "test.yaml:4: limits.max_clients: must be at most 4294967295, got 4294967296",
                  "test.yaml:5: limits.max_pipeline: must be > 0, got 0",
                  "test.yaml:6: limits.max_array: must be between 1 and 2147483647, got "
                  "99999999999999999999999",
                  "test.yaml:10: upstreams[0].connections: must be between 1 and 64, got 65",
                  "test.yaml:11: upstreams[0].max_pending: must be > 0, got 0"));
}

TEST(LoaderTest, RejectsZeroTimeoutsWhereZeroMakesNoSense) {
  const LoadResult result = load(R"(upstreams:
  - name: main
    address: 127.0.0.1:6379
    connect_timeout: 0s
    request_timeout: 0ms
    reconnect_backoff_min: 0s
    reconnect_backoff_max: 0s
)");
  EXPECT_THAT(result.errors,
              ElementsAre("test.yaml:4: upstreams[0].connect_timeout: must be > 0, got 0s",
                          "test.yaml:5: upstreams[0].request_timeout: must be > 0, got 0ms",
                          "test.yaml:6: upstreams[0].reconnect_backoff_min: must be > 0, got 0s",
                          "test.yaml:7: upstreams[0].reconnect_backoff_max: must be > 0, got 0s"));
}

TEST(LoaderTest, AcceptsZeroIdleAndDrainTimeouts) {
  const LoadResult result =
      load_with_upstream("limits: {idle_timeout: 0s}\nshutdown: {drain_timeout: 0ms}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->limits.idle_timeout, 0ms);
  EXPECT_EQ(result.config->shutdown.drain_timeout, 0ms);
}

TEST(LoaderTest, RejectsMalformedDurations) {
  const LoadResult result = load(R"(limits:
  idle_timeout: 30
shutdown:
  drain_timeout: soon
upstreams:
  - name: main
    address: 127.0.0.1:6379
    connect_timeout: -1s
    request_timeout: 5d
    reconnect_backoff_max: 0.5ms
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          "test.yaml:2: limits.idle_timeout: invalid duration \"30\": missing unit: write "
          "ms, s, m or h after the number, e.g. 0s or 250ms",
          "test.yaml:4: shutdown.drain_timeout: invalid duration \"soon\": expected a "
          "number followed by ms, s, m or h, e.g. 250ms",
          "test.yaml:8: upstreams[0].connect_timeout: invalid duration \"-1s\": must not be "
          "negative",
          "test.yaml:9: upstreams[0].request_timeout: invalid duration \"5d\": unknown unit "
          "(use ms, s, m or h)",
          "test.yaml:10: upstreams[0].reconnect_backoff_max: invalid duration \"0.5ms\": "
          "not a whole number of milliseconds"));
}

TEST(LoaderTest, RejectsDurationsLongerThanAYear) {
  EXPECT_THAT(load_with_upstream("limits: {idle_timeout: 8761h}\n").errors,
              ElementsAre("test.yaml:1: limits.idle_timeout: must be at most 8760h, got 8761h"));
  EXPECT_THAT(load_with_upstream("limits: {idle_timeout: 9999999999999999999999h}\n").errors,
              ElementsAre("test.yaml:1: limits.idle_timeout: invalid duration "
                          "\"9999999999999999999999h\": too large"));
  EXPECT_THAT(load_with_upstream("limits: {idle_timeout: 8760h}\n").errors, IsEmpty());
}

TEST(LoaderTest, RejectsMalformedAndZeroSizes) {
  const LoadResult result = load_with_upstream(R"(limits:
  max_bulk: 0
  max_inline: 12xb
  client_output_buffer: -5mb
  max_array: 1kb
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre("test.yaml:2: limits.max_bulk: must be > 0, got 0",
                  "test.yaml:3: limits.max_inline: invalid size \"12xb\": unknown unit "
                  "(use b, kb, mb or gb)",
                  "test.yaml:4: limits.client_output_buffer: invalid size \"-5mb\": must "
                  "not be negative",
                  "test.yaml:5: limits.max_array: expected an unsigned integer, got \"1kb\""));
}

TEST(LoaderTest, RejectsUnknownEnumValues) {
  EXPECT_THAT(load_with_upstream("log:\n  level: verbose\n  format: xml\n").errors,
              ElementsAre("test.yaml:2: log.level: must be one of trace, debug, info, warn, error, "
                          "critical or off, got \"verbose\"",
                          "test.yaml:3: log.format: must be one of text or json, got \"xml\""));
  // Names are exact: the log level is handed to spdlog as written.
  EXPECT_THAT(load_with_upstream("log: {level: INFO}\n").errors, SizeIs(1));
}

TEST(LoaderTest, ReadsL1Admission) {
  const LoadResult result = load_with_upstream(R"(policies:
  - match: "a:*"
    l1: {ttl: 1s}
  - match: "b:*"
    l1: {admission: always}
  - match: "c:*"
    l1: {admission: tinylfu}
)");
  ASSERT_THAT(result.errors, IsEmpty());
  const auto& policies = result.config->policies;
  ASSERT_THAT(policies, SizeIs(3));
  EXPECT_EQ(policies[0].policy.l1.admission, cache::Admission::TinyLfu);  // the default
  EXPECT_EQ(policies[1].policy.l1.admission, cache::Admission::Always);
  EXPECT_EQ(policies[2].policy.l1.admission, cache::Admission::TinyLfu);
  EXPECT_EQ(default_fallback_policy().l1.admission, cache::Admission::TinyLfu);
}

TEST(LoaderTest, RejectsAnUnknownL1Admission) {
  const LoadResult result = load_with_upstream(R"(policies:
  - match: "*"
    l1: {admission: lru}
)");
  EXPECT_THAT(result.errors,
              ElementsAre("test.yaml:3: policies[0].l1.admission: must be one of tinylfu or "
                          "always, got \"lru\""));
}

TEST(LoaderTest, ReadsMissLeases) {
  const LoadResult result = load_with_upstream(R"(policies:
  - match: "a:*"
    miss_lease: 200ms
  - match: "b:*"
)");
  ASSERT_THAT(result.errors, IsEmpty());
  const auto& policies = result.config->policies;
  ASSERT_THAT(policies, SizeIs(2));
  EXPECT_EQ(policies[0].policy.miss_lease, std::chrono::milliseconds(200));
  EXPECT_EQ(policies[1].policy.miss_lease, std::chrono::milliseconds(0));  // the default: off
}

TEST(LoaderTest, ReadsEvictionSettings) {
  const LoadResult result = load_with_upstream(R"(policies:
  - match: "a:*"
    l1: {serve_evicted: false}
  - match: "b:*"
    l1: {ttl: 1s}
)");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_FALSE(result.config->policies[0].policy.l1.serve_evicted);
  EXPECT_TRUE(result.config->policies[1].policy.l1.serve_evicted);  // the default
  EXPECT_EQ(result.config->upstreams[0].eviction_events, upstream::EvictionEvents::Subscribe);
}

TEST(LoaderTest, RejectsAMissLeaseOfMoreThanTenSeconds) {
  const LoadResult result = load_with_upstream(R"(policies:
  - match: "*"
    miss_lease: 11s
)");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0], testing::HasSubstr("test.yaml:3: policies[0].miss_lease: "));
}

TEST(LoaderTest, ListensOnEachAddressOfAList) {
  const LoadResult result =
      load_with_upstream("listen:\n  address: [127.0.0.1, \"::1\"]\n  port: 7000\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.config->listen.addresses, ElementsAre("127.0.0.1", "::1"));
  EXPECT_EQ(result.config->listen.port, 7000);
}

TEST(LoaderTest, RejectsAListOfListenAddressesThatCannotAllBeBound) {
  EXPECT_THAT(load_with_upstream("listen: {address: []}\n").errors,
              ElementsAre("test.yaml:1: listen.address: needs at least one address"));
  // The same address twice, in two spellings.
  EXPECT_THAT(load_with_upstream("listen: {address: [\"::1\", \"0:0::1\"]}\n").errors,
              ElementsAre("test.yaml:1: listen.address: lists 0:0::1 twice"));
  EXPECT_THAT(load_with_upstream("listen: {address: [127.0.0.1, 0.0.0.0]}\n").errors,
              ElementsAre("test.yaml:1: listen.address: 0.0.0.0 accepts connections on every "
                          "interface already: list it alone"));
  EXPECT_THAT(load_with_upstream("listen:\n  address:\n    - 127.0.0.1\n    - localhost\n").errors,
              ElementsAre("test.yaml:4: listen.address[1]: must be an IPv4 or IPv6 address such as "
                          "127.0.0.1 or ::1, got \"localhost\""));
  EXPECT_THAT(load_with_upstream("listen: {address: [\"::\"]}\n").errors, IsEmpty());
}

TEST(LoaderTest, RejectsAListenAddressThatIsNotAnIpLiteral) {
  EXPECT_THAT(load_with_upstream("listen: {address: localhost}\n").errors,
              ElementsAre("test.yaml:1: listen.address: must be an IPv4 or IPv6 address such as "
                          "127.0.0.1 or ::1, got \"localhost\""));
  EXPECT_THAT(load_with_upstream("listen: {address: 127.0.0.256}\n").errors, SizeIs(1));
  EXPECT_THAT(load_with_upstream("listen: {address: 0.0.0.0}\n").errors, IsEmpty());
}

TEST(LoaderTest, SplitsUpstreamAddresses) {
  const LoadResult result = load(R"(upstreams:
  - {name: a, address: "[::1]:6379"}
  - {name: b, address: "[2001:db8::7]:1"}
  - {name: c, address: redis-0.redis.svc.cluster.local:7000}
  - {name: d, address: 10.0.0.1:6379}
)");
  ASSERT_THAT(result.errors, IsEmpty());
  const auto& upstreams = result.config->upstreams;
  EXPECT_EQ(upstreams[0].host, "::1");
  EXPECT_EQ(upstreams[0].port, 6379);
  EXPECT_EQ(upstreams[1].host, "2001:db8::7");
  EXPECT_EQ(upstreams[1].port, 1);
  EXPECT_EQ(upstreams[2].host, "redis-0.redis.svc.cluster.local");
  EXPECT_EQ(upstreams[2].port, 7000);
  EXPECT_EQ(upstreams[3].host, "10.0.0.1");
}

TEST(LoaderTest, RejectsBadUpstreamAddresses) {
  const LoadResult result = load(R"(upstreams:
  - {name: a, address: localhost}
  - {name: b, address: "::1:6379"}
  - {name: c, address: "[::1]6379"}
  - {name: d, address: "[::1:6379"}
  - {name: e, address: "[nope]:6379"}
  - {name: f, address: ":6379"}
  - {name: g, address: "host:0"}
  - {name: h, address: "host:65536"}
  - {name: i, address: "host:"}
  - {name: j, address: "host:12ab"}
  - {name: k, address: "bad host:1"}
)");
  const std::string example = " (expected host:port, e.g. 127.0.0.1:6379 or [::1]:6379)";
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          "test.yaml:2: upstreams[0].address: missing port" + example,
          "test.yaml:3: upstreams[1].address: an IPv6 address needs brackets" + example,
          "test.yaml:4: upstreams[2].address: missing port" + example,
          "test.yaml:5: upstreams[3].address: missing ']' after the IPv6 address" + example,
          "test.yaml:6: upstreams[4].address: \"nope\" is not an IPv6 address" + example,
          "test.yaml:7: upstreams[5].address: missing host" + example,
          "test.yaml:8: upstreams[6].address: port must be between 1 and 65535, got \"0\"",
          "test.yaml:9: upstreams[7].address: port must be between 1 and 65535, got \"65536\"",
          "test.yaml:10: upstreams[8].address: port must be between 1 and 65535, got \"\"",
          "test.yaml:11: upstreams[9].address: port must be between 1 and 65535, got \"12ab\"",
          "test.yaml:12: upstreams[10].address: \"bad host\" is not a host name or IPv4 address" +
              example));
}

TEST(LoaderTest, RequiresUpstreamNameAndAddress) {
  const LoadResult result = load(R"(upstreams:
  - connections: 1
  - name: ""
    address: h:1
  - name: "a b"
    address: h:1
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre("test.yaml:2: upstreams[0].name: is required",
                  "test.yaml:2: upstreams[0].address: is required (or sentinel, or cluster)",
                  "test.yaml:3: upstreams[1].name: must not be empty",
                  "test.yaml:5: upstreams[2].name: may contain only letters, digits, '_', "
                  "'-' and '.', got \"a b\""));
}

TEST(LoaderTest, RejectsDuplicateUpstreamNames) {
  const LoadResult result = load(R"(upstreams:
  - name: main
    address: a:1
  - name: other
    address: b:1
  - name: main
    address: c:1
)");
  EXPECT_THAT(result.errors,
              ElementsAre("test.yaml:6: upstreams[2].name: duplicate upstream name \"main\" "
                          "(first at line 2)"));
}

TEST(LoaderTest, RejectsBackoffMaxBelowMin) {
  const LoadResult explicit_both = load(R"(upstreams:
  - name: main
    address: a:1
    reconnect_backoff_min: 2s
    reconnect_backoff_max: 1s
)");
  EXPECT_THAT(explicit_both.errors,
              ElementsAre("test.yaml:5: upstreams[0].reconnect_backoff_max: must be >= "
                          "reconnect_backoff_min (2s)"));
  // Only the minimum is written: it is the one that conflicts with the default maximum.
  const LoadResult only_min = load(R"(upstreams:
  - name: main
    address: a:1
    reconnect_backoff_min: 1500ms
)");
  EXPECT_THAT(only_min.errors,
              ElementsAre("test.yaml:4: upstreams[0].reconnect_backoff_min: must be <= "
                          "reconnect_backoff_max (1s)"));
}

TEST(LoaderTest, ReportsEveryErrorAtOnceInLineOrder) {
  const LoadResult result = load(R"(listen:
  port: 99999
threads: 0
upstreams:
  - name: main
    address: nowhere
    request_timeout: 0s
  - name: main
    address: 127.0.0.1:6379
    colour: blue
limits: {max_bulk: huge}
log: {level: loud, format: json}
shutdown: {drain_timeout: forever}
extra: true
)");
  EXPECT_FALSE(result.config.has_value());
  const std::string example = " (expected host:port, e.g. 127.0.0.1:6379 or [::1]:6379)";
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          "test.yaml:2: listen.port: must be between 1 and 65535, got 99999",
          "test.yaml:3: threads: must be between 1 and 256, got 0",
          "test.yaml:6: upstreams[0].address: missing port" + example,
          "test.yaml:7: upstreams[0].request_timeout: must be > 0, got 0s",
          "test.yaml:8: upstreams[1].name: duplicate upstream name \"main\" (first at line 5)",
          "test.yaml:10: upstreams[1].colour: unknown key",
          "test.yaml:11: limits.max_bulk: invalid size \"huge\": expected a number of bytes, "
          "optionally followed by kb, mb or gb, e.g. 64kb",
          "test.yaml:12: log.level: must be one of trace, debug, info, warn, error, critical or "
          "off, got \"loud\"",
          "test.yaml:13: shutdown.drain_timeout: invalid duration \"forever\": expected a number "
          "followed by ms, s, m or h, e.g. 250ms",
          "test.yaml:14: extra: unknown key"));
}

// ---- files --------------------------------------------------------------------------------------

TEST(LoaderTest, LoadFileUsesThePathInMessages) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("seawall_loader_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       ".yaml");
  {
    std::ofstream out(path);
    out << "threads: 0\n" << kOneUpstream;
  }
  const LoadResult result = load_file(path.string());
  std::filesystem::remove(path);
  EXPECT_THAT(result.errors,
              ElementsAre(path.string() + ":1: threads: must be between 1 and 256, got 0"));
}

TEST(LoaderTest, LoadFileReportsUnreadableFiles) {
  const std::string missing = source_file("config/does-not-exist.yaml");
  EXPECT_THAT(load_file(missing).errors,
              ElementsAre(missing + ": cannot read: No such file or directory"));
  const std::string directory = source_file("config");
  EXPECT_THAT(load_file(directory).errors,
              ElementsAre(directory + ": cannot read: is a directory"));
}

TEST(LoaderTest, DefaultConfigFileLoadsAndStatesTheDefaults) {
  const std::string path = source_file("config/seawall.yaml");
  const LoadResult result = load_file(path);
  ASSERT_THAT(result.errors, IsEmpty());
  // Every value the commented default file writes out must be the built-in default.
  Config expected;
  expected.source_path = path;
  expected.upstreams.push_back(default_upstream("main", "127.0.0.1", 6379));
  EXPECT_EQ(*result.config, expected);
}

TEST(LoaderTest, ExampleConfigFileLoads) {
  const LoadResult result = load_file(source_file("config/example.yaml"));
  ASSERT_THAT(result.errors, IsEmpty());
  const Config& config = *result.config;
  EXPECT_EQ(config.threads, 2u);
  EXPECT_GT(config.limits.idle_timeout, 0ms);
  EXPECT_EQ(config.log.format, LogFormat::Json);
  EXPECT_GE(config.upstreams.size(), 1u);
  ASSERT_EQ(config.faults.size(), 2u);
  EXPECT_EQ(config.faults[1].upstream_index, 1u);
  EXPECT_EQ(config.faults[0].percent, 0.0);  // an example: off until a rehearsal
}

// ---- parse_duration -----------------------------------------------------------------------------

TEST(ParseDurationTest, ReadsEachUnit) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("2s"), 2s);
  EXPECT_EQ(parse_duration("1m"), 1min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("0s"), 0ms);
  EXPECT_EQ(parse_duration("0ms"), 0ms);
  EXPECT_EQ(parse_duration("007s"), 7s);
}

TEST(ParseDurationTest, UnitsAreCaseInsensitive) {
  EXPECT_EQ(parse_duration("250MS"), 250ms);
  EXPECT_EQ(parse_duration("2S"), 2s);
  EXPECT_EQ(parse_duration("3H"), 3h);
}

TEST(ParseDurationTest, ReadsFractionsThatAreWholeMilliseconds) {
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("0.001s"), 1ms);
  EXPECT_EQ(parse_duration("0.5m"), 30s);
  EXPECT_EQ(parse_duration("1.25h"), 75min);
  EXPECT_EQ(parse_duration("1.500000000000000s"), 1500ms);  // trailing zeros do not count
  EXPECT_EQ(parse_duration("2.0ms"), 2ms);
  EXPECT_EQ(parse_duration("1.5ms"), std::nullopt);
  EXPECT_EQ(parse_duration("0.0001s"), std::nullopt);
  EXPECT_EQ(parse_duration("0.0000000001h"), std::nullopt);
}

TEST(ParseDurationTest, RejectsMalformedText) {
  for (const char* text : {"",    "s",   "ms",   "1",     "100",   "-1s",    "-0s",    "+1s",
                           " 1s", "1s ", "1 s",  "1.s",   ".5s",   "1..5s",  "1.2.3s", "1h30m",
                           "1d",  "1us", "1sec", "1e3ms", "0x10s", "1_000ms"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseDurationTest, RejectsOverflow) {
  EXPECT_EQ(parse_duration("9223372036854775807ms"), Millis::max());
  EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(parse_duration("18446744073709551616ms"), std::nullopt);  // past uint64
  EXPECT_EQ(parse_duration("99999999999999999999999999s"), std::nullopt);
  EXPECT_EQ(parse_duration("2562047h"), 2562047h);
  EXPECT_EQ(parse_duration("2562048h"), 2562048h);  // 9.2e15 ms still fits
  EXPECT_EQ(parse_duration("2562047788016h"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775.807s"), Millis::max());
  EXPECT_EQ(parse_duration("9223372036854775.808s"), std::nullopt);
}

// ---- parse_size ---------------------------------------------------------------------------------

TEST(ParseSizeTest, ReadsBytesAndUnits) {
  EXPECT_EQ(parse_size("100"), 100u);
  EXPECT_EQ(parse_size("100b"), 100u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("64kb"), 64u * 1024);
  EXPECT_EQ(parse_size("64k"), 64u * 1024);
  EXPECT_EQ(parse_size("64kib"), 64u * 1024);
  EXPECT_EQ(parse_size("512mb"), 512ull * 1024 * 1024);
  EXPECT_EQ(parse_size("512m"), 512ull * 1024 * 1024);
  EXPECT_EQ(parse_size("1gb"), 1ull << 30);
  EXPECT_EQ(parse_size("1gib"), 1ull << 30);
}

TEST(ParseSizeTest, UnitsAreCaseInsensitive) {
  EXPECT_EQ(parse_size("512MB"), 512ull << 20);
  EXPECT_EQ(parse_size("64Kb"), 64u << 10);
  EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_size("10B"), 10u);
}

TEST(ParseSizeTest, ReadsFractionsThatAreWholeBytes) {
  EXPECT_EQ(parse_size("1.5kb"), 1536u);
  EXPECT_EQ(parse_size("0.5gb"), 512ull << 20);
  EXPECT_EQ(parse_size("2.0"), 2u);
  EXPECT_EQ(parse_size("0.5b"), std::nullopt);
  EXPECT_EQ(parse_size("1.1kb"), std::nullopt);  // 1126.4 bytes
}

TEST(ParseSizeTest, RejectsMalformedText) {
  for (const char* text : {"", "kb", "-1", "-1kb", "+1", " 1kb", "1 kb", "1kb ", "1.kb", ".5kb",
                           "1tb", "1xb", "1kbb", "1e3", "0x10", "ten"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseSizeTest, RejectsOverflow) {
  EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615ull);
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("17179869183gb"), 17179869183ull << 30);
  EXPECT_EQ(parse_size("17179869184gb"), std::nullopt);  // 2^64
  EXPECT_EQ(parse_size("17179869183.5gb"), (17179869183ull << 30) + (1ull << 29));
  EXPECT_EQ(parse_size("99999999999999999999999999kb"), std::nullopt);
}

TEST(LoaderTest, ReadsTheL1Mode) {
  const LoadResult result = load_with_upstream(R"(policies:
  - match: "user:*"
    l1: {mode: near, ttl: 30s}
  - match: "b:*"
    l1: {ttl: 1s}
)");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->policies[0].policy.l1.mode, policy::L1Mode::Near);
  EXPECT_EQ(result.config->policies[1].policy.l1.mode, policy::L1Mode::Fallback);  // the default
}

TEST(LoaderTest, RejectsNearModeForAPatternRedisCannotTrackByPrefix) {
  const LoadResult result = load_with_upstream(R"(policies:
  - match: "user:*:name"
    l1: {mode: near}
)");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0], testing::HasSubstr("test.yaml:3: policies[0].l1.mode: near needs"));
  EXPECT_THAT(load_with_upstream("policies:\n  - match: \"*\"\n    l1: {mode: bogus}\n").errors,
              ElementsAre("test.yaml:3: policies[0].l1.mode: must be one of fallback or near, "
                          "got \"bogus\""));
}
}  // namespace
}  // namespace seawall::config
