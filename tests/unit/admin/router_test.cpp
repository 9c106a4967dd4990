#include "admin/router.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "seawall/admin/json.hpp"

namespace seawall::admin::detail {
namespace {

using ::testing::HasSubstr;

struct BreakerCall {
  std::string name;
  BreakerAction action;
  bool operator==(const BreakerCall&) const = default;
};

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    handlers_.metrics = [] { return std::string("# metrics\n"); };
    handlers_.status = [] { return std::string("{\"ok\":true}"); };
    handlers_.breaker = [this](std::string_view name,
                               BreakerAction action) -> std::optional<std::string> {
      calls_.push_back({std::string(name), action});
      if (name != "main") {
        return std::nullopt;
      }
      return "{\"breaker\":\"main\",\"action\":\"" + std::string(action_name(action)) + "\"}";
    };
  }

  Response get(std::string_view target, Readiness readiness = Readiness::Ready) {
    return route("GET", target, readiness, handlers_);
  }

  Handlers handlers_;
  std::vector<BreakerCall> calls_;
};

TEST_F(RouterTest, HealthzIsOkInEveryReadiness) {
  for (Readiness r : {Readiness::Starting, Readiness::Ready, Readiness::Draining}) {
    const Response response = get("/healthz", r);
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.body, "ok\n");
    EXPECT_EQ(response.content_type, kPlainText);
  }
}

TEST_F(RouterTest, ReadyzFollowsReadiness) {
  EXPECT_EQ(get("/readyz", Readiness::Starting).status, 503u);
  EXPECT_EQ(get("/readyz", Readiness::Starting).body, "starting\n");
  EXPECT_EQ(get("/readyz", Readiness::Ready).status, 200u);
  EXPECT_EQ(get("/readyz", Readiness::Ready).body, "ready\n");
  EXPECT_EQ(get("/readyz", Readiness::Draining).status, 503u);
  EXPECT_EQ(get("/readyz", Readiness::Draining).body, "draining\n");
}

TEST_F(RouterTest, MetricsUseThePrometheusContentType) {
  const Response response = get("/metrics");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response.body, "# metrics\n");
}

TEST_F(RouterTest, StatusIsJson) {
  const Response response = get("/status");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, "{\"ok\":true}");
}

TEST_F(RouterTest, TheRootIsTheSelfContainedStatusPage) {
  const Response response = get("/?refresh=1");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(response.body, ::testing::StartsWith("<!doctype html>"));
  // It reads both endpoints from its own origin, and nothing from anywhere else.
  EXPECT_THAT(response.body, HasSubstr("fetch(\"/status\""));
  EXPECT_THAT(response.body, HasSubstr("fetch(\"/metrics\""));
  EXPECT_THAT(response.body, ::testing::Not(HasSubstr("src=")));
  EXPECT_THAT(response.body, ::testing::Not(HasSubstr("href=")));
  EXPECT_THAT(response.body, ::testing::Not(HasSubstr("//cdn")));
  EXPECT_THAT(response.content_security_policy, HasSubstr("default-src 'none'"));
  EXPECT_THAT(response.content_security_policy, HasSubstr("connect-src 'self'"));
  EXPECT_TRUE(get("/metrics").content_security_policy.empty());
}

TEST_F(RouterTest, IgnoresTheQueryString) {
  EXPECT_EQ(get("/metrics?name[]=x").status, 200u);
  EXPECT_EQ(get("/healthz?").status, 200u);
}

TEST_F(RouterTest, HeadIsRoutedAsGet) {
  EXPECT_EQ(route("HEAD", "/readyz", Readiness::Ready, handlers_).status, 200u);
  EXPECT_EQ(route("HEAD", "/metrics", Readiness::Ready, handlers_).body, "# metrics\n");
}

TEST_F(RouterTest, UnknownPathsAre404) {
  for (const char* target :
       {"//", "/index.html", "/healthz/", "/HEALTHZ", "/metrics/x", "/breakers", "/breakers/",
        "/breakers/main", "/breakers//open", "/breakers/main/open/x"}) {
    EXPECT_EQ(get(target).status, 404u) << target;
  }
  EXPECT_EQ(route("POST", "/breakers/main/explode", Readiness::Ready, handlers_).status, 404u);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(RouterTest, UnsetHandlersAre404) {
  const Handlers none;
  EXPECT_EQ(route("GET", "/metrics", Readiness::Ready, none).status, 404u);
  EXPECT_EQ(route("GET", "/status", Readiness::Ready, none).status, 404u);
  EXPECT_EQ(route("GET", "/", Readiness::Ready, none).status, 404u);
  EXPECT_EQ(route("POST", "/breakers/main/open", Readiness::Ready, none).status, 404u);
  EXPECT_EQ(route("GET", "/healthz", Readiness::Ready, none).status, 200u);
}

TEST_F(RouterTest, WrongMethodsAre405WithAllow) {
  for (const char* target : {"/", "/healthz", "/readyz", "/metrics", "/status"}) {
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
      const Response response = route(method, target, Readiness::Ready, handlers_);
      EXPECT_EQ(response.status, 405u) << method << " " << target;
      EXPECT_EQ(response.allow, "GET, HEAD");
    }
  }
  for (const char* method : {"GET", "HEAD", "PUT", "DELETE"}) {
    const Response response = route(method, "/breakers/main/open", Readiness::Ready, handlers_);
    EXPECT_EQ(response.status, 405u) << method;
    EXPECT_EQ(response.allow, "POST");
  }
  EXPECT_TRUE(calls_.empty());
}

TEST_F(RouterTest, BreakerActionsCallTheHandler) {
  const Response open = route("POST", "/breakers/main/open", Readiness::Ready, handlers_);
  EXPECT_EQ(open.status, 200u);
  EXPECT_EQ(open.content_type, "application/json");
  EXPECT_EQ(open.body, "{\"breaker\":\"main\",\"action\":\"open\"}");
  EXPECT_EQ(route("POST", "/breakers/main/close", Readiness::Ready, handlers_).status, 200u);
  EXPECT_EQ(route("POST", "/breakers/main/reset?x=1", Readiness::Ready, handlers_).status, 200u);
  EXPECT_EQ(calls_, (std::vector<BreakerCall>{{"main", BreakerAction::Open},
                                              {"main", BreakerAction::Close},
                                              {"main", BreakerAction::Reset}}));
}

TEST_F(RouterTest, UnknownBreakerIs404WithItsNameQuoted) {
  const Response response = route("POST", "/breakers/we\"ird/open", Readiness::Draining, handlers_);
  EXPECT_EQ(response.status, 404u);
  EXPECT_EQ(response.body, "{\"error\":\"unknown breaker\",\"breaker\":\"we\\\"ird\"}\n");
  EXPECT_EQ(calls_, (std::vector<BreakerCall>{{"we\"ird", BreakerAction::Open}}));
}

TEST_F(RouterTest, AThrowingHandlerIs500) {
  handlers_.status = []() -> std::string { throw std::runtime_error("no status today"); };
  const Response response = get("/status");
  EXPECT_EQ(response.status, 500u);
  EXPECT_THAT(response.body, HasSubstr("no status today"));
}

TEST(JsonTest, QuotesAndEscapes) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("\n\r\t"), "\"\\n\\r\\t\"");
  EXPECT_EQ(json_string(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(json_string(std::string("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(json_string("é/\x7f"), "\"é/\x7f\"");
  EXPECT_EQ(json_string(""), "\"\"");
}

}  // namespace
}  // namespace seawall::admin::detail
