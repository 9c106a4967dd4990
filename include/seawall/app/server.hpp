#pragma once
// Composition root: builds the workers from a Config, runs them, and handles SIGTERM/SIGINT
// (graceful drain bounded by shutdown.drain_timeout).
// Ownership: owns every worker. Thread safety: run() on the main thread only.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "seawall/config/config.hpp"

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

 private:
  std::shared_ptr<const config::Config> config_;
  std::atomic<std::uint32_t> clients_{0};
  std::atomic<std::uint64_t> next_client_id_{1};
  std::unique_ptr<proxy::SharedState> shared_;
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::vector<std::shared_ptr<upstream::HealthChecker>> health_checkers_;
};

// Parses the command line and runs; what main() calls.
int main_entry(int argc, char** argv);

}  // namespace seawall::app
