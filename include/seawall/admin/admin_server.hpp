#pragma once
// The admin HTTP/1.1 server (Boost.Beast, C++20 coroutines) on its own thread and io_context, so
// that a scrape or a slow admin client never takes time from the data path's threads:
//
//   GET  /healthz                    200 "ok" while the process runs
//   GET  /readyz                     200 when Ready; 503 while Starting or Draining
//   GET  /metrics                    Handlers::metrics, as text/plain; version=0.0.4
//   GET  /status                     Handlers::status, as application/json
//   POST /breakers/<name>/open|close|reset   Handlers::breaker; 404 for an unknown name
//
// HEAD is accepted wherever GET is; another method gets 405 with an Allow header, an unknown path
// 404. Connections are kept alive as HTTP/1.1 asks; each request must arrive, and each response
// be taken, within read_timeout; a request larger than max_request_size gets 431 (headers) or
// 413 (body) and its connection is closed. At most max_connections are served at once; one more
// is answered 503 and closed.
//
// Ownership: owns its thread, io_context and connections; the callbacks in Handlers (and what
// they refer to) must outlive stop(). Thread safety: start() once, then set_readiness(),
// readiness() and port() from any thread; stop() from any thread but the admin thread.
#include <cstdint>
#include <memory>

#include "seawall/admin/handlers.hpp"
#include "seawall/config/config.hpp"

namespace seawall::admin {

class AdminServer {
 public:
  // `config.port` 0 binds an ephemeral port (tests); see port().
  AdminServer(config::AdminConfig config, Handlers handlers);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts the admin thread. Throws boost::system::system_error when it cannot bind
  // (startup only); readiness starts as Starting.
  void start();
  // Closes the listener and every connection and joins the thread. Idempotent.
  void stop();

  void set_readiness(Readiness readiness) noexcept;
  Readiness readiness() const noexcept;
  // The port actually bound; 0 before start().
  std::uint16_t port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seawall::admin
