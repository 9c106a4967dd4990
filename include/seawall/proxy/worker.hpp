#pragma once
// One worker thread: its io_context, its listening socket (SO_REUSEPORT, so the kernel spreads
// new clients over the workers), its upstream pools and its sessions.
// Ownership: owned by app::Server. Thread safety: start/begin_shutdown/stop may be called from
// any thread; everything else runs on the worker's own thread.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "seawall/net.hpp"
#include "seawall/proxy/worker_context.hpp"

namespace seawall::proxy {

class Worker {
 public:
  Worker(std::shared_ptr<const Snapshot> snapshot, SharedState& shared,
         std::atomic<std::uint32_t>& clients, std::atomic<std::uint64_t>& next_client_id,
         unsigned index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds a listener on each listen address (throws on failure: startup only) and starts the
  // thread.
  void start();
  // Closes the listener and lets sessions finish what they have in flight.
  void begin_shutdown();
  // Stops the io_context and joins the thread.
  void stop();

  // Swaps in a reloaded configuration on the worker's thread; the upstreams listed get new
  // connection pools (their address or connection settings changed). Any thread.
  void apply(std::shared_ptr<const Snapshot> snapshot, std::vector<std::size_t> new_pools);

  // Closes every connection of upstream `index` and opens new ones at once (its master moved:
  // MasterResolver). Requests in flight on the old ones are answered Unavailable; what comes
  // next waits for the new pool's first connect. Any thread.
  void reconnect(std::size_t index);

  // The port actually bound (useful when the config says 0).
  std::uint16_t port() const { return port_.load(); }

 private:
  awaitable<void> accept_loop(tcp::acceptor& acceptor);
  // Once a second: trims sessions idle for a while, publishes their buffer bytes, and gives
  // freed heap back to the system after a burst of closes (return_free_pages).
  awaitable<void> sweep_loop();
  void sweep(std::chrono::steady_clock::time_point now);
  std::unique_ptr<upstream::Pool> make_pool(std::size_t index);
  awaitable<void> replace_pool(std::size_t index, std::unique_ptr<upstream::Pool> pool);

  unsigned index_;
  std::unique_ptr<asio::io_context> ioc_;
  WorkerContext ctx_;
  std::vector<tcp::acceptor> acceptors_;
  std::atomic<std::uint16_t> port_{0};
  std::thread thread_;
  // sweep_loop's state.
  std::uint64_t published_buffer_bytes_ = 0;
  std::uint64_t closes_seen_ = 0;        // ctx_.sessions_closed at the last sweep
  std::uint64_t closes_since_trim_ = 0;  // sessions closed since free pages last went back
  std::size_t freed_since_trim_ = 0;     // bytes the idle trims freed since then
  std::chrono::steady_clock::time_point last_trim_{};
};

}  // namespace seawall::proxy
