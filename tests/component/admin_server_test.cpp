// The admin server over real loopback HTTP: every route, keep-alive, limits and timeouts.
#include "seawall/admin/admin_server.hpp"

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "seawall/metrics/registry.hpp"
#include "seawall/net.hpp"

namespace seawall::admin {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// No single client operation in these tests should take anywhere near this long; it only turns
// a server that hangs into a failed test.
constexpr auto kClientDeadline = 10s;

using Response = http::response<http::string_body>;

// Runs `op` on `ioc` until it finishes or kClientDeadline passes; rethrows its exception.
template <typename T>
T run(asio::io_context& ioc, awaitable<T> op) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(ioc, std::move(op), [&](std::exception_ptr e, T value) {
    done = true;
    error = e;
    if (!e) {
      result = std::move(value);
    }
  });
  ioc.restart();
  ioc.run_for(kClientDeadline);
  if (!done) {
    throw std::runtime_error("client operation timed out");
  }
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*result);
}

// One HTTP client connection, with every operation bounded by kClientDeadline.
class Client {
 public:
  explicit Client(std::uint16_t port) : stream_(ioc_) { run(ioc_, connect(port)); }

  // Sends one request and reads its response.
  Response request(http::verb method, std::string target, std::string body = {},
                   unsigned version = 11) {
    http::request<http::string_body> request{method, target, version};
    request.set(http::field::host, "127.0.0.1");
    if (!body.empty() || method == http::verb::post) {
      request.body() = std::move(body);
      request.prepare_payload();
    }
    return run(ioc_, exchange(std::move(request)));
  }
  Response get(std::string target) { return request(http::verb::get, std::move(target)); }
  Response post(std::string target) { return request(http::verb::post, std::move(target)); }

  // Sends raw bytes.
  void send(std::string bytes) { run(ioc_, write_raw(std::move(bytes))); }
  // Reads until the server closes the connection; returns everything received.
  std::string read_until_closed() { return run(ioc_, read_all()); }

 private:
  awaitable<bool> connect(std::uint16_t port) {
    stream_.expires_after(kClientDeadline);
    co_await stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                   asio::use_awaitable);
    co_return true;
  }

  awaitable<Response> exchange(http::request<http::string_body> request) {
    stream_.expires_after(kClientDeadline);
    co_await http::async_write(stream_, request, asio::use_awaitable);
    Response response;
    co_await http::async_read(stream_, buffer_, response, asio::use_awaitable);
    co_return response;
  }

  awaitable<bool> write_raw(std::string bytes) {
    stream_.expires_after(kClientDeadline);
    co_await asio::async_write(stream_, asio::buffer(bytes), asio::use_awaitable);
    co_return true;
  }

  awaitable<std::string> read_all() {
    stream_.expires_after(kClientDeadline);
    std::string received(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    std::array<char, 4096> chunk{};
    for (;;) {
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk), use_nothrow);
      received.append(chunk.data(), n);
      if (ec == beast::error::timeout) {
        throw std::runtime_error("server did not close the connection");
      }
      if (ec) {
        co_return received;  // EOF or reset
      }
    }
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

struct BreakerCall {
  std::string name;
  BreakerAction action;
  bool operator==(const BreakerCall&) const = default;
};

constexpr metrics::Spec kScrapes{"test_scrapes_total", metrics::Type::Counter, "Scrapes served."};

class AdminServerTest : public ::testing::Test {
 protected:
  AdminServerTest() { config_.port = 0; }

  void start(const config::AdminConfig& config) {
    Handlers handlers;
    handlers.metrics = [this] {
      registry_.counter(kScrapes).with({}).inc();
      return registry_.render();
    };
    handlers.status = [this]() -> std::string {
      if (status_throws_) {
        throw std::runtime_error("status exploded");
      }
      return "{\"version\":\"test\"}";
    };
    handlers.breaker = [this](std::string_view name,
                              BreakerAction action) -> std::optional<std::string> {
      std::lock_guard lock(mutex_);
      calls_.push_back({std::string(name), action});
      if (name != "main") {
        return std::nullopt;
      }
      return "{\"breaker\":\"main\",\"state\":\"" + std::string(action_name(action)) + "\"}";
    };
    server_.emplace(config, std::move(handlers));
    server_->start();
    ASSERT_NE(server_->port(), 0);
  }
  void start() { start(config_); }

  std::uint16_t port() const { return server_->port(); }

  std::vector<BreakerCall> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  config::AdminConfig config_;
  metrics::Registry registry_;
  std::atomic<bool> status_throws_{false};
  std::mutex mutex_;
  std::vector<BreakerCall> calls_;
  std::optional<AdminServer> server_;
};

