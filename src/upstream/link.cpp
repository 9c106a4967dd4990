#include "seawall/upstream/link.hpp"

#include "seawall/upstream/connect.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

util::LogRateLimiter& open_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 3);
  return limiter;
}

}  // namespace

Link::Link(asio::any_io_executor ex, const UpstreamConfig& config, LinkSink* sink,
           Protocol protocol, const ScriptRegistry* scripts)
    : ex_(ex),
      config_(config),
      sink_(sink),
      stream_(ex),
      write_signal_(ex),
      protocol_(protocol),
      scripts_(scripts) {}

Link::~Link() { close(); }

awaitable<bool> Link::open() {
  ConnectResult result = co_await connect_upstream(ex_, config_, stream_, protocol_);
  if (result.ok && scripts_ != nullptr && !closed_) {
    // The client may go on with EVALSHA (inside MULTI, say) for scripts Redis lost in a restart.
    result.error = co_await load_scripts(stream_, scripts_->preload(), config_.connect_timeout);
    if (!result.error.empty()) {
      result.ok = false;
      stream_.close();
    }
  }
  if (!result.ok) {
    std::uint64_t suppressed = 0;
    if (!closed_ && open_log_limiter().allow(suppressed)) {
      util::logger("upstream")
          ->warn("upstream={} dedicated connection failed: {} (suppressed={})", config_.name,
                 result.error, suppressed);
    }
    co_return false;
  }
  auto self = shared_from_this();
  asio::co_spawn(
      ex_, [self] { return self->read_loop(); },
      util::on_coroutine_done("upstream", "dedicated connection reader"));
  asio::co_spawn(
      ex_, [self] { return self->write_loop(); },
      util::on_coroutine_done("upstream", "dedicated connection writer"));
  co_return true;
}

void Link::send(std::string_view bytes) {
  if (closed_) {
    return;
  }
  wbuf_.append(bytes);
  write_signal_.notify();
}

void Link::finish() {
  finishing_ = true;
  write_signal_.notify();
}

void Link::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  sink_ = nullptr;
  stream_.close();
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
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer));
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
    while (wbuf_.empty() && !closed_ && !finishing_) {
      co_await write_signal_.wait();
    }
    if (closed_) {
      co_return;
    }
    if (wbuf_.empty()) {
      // A TCP half-close, under TLS too: Redis reads it as the client's end of input.
      error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    writing_.swap(wbuf_);
    auto [ec, n] = co_await stream_.async_write(asio::buffer(writing_));
    writing_.clear();
    if (ec) {
      fail();
      co_return;
    }
  }
}

}  // namespace seawall::upstream
