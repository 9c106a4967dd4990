#include "seawall/admin/admin_server.hpp"

#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "admin/router.hpp"
#include "seawall/net.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::admin {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Sent, without reading the request, to a connection beyond max_connections.
constexpr std::string_view kBusy =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 26\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too many admin connections";

// The status a failed read deserves, or 0 when the connection should just be closed (peer
// gone, timeout).
unsigned status_for_read_error(const error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return 431;
  }
  if (ec == http::error::body_limit) {
    return 413;
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return 0;
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
    return 400;
  }
  return 0;
}

http::response<http::string_body> make_response(const detail::Response& r, unsigned version,
                                                bool keep_alive, bool head) {
  http::response<http::string_body> response{static_cast<http::status>(r.status), version};
  response.set(http::field::server, "seawall");
  response.set(http::field::content_type, r.content_type);
  response.set(http::field::cache_control, "no-store");
  if (!r.allow.empty()) {
    response.set(http::field::allow, r.allow);
  }
  if (!r.content_security_policy.empty()) {
    response.set("Content-Security-Policy", r.content_security_policy);
    response.set("X-Content-Type-Options", "nosniff");
  }
  response.keep_alive(keep_alive);
  response.body() = r.body;
  response.prepare_payload();
  if (head) {
    // Content-Length stays that of the GET body, as HEAD requires; the body itself goes.
    response.body().clear();
  }
  return response;
}

}  // namespace

struct AdminServer::Impl {
  Impl(config::AdminConfig c, Handlers h) : config(std::move(c)), handlers(std::move(h)) {}

  awaitable<void> accept_loop();
  awaitable<void> serve(tcp::socket socket);
  void reject(tcp::socket& socket);

  config::AdminConfig config;
  Handlers handlers;
  std::atomic<Readiness> readiness{Readiness::Starting};
  std::atomic<std::uint16_t> port{0};
  std::unique_ptr<asio::io_context> ioc = std::make_unique<asio::io_context>(1);
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  std::uint32_t connections = 0;  // admin thread only
  util::LogRateLimiter log_limiter{std::chrono::seconds(10), 3};
};

awaitable<void> AdminServer::Impl::accept_loop() {
  auto log = util::logger("admin");
  while (acceptor && acceptor->is_open()) {
    auto [ec, socket] = co_await acceptor->async_accept(use_nothrow);
    if (ec) {
      if (!acceptor->is_open() || ec == asio::error::operation_aborted) {
        co_return;
      }
      std::uint64_t suppressed = 0;
      if (log_limiter.allow(suppressed)) {
        log->warn("admin accept failed: {} (suppressed={})", ec.message(), suppressed);
      }
      // Out of descriptors and the like: back off rather than spin.
      asio::steady_timer timer(*ioc);
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(use_nothrow);
      continue;
    }
    if (connections >= config.max_connections) {
      reject(socket);
      continue;
    }
    ++connections;
    asio::co_spawn(*ioc, serve(std::move(socket)), [this](std::exception_ptr e) {
      --connections;
      util::coroutine_done("admin", "admin connection", std::move(e));
    });
  }
}

void AdminServer::Impl::reject(tcp::socket& socket) {
  error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(kBusy), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  // Discard what the client already sent: closing with unread data would send a reset, which
  // can make the client lose the 503 before reading it.
  std::array<char, 4096> sink{};
  while (socket.available(ignored) > 0 && !ignored) {
    socket.read_some(asio::buffer(sink), ignored);
  }
  socket.close(ignored);
}

awaitable<void> AdminServer::Impl::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  const std::uint64_t limit = config.max_request_size;
  // Room for one request's headers and body; the parser enforces each limit separately.
  beast::flat_buffer buffer(static_cast<std::size_t>(2 * limit));
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limit));
    parser.body_limit(limit);
    stream.expires_after(config.read_timeout);
    const auto [read_error, read_bytes] =
        co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (read_error) {
      const unsigned status = status_for_read_error(read_error);
      if (status != 0) {
        const detail::Response r{
            status,
            std::string(detail::kPlainText),
            std::string(http::obsolete_reason(static_cast<http::status>(status))) + "\n",
            {},
            {}};
        auto response = make_response(r, 11, false, false);
        stream.expires_after(config.read_timeout);
        co_await http::async_write(stream, response, use_nothrow);
      }
      break;
    }
    const auto& request = parser.get();
    const bool head = request.method() == http::verb::head;
    const detail::Response r = detail::route(
        std::string_view(request.method_string().data(), request.method_string().size()),
        std::string_view(request.target().data(), request.target().size()),
        readiness.load(std::memory_order_relaxed), handlers);
    auto response = make_response(r, request.version(), request.keep_alive(), head);
    stream.expires_after(config.read_timeout);
    const auto [write_error, written] = co_await http::async_write(stream, response, use_nothrow);
    if (write_error || !response.keep_alive()) {
      break;
    }
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

AdminServer::AdminServer(config::AdminConfig config, Handlers handlers)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(handlers))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  if (!impl_->ioc || impl_->acceptor) {
    throw std::logic_error("AdminServer::start called twice");
  }
  const tcp::endpoint endpoint(asio::ip::make_address(impl_->config.address), impl_->config.port);
  impl_->acceptor.emplace(*impl_->ioc);
  impl_->acceptor->open(endpoint.protocol());
  impl_->acceptor->set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor->bind(endpoint);
  impl_->acceptor->listen(asio::socket_base::max_listen_connections);
  impl_->port = impl_->acceptor->local_endpoint().port();
  asio::co_spawn(*impl_->ioc, impl_->accept_loop(),
                 util::on_coroutine_done("admin", "admin accept loop"));
  impl_->thread = std::thread([this] { impl_->ioc->run(); });
  util::logger("admin")->info("admin server listening on {}:{}", impl_->config.address,
                              impl_->port.load());
}

void AdminServer::stop() {
  if (!impl_->ioc) {
    return;
  }
  impl_->ioc->stop();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
  // Connection coroutines, and their sockets, die with the io_context; the acceptor goes first.
  impl_->acceptor.reset();
  impl_->ioc.reset();
}

void AdminServer::set_readiness(Readiness readiness) noexcept {
  impl_->readiness.store(readiness, std::memory_order_relaxed);
}

Readiness AdminServer::readiness() const noexcept {
  return impl_->readiness.load(std::memory_order_relaxed);
}

std::uint16_t AdminServer::port() const noexcept { return impl_->port.load(); }

}  // namespace seawall::admin