TEST_F(AdminServerTest, HealthzAnswersOk) {
  start();
  Client client(port());
  const Response response = client.get("/healthz");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "ok\n");
  EXPECT_EQ(response[http::field::content_type], "text/plain; charset=utf-8");
}

TEST_F(AdminServerTest, ReadyzFollowsReadiness) {
  start();
  Client client(port());
  EXPECT_EQ(server_->readiness(), Readiness::Starting);
  EXPECT_EQ(client.get("/readyz").result_int(), 503u);
  server_->set_readiness(Readiness::Ready);
  const Response ready = client.get("/readyz");
  EXPECT_EQ(ready.result_int(), 200u);
  EXPECT_EQ(ready.body(), "ready\n");
  server_->set_readiness(Readiness::Draining);
  const Response draining = client.get("/readyz");
  EXPECT_EQ(draining.result_int(), 503u);
  EXPECT_EQ(draining.body(), "draining\n");
  // Liveness is unaffected by readiness.
  EXPECT_EQ(client.get("/healthz").result_int(), 200u);
}

TEST_F(AdminServerTest, MetricsServesTheRegistryAsPrometheusText) {
  start();
  Client client(port());
  const Response first = client.get("/metrics");
  EXPECT_EQ(first.result_int(), 200u);
  EXPECT_EQ(first[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(first.body(),
            "# HELP test_scrapes_total Scrapes served.\n"
            "# TYPE test_scrapes_total counter\n"
            "test_scrapes_total 1\n");
  EXPECT_THAT(client.get("/metrics").body(), HasSubstr("test_scrapes_total 2\n"));
}

TEST_F(AdminServerTest, StatusServesJson) {
  start();
  Client client(port());
  const Response response = client.get("/status");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_EQ(response.body(), "{\"version\":\"test\"}");
}

TEST_F(AdminServerTest, AThrowingHandlerGets500AndTheServerCarriesOn) {
  start();
  status_throws_ = true;
  Client client(port());
  const Response response = client.get("/status");
  EXPECT_EQ(response.result_int(), 500u);
  EXPECT_THAT(response.body(), HasSubstr("status exploded"));
  EXPECT_EQ(client.get("/healthz").result_int(), 200u);
}

TEST_F(AdminServerTest, BreakerActionsReachTheCallback) {
  start();
  Client client(port());
  const Response open = client.post("/breakers/main/open");
  EXPECT_EQ(open.result_int(), 200u);
  EXPECT_EQ(open[http::field::content_type], "application/json");
  EXPECT_EQ(open.body(), "{\"breaker\":\"main\",\"state\":\"open\"}");
  EXPECT_EQ(client.post("/breakers/main/close").result_int(), 200u);
  EXPECT_EQ(client.post("/breakers/main/reset").result_int(), 200u);
  EXPECT_EQ(calls(), (std::vector<BreakerCall>{{"main", BreakerAction::Open},
                                               {"main", BreakerAction::Close},
                                               {"main", BreakerAction::Reset}}));
}

TEST_F(AdminServerTest, UnknownBreakersAndActionsAre404) {
  start();
  Client client(port());
  const Response unknown = client.post("/breakers/nope/open");
  EXPECT_EQ(unknown.result_int(), 404u);
  EXPECT_EQ(unknown.body(), "{\"error\":\"unknown breaker\",\"breaker\":\"nope\"}\n");
  EXPECT_EQ(client.post("/breakers/main/explode").result_int(), 404u);
  EXPECT_EQ(calls(), (std::vector<BreakerCall>{{"nope", BreakerAction::Open}}));
}

TEST_F(AdminServerTest, WrongMethodsAre405WithAllow) {
  start();
  Client client(port());
  const Response get_breaker = client.get("/breakers/main/open");
  EXPECT_EQ(get_breaker.result_int(), 405u);
  EXPECT_EQ(get_breaker[http::field::allow], "POST");
  for (const char* target : {"/healthz", "/readyz", "/metrics", "/status"}) {
    const Response response = client.post(target);
    EXPECT_EQ(response.result_int(), 405u) << target;
    EXPECT_EQ(response[http::field::allow], "GET, HEAD") << target;
  }
  EXPECT_EQ(client.request(http::verb::delete_, "/metrics").result_int(), 405u);
  EXPECT_TRUE(calls().empty());
}

TEST_F(AdminServerTest, UnknownPathsAre404) {
  start();
  Client client(port());
  EXPECT_EQ(client.get("/index.html").result_int(), 404u);
  EXPECT_EQ(client.get("/nothing/here").result_int(), 404u);
}

TEST_F(AdminServerTest, TheStatusPageComesWithItsContentSecurityPolicy) {
  start();
  Client client(port());
  const Response page = client.get("/");
  EXPECT_EQ(page.result_int(), 200u);
  EXPECT_EQ(page[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_THAT(std::string(page["Content-Security-Policy"]),
              ::testing::HasSubstr("default-src 'none'"));
  EXPECT_EQ(page["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(client.get("/metrics")["Content-Security-Policy"], "");
}

TEST_F(AdminServerTest, HeadGivesTheLengthWithoutTheBody) {
  start();
  server_->set_readiness(Readiness::Ready);
  Client client(port());
  client.send("HEAD /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string reply = client.read_until_closed();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("Content-Length: 6\r\n"));
  EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4), "");
}

TEST_F(AdminServerTest, KeepsConnectionsAliveAcrossRequests) {
  start();
  Client client(port());
  for (int i = 0; i < 5; ++i) {
    const Response response = client.get("/healthz");
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_TRUE(response.keep_alive());
  }
  // Pipelined: both answers come back, in order, on the one connection.
  client.send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string replies = client.read_until_closed();
  const auto second = replies.find("HTTP/1.1 404");
  EXPECT_THAT(replies, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(second, std::string::npos);
}

TEST_F(AdminServerTest, ClosesAfterAnHttp10Request) {
  start();
  Client client(port());
  client.send("GET /healthz HTTP/1.0\r\n\r\n");
  const std::string reply = client.read_until_closed();
  EXPECT_THAT(reply, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("\r\n\r\nok\n"));
}

TEST_F(AdminServerTest, MalformedRequestsGet400AndAreClosed) {
  start();
  Client client(port());
  client.send("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_THAT(client.read_until_closed(), StartsWith("HTTP/1.1 400 Bad Request\r\n"));
}

TEST_F(AdminServerTest, OversizedHeadersGet431AndAreClosed) {
  config_.max_request_size = 1024;
  start();
  Client client(port());
  client.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(2000, 'a') +
              "\r\n\r\n");
  EXPECT_THAT(client.read_until_closed(),
              StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

TEST_F(AdminServerTest, OversizedBodiesGet413AndAreClosed) {
  config_.max_request_size = 1024;
  start();
  Client client(port());
  client.send("POST /breakers/main/open HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
              std::string(5000, 'b'));
  EXPECT_THAT(client.read_until_closed(), StartsWith("HTTP/1.1 413 Payload Too Large\r\n"));
  EXPECT_TRUE(calls().empty());
}

TEST_F(AdminServerTest, ClosesConnectionsThatSendNothingWithinTheReadTimeout) {
  config_.read_timeout = 100ms;
  start();
  Client idle(port());
  EXPECT_EQ(idle.read_until_closed(), "");
  // A request cut off half way is closed too, without an answer.
  Client partial(port());
  partial.send("GET /healthz HTTP/1.1\r\nHo");
  EXPECT_EQ(partial.read_until_closed(), "");
  // And an idle keep-alive connection after a complete exchange.
  Client kept(port());
  EXPECT_EQ(kept.get("/healthz").result_int(), 200u);
  EXPECT_EQ(kept.read_until_closed(), "");
}

TEST_F(AdminServerTest, RejectsConnectionsBeyondTheLimitWith503) {
  config_.max_connections = 2;
  start();
  std::optional<Client> first(port());
  Client second(port());
  // Both are being served once each has had an answer.
  EXPECT_EQ(first->get("/healthz").result_int(), 200u);
  EXPECT_EQ(second.get("/healthz").result_int(), 200u);

  Client third(port());
  third.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(third.read_until_closed(), StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));

  // A slot frees once the server has seen a connection close.
  first.reset();
  bool served = false;
  const auto deadline = std::chrono::steady_clock::now() + kClientDeadline;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    Client next(port());
    next.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    served = next.read_until_closed().starts_with("HTTP/1.1 200 OK\r\n");
  }
  EXPECT_TRUE(served);
}

TEST_F(AdminServerTest, StopClosesOpenConnectionsAndTheListener) {
  start();
  Client client(port());
  EXPECT_EQ(client.get("/healthz").result_int(), 200u);
  const std::uint16_t bound = port();
  server_->stop();
  EXPECT_EQ(client.read_until_closed(), "");
  asio::io_context ioc;
  tcp::socket socket(ioc);
  error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), bound), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  server_->stop();  // idempotent
}

TEST_F(AdminServerTest, FailsToStartOnAPortInUse) {
  start();
  config::AdminConfig taken = config_;
  taken.port = port();
  AdminServer second(taken, Handlers{});
  EXPECT_THROW(second.start(), boost::system::system_error);
}

}  // namespace
}  // namespace seawall::admin
