#include "seawall/upstream/link.hpp"

#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

using namespace asio::experimental::awaitable_operators;

void log_failure(std::exception_ptr e) {
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      util::logger("upstream")->error("dedicated connection failed: {}", ex.what());
    }
  }
}

}  // namespace

Link::Link(asio::any_io_executor ex, const config::UpstreamConfig& config, LinkSink* sink)
    : ex_(ex), config_(config), sink_(sink), socket_(ex), write_signal_(ex) {}

Link::~Link() { close(); }

awaitable<bool> Link::open() {
  error_code ec;
  tcp::resolver resolver(ex_);
  std::vector<tcp::endpoint> endpoints;
  const auto address = asio::ip::make_address(config_.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, config_.port);
  } else {
    auto [rec, results] =
        co_await resolver.async_resolve(config_.host, std::to_string(config_.port), use_nothrow);
    if (rec) {
      co_return false;
    }
    for (const auto& entry : results) {
      endpoints.push_back(entry.endpoint());
    }
  }
  for (const auto& endpoint : endpoints) {
    socket_ = tcp::socket(ex_);
    asio::steady_timer timer(ex_);
    timer.expires_after(config_.connect_timeout);
    auto result =
        co_await (socket_.async_connect(endpoint, use_nothrow) || timer.async_wait(use_nothrow));
    if (result.index() == 0 && !std::get<0>(std::get<0>(result)) && socket_.is_open()) {
      socket_.set_option(tcp::no_delay(true), ec);
      auto self = shared_from_this();
      asio::co_spawn(
          ex_, [self] { return self->read_loop(); }, log_failure);
      asio::co_spawn(
          ex_, [self] { return self->write_loop(); }, log_failure);
      co_return true;
    }
    socket_.close(ec);
  }
  co_return false;
}

void Link::send(std::string_view bytes) {
  if (closed_) {
    return;
  }
  wbuf_.append(bytes);
  write_signal_.notify();
}

void Link::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  sink_ = nullptr;
  error_code ec;
  socket_.close(ec);
  write_signal_.notify();
}

void Link::fail() {
  LinkSink* sink = sink_;
  close();
  if (sink != nullptr) {
    sink->on_link_closed();
  }
}

awaitable<void> Link::read_loop() {
  std::string buffer(16 * 1024, '\0');
  while (!closed_) {
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), use_nothrow);
    if (ec || closed_) {
      break;
    }
    if (sink_ != nullptr) {
      sink_->on_link_data(std::string_view(buffer.data(), n));
    }
  }
  fail();
}

awaitable<void> Link::write_loop() {
  while (true) {
    while (wbuf_.empty() && !closed_) {
      co_await write_signal_.wait();
    }
    if (closed_) {
      co_return;
    }
    writing_.swap(wbuf_);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(writing_), use_nothrow);
    writing_.clear();
    if (ec) {
      fail();
      co_return;
    }
  }
}

}  // namespace seawall::upstream
