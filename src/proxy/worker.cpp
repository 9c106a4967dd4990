#include "seawall/proxy/worker.hpp"

#include <sys/socket.h>

#if defined(SEAWALL_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

#include <sstream>
#include <stdexcept>
#include <string>

#include "seawall/proxy/session.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr std::chrono::seconds kSweepInterval{1};
// A session idle this long gives back its buffers' capacity (Redis resizes the query buffer
// of a client idle for 2 s).
constexpr std::chrono::seconds kTrimIdleAfter{2};
// Free pages go back (return_free_pages) after this many closes, or this many bytes freed by idle
// trims, once the burst is over (no close in the last sweep interval) or at least every
// kMaxTrimDelay while it lasts.
constexpr std::uint64_t kTrimAfterCloses = 100;
constexpr std::size_t kTrimAfterFreedBytes = 8 * 1024 * 1024;
constexpr std::chrono::seconds kMaxTrimDelay{10};
// Spare read buffers kept through a trim (the burst that filled the pool is over).
constexpr std::size_t kSpareAfterTrim = 8;

// Free pages back to the system now, rather than after the allocator's own delay (jemalloc
// purges dirty pages after 10 s of decay; glibc keeps them until a trim).
void return_free_pages() {
#if defined(SEAWALL_JEMALLOC)
  static const std::string purge_all = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  mallctl(purge_all.c_str(), nullptr, nullptr, nullptr, 0);
#elif defined(__GLIBC__)
  malloc_trim(0);
#endif
}

util::LogRateLimiter& accept_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 3);
  return limiter;
}

}  // namespace

Worker::Worker(std::shared_ptr<const Snapshot> snapshot, SharedState& shared,
               std::atomic<std::uint32_t>& clients, std::atomic<std::uint64_t>& next_client_id,
               unsigned index)
    : index_(index),
      ioc_(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)) {
  ctx_.snapshot = std::move(snapshot);
  ctx_.config = ctx_.snapshot->config;
  ctx_.shared = &shared;
  const auto& limits = ctx_.config->limits;
  ctx_.parser_limits =
      resp::Limits{limits.max_bulk, limits.max_array, limits.max_inline, limits.max_depth};
  ctx_.clients = &clients;
  ctx_.next_client_id = &next_client_id;
  ctx_.worker_index = index;
  ctx_.repair = std::make_unique<CacheRepair>(ctx_);
  ctx_.drains = std::make_unique<LinkDrains>(ioc_->get_executor(), limits.max_depth);
  ctx_.parked = std::make_unique<ParkedReads>(ioc_->get_executor());
  ctx_.near = std::make_unique<NearLinks>(ioc_->get_executor(), shared);
  ctx_.near_verify = std::make_unique<NearVerify>(ctx_);
  for (std::size_t i = 0; i < ctx_.config->upstreams.size(); ++i) {
    ctx_.pools.push_back(make_pool(i));
  }
}

std::unique_ptr<upstream::Pool> Worker::make_pool(std::size_t index) {
  const auto& metrics = ctx_.shared->connection_metrics;
  return std::make_unique<upstream::Pool>(
      ioc_->get_executor(), ctx_.config->upstreams[index], ctx_.config->limits.max_depth,
      index < metrics.size() ? metrics[index] : upstream::ConnectionMetrics{});
}

void Worker::apply(std::shared_ptr<const Snapshot> snapshot, std::vector<std::size_t> new_pools) {
  asio::post(*ioc_, [this, snapshot = std::move(snapshot), new_pools = std::move(new_pools)] {
    ctx_.retired.push_back(std::move(ctx_.snapshot));
    ctx_.snapshot = snapshot;
    ctx_.config = snapshot->config;
    const auto& limits = ctx_.config->limits;
    ctx_.parser_limits =
        resp::Limits{limits.max_bulk, limits.max_array, limits.max_inline, limits.max_depth};
    for (std::size_t index : new_pools) {
      asio::co_spawn(*ioc_, replace_pool(index, make_pool(index)),
                     util::on_coroutine_done("proxy", "pool replacement"));
    }
    ctx_.near->apply(*ctx_.snapshot, new_pools);
  });
}

void Worker::reconnect(std::size_t index) {
  asio::post(*ioc_, [this, index] {
    if (index >= ctx_.pools.size()) {
      return;
    }
    // Unlike a reload's replace_pool, the old connections must not carry another request: their
    // node is no longer the master (or is about to stop being it).
    ctx_.pools[index]->stop();
    // Kept, as a reload keeps the pools it replaces: sessions may still refer to them.
    ctx_.retired_pools.push_back(std::move(ctx_.pools[index]));
    ctx_.pools[index] = make_pool(index);
    ctx_.pools[index]->start();
    ctx_.near->restart(index);
    // Dedicated connections too: a session still pinned to the old master would read what the
    // new one no longer has. Copied: a session may close (and leave the set) meanwhile.
    const std::vector<Session*> sessions(ctx_.sessions.begin(), ctx_.sessions.end());
    for (Session* session : sessions) {
      if (ctx_.sessions.contains(session)) {
        session->upstream_moved(index);
      }
    }
  });
}

awaitable<void> Worker::replace_pool(std::size_t index, std::unique_ptr<upstream::Pool> pool) {
  // Requests keep going to the old connections until a new one is up, so a reload never
  // answers a request "unavailable" for want of a connection. A new address that never
  // answers still takes over after a while, so that the breaker and the logs show it.
  pool->start();
  const auto& upstream = ctx_.config->upstreams[index];
  const auto give_up =
      std::chrono::steady_clock::now() +
      std::max<std::chrono::milliseconds>(std::chrono::seconds(2), upstream.connect_timeout * 4);
  asio::steady_timer timer(*ioc_);
  while (!pool->any_connected() && std::chrono::steady_clock::now() < give_up) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(use_nothrow);
  }
  // New connections for new requests; the old ones finish what they carry, then close.
  ctx_.pools[index]->retire();
  ctx_.retired_pools.push_back(std::move(ctx_.pools[index]));
  ctx_.pools[index] = std::move(pool);
}

