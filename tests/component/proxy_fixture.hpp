#pragma once
// The component tests' setup: two FakeUpstreams ("main", the default, and "sessions", which
// holds the keys under "session:"), seawall in-process in front of them with a config built
// here, and helpers to open the main breaker and wait for it to half-open.
//
// The config, chosen so that each behaviour shows in a few requests and well under a second:
//   breaker: 3 consecutive failures open it (the rate triggers need 50 calls), open for 1.5 s
//            then 3 s after a failed probe, no jitter, one probe at a time, one success closes
//            (long enough that a loaded machine, a TSan build, still finds it open a few calls
//            later);
//   request_timeout 250 ms; one shared connection per upstream;
//   policies: "cfg:*" and "session:*" keep an L1 copy (admission always), "views:*" answers
//             :0 while the upstream is unavailable, other keys get the built-in fallback (L1
//             5 s/60 s, nil when nothing can answer).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "seawall/breaker/breaker_config.hpp"
#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/policy/defaults.hpp"
#include "seawall/proxy/proxy_config.hpp"
#include "support/fake_upstream.hpp"
#include "support/in_process_proxy.hpp"
#include "support/resp_builders.hpp"
#include "support/test_client.hpp"

namespace seawall::support {

using namespace std::chrono_literals;

inline constexpr std::size_t kMain = 0;
inline constexpr std::size_t kSessions = 1;
inline constexpr auto kOpenDuration = 1500ms;
inline constexpr auto kRequestTimeout = 250ms;
inline constexpr std::uint32_t kFailuresToOpen = 3;
// What the fake answers while it "loads": an error the breaker counts as a failure.
inline constexpr std::string_view kLoading = "LOADING Redis is loading the dataset in memory";

inline breaker::BreakerConfig test_breaker() {
  breaker::BreakerConfig b;
  b.window_kind = breaker::WindowKind::Count;
  b.window_size = 50;
  b.minimum_calls = 50;
  b.consecutive_failures = kFailuresToOpen;
  b.slow_call_rate_threshold = 0;  // a delayed reply is not a failure by itself
  b.open_duration = kOpenDuration;
  b.max_open_duration = 3000ms;
  b.backoff_multiplier = 2.0;
  b.jitter = 0;
  b.half_open_probes = 1;
  b.half_open_successes_to_close = 1;
  return b;
}

inline upstream::UpstreamConfig test_upstream(std::string name, std::uint16_t port) {
  upstream::UpstreamConfig u;
  u.name = std::move(name);
  u.host = "127.0.0.1";
  u.port = port;
  u.connections = 1;
  u.connect_timeout = 500ms;
  u.request_timeout = kRequestTimeout;
  u.reconnect_backoff_min = 10ms;
  u.reconnect_backoff_max = 100ms;
  u.breaker = test_breaker();
  u.health_check.enabled = false;  // InProcessProxy runs no health checker anyway
  return u;
}

inline policy::PolicyRule l1_rule(std::string pattern) {
  policy::PolicyRule r;
  r.pattern = std::move(pattern);
  r.policy.l1 = policy::L1Policy{true, 60000ms, 60000ms, cache::Admission::Always};
  return r;
}

inline proxy::ProxyConfig test_config(std::uint16_t main_port, std::uint16_t sessions_port) {
  proxy::ProxyConfig c;
  c.threads = 1;
  c.upstreams = {test_upstream("main", main_port), test_upstream("sessions", sessions_port)};
  c.routes = {router::RouteConfig{"session:", "sessions", kSessions}};
  c.default_upstream = "main";
  c.default_upstream_index = kMain;
  c.cache = cache::CacheConfig{1024 * 1024, 64 * 1024};
  policy::PolicyRule views;
  views.pattern = "views:*";
  views.policy.degraded_default = policy::encode_default(policy::DefaultValue::integer(0)).bytes;
  c.policies = {l1_rule("cfg:*"), views, l1_rule("session:*")};
  return c;
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxy::ProxyConfig config = test_config(main_.port(), sessions_.port());
    configure(config);
    ASSERT_TRUE(breaker::validate(config.upstreams[kMain].breaker).empty());
    proxy_.emplace(config);
    // Each pool's one shared connection is up before a test starts: connection 1 on each fake.
    ASSERT_TRUE(eventually([&] {
      return main_.connections_accepted() == 1 && sessions_.connections_accepted() == 1;
    }));
  }

  // A test fixture's changes to test_config, before seawall starts.
  virtual void configure(proxy::ProxyConfig& /*config*/) {}

  TestClient client() { return TestClient(proxy_->port()); }

  // Opens the main breaker with kFailuresToOpen GETs answered -LOADING; leaves the fake
  // failing. Returns the replies seawall gave them.
  std::string open_main_breaker(TestClient& c) {
    main_.reply_error(kLoading);
    std::string replies;
    for (std::uint32_t i = 0; i < kFailuresToOpen; ++i) {
      replies += c.call({"GET", "fail:" + std::to_string(i)});
    }
    return replies;
  }

  // The state of upstream `index`'s breaker now: "closed", "open" or "half_open".
  std::string breaker(std::size_t index) const {
    return std::string(breaker::to_string(proxy_->breaker_state(index)));
  }
  bool breaker_is(std::size_t index, std::string_view state) const {
    return breaker(index) == state;
  }

  // The names of the commands `fake` received on connection `id`, in order.
  static std::vector<std::string> names_on(const FakeUpstream& fake, std::uint64_t id) {
    std::vector<std::string> names;
    for (const auto& r : fake.received()) {
      if (r.connection == id) {
        names.push_back(r.name());
      }
    }
    return names;
  }

  FakeUpstream main_;
  FakeUpstream sessions_;
  std::optional<InProcessProxy> proxy_;
};

}  // namespace seawall::support
