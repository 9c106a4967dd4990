#pragma once
// Composition root: builds the workers from a Config, runs them, and handles SIGTERM/SIGINT
// (graceful drain bounded by shutdown.drain_timeout). Owns the metrics registry and the admin
// server (when admin.enabled), whose /readyz turns 503 at the signal, before draining starts.
// Ownership: owns every worker, the registry and the admin server; the admin server is
// destroyed first, so no scrape runs against a half-destroyed Server.
// Thread safety: run() on the main thread only.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "seawall/config/config.hpp"
#include "seawall/metrics/registry.hpp"

namespace seawall::admin {
class AdminServer;
}

namespace seawall::proxy {
class Worker;
struct SharedState;
}  // namespace seawall::proxy

namespace seawall::upstream {
class HealthChecker;
}

namespace seawall::app {

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Config> config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, serves until a termination signal, drains, and returns the exit code.
  int run();

  // Every metric of the process; modules fetch their families and children from it at startup.
  metrics::Registry& metrics() { return metrics_; }

 private:
  // GET /status: version, uptime, readiness, clients, listen address and upstreams.
  std::string status_json() const;

  std::shared_ptr<const config::Config> config_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  std::atomic<std::uint32_t> clients_{0};
  std::atomic<std::uint64_t> next_client_id_{1};
  metrics::Registry metrics_;
  std::unique_ptr<proxy::SharedState> shared_;
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::vector<std::shared_ptr<upstream::HealthChecker>> health_checkers_;
  std::unique_ptr<admin::AdminServer> admin_;  // last: stopped before anything it reads dies
};

// Parses the command line and runs; what main() calls.
int main_entry(int argc, char** argv);

}  // namespace seawall::app