Worker::~Worker() {
  stop();
  // Coroutine frames (sessions, connections) die with the io_context; the pools and the
  // acceptors must go first while their services still exist.
  acceptors_.clear();
  ctx_.pools.clear();
  ctx_.retired_pools.clear();
  ctx_.near.reset();
  ctx_.parked.reset();  // its timer too (sessions dying with the io_context then skip it)
  ioc_.reset();
}

void Worker::start() {
  const auto& listen = ctx_.config->listen;
  std::uint16_t port = listen.port;
  acceptors_.reserve(listen.addresses.size());  // the accept loops hold references
  for (const std::string& address : listen.addresses) {
    const tcp::endpoint endpoint(asio::ip::make_address(address), port);
    tcp::acceptor& acceptor = acceptors_.emplace_back(*ioc_);
    try {
      acceptor.open(endpoint.protocol());
      acceptor.set_option(tcp::acceptor::reuse_address(true));
      acceptor.set_option(ReusePort(true));
      acceptor.bind(endpoint);
      acceptor.listen(asio::socket_base::max_listen_connections);
    } catch (const boost::system::system_error& e) {
      // Say which one: with several addresses "Address already in use" alone does not.
      std::ostringstream where;
      where << endpoint;
      throw std::runtime_error("cannot listen on " + where.str() + ": " + e.code().message());
    }
    port = acceptor.local_endpoint().port();  // port 0 (tests): the others take the first's
  }
  port_ = port;
  for (auto& pool : ctx_.pools) {
    pool->start();
  }
  ctx_.near->apply(*ctx_.snapshot);
  asio::co_spawn(*ioc_, sweep_loop(), util::on_coroutine_done("proxy", "sweep loop"));
  for (tcp::acceptor& acceptor : acceptors_) {
    asio::co_spawn(*ioc_, accept_loop(acceptor), util::on_coroutine_done("proxy", "accept loop"));
  }
  thread_ = std::thread([this] { ioc_->run(); });
}

void Worker::begin_shutdown() {
  asio::post(*ioc_, [this] {
    ctx_.draining = true;
    for (tcp::acceptor& acceptor : acceptors_) {
      error_code ec;
      acceptor.close(ec);
    }
    // begin_drain may close a session, which erases it from the set.
    std::vector<Session*> sessions(ctx_.sessions.begin(), ctx_.sessions.end());
    for (Session* s : sessions) {
      s->begin_drain();
    }
  });
}

void Worker::stop() {
  if (ioc_) {
    ioc_->stop();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

awaitable<void> Worker::sweep_loop() {
  asio::steady_timer timer(*ioc_);
  while (true) {
    timer.expires_after(kSweepInterval);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec) {
      co_return;
    }
    sweep(std::chrono::steady_clock::now());
  }
}

void Worker::sweep(std::chrono::steady_clock::time_point now) {
  std::size_t held = 0;
  for (Session* session : ctx_.sessions) {
    freed_since_trim_ += session->trim_if_idle(now, kTrimIdleAfter);
    held += session->buffer_bytes();
  }
  // One relaxed add a second per worker: the gauge sums every worker's last figure.
  ctx_.shared->session_buffer_bytes.fetch_add(held - published_buffer_bytes_,
                                              std::memory_order_relaxed);
  published_buffer_bytes_ = held;

  // The allocator keeps freed memory in its arenas; after many sessions went away (or gave back
  // their buffers) return_free_pages hands it back to the system. It walks every arena, so it
  // waits for the burst to end, and runs at most once per sweep.
  const std::uint64_t closes = ctx_.sessions_closed - closes_seen_;
  closes_seen_ = ctx_.sessions_closed;
  closes_since_trim_ += closes;
  const bool due =
      closes_since_trim_ >= kTrimAfterCloses || freed_since_trim_ >= kTrimAfterFreedBytes;
  if (due && (closes == 0 || now - last_trim_ >= kMaxTrimDelay)) {
    ctx_.read_buffers.trim_spare(kSpareAfterTrim);
    return_free_pages();
    util::logger("proxy")->debug("worker={} returned free pages closes={} freed_bytes={}", index_,
                                 closes_since_trim_, freed_since_trim_);
    closes_since_trim_ = 0;
    freed_since_trim_ = 0;
    last_trim_ = now;
  }
}

awaitable<void> Worker::accept_loop(tcp::acceptor& acceptor) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) {
        co_return;
      }
      std::uint64_t suppressed = 0;
      if (accept_log_limiter().allow(suppressed)) {
        util::logger("proxy")->warn("worker={} accept failed: {} (suppressed={})", index_,
                                    ec.message(), suppressed);
      }
      // Out of descriptors and similar: back off rather than spin.
      asio::steady_timer timer(*ioc_);
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(use_nothrow);
      continue;
    }
    if (ctx_.clients->fetch_add(1, std::memory_order_relaxed) >= ctx_.config->limits.max_clients) {
      ctx_.clients->fetch_sub(1, std::memory_order_relaxed);
      error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(resp::replies::kMaxClients), ignored);
      socket.close(ignored);
      continue;
    }
    const std::uint64_t id = ctx_.next_client_id->fetch_add(1, std::memory_order_relaxed);
    std::make_shared<Session>(std::move(socket), ctx_, id)->start();
  }
}

}  // namespace seawall::proxy
