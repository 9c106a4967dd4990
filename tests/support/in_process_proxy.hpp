#pragma once
// InProcessProxy: seawall's data path in the test process, the way app::Server builds it (one
// SharedState, one proxy::Worker per thread) but without signals, admin server or health
// checker, listening on 127.0.0.1:0. Without the health checker every request an upstream sees
// is a client's, so a test can count them: the half-open probe is a client request too.
// Ownership: owns the shared state and the workers; the workers stop first.
// Thread safety: construct and destroy on one thread; breaker_state from any thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/proxy/proxy_config.hpp"
#include "support/eventually.hpp"

namespace seawall::proxy {
class Worker;
struct SharedState;
}  // namespace seawall::proxy

namespace seawall::support {

class InProcessProxy {
 public:
  // Starts `config.threads` workers; config.listen is overridden to 127.0.0.1:0.
  explicit InProcessProxy(proxy::ProxyConfig config);
  ~InProcessProxy();
  InProcessProxy(const InProcessProxy&) = delete;
  InProcessProxy& operator=(const InProcessProxy&) = delete;

  std::uint16_t port() const;
  // The breaker of upstream `index` as it stands now (an elapsed open period half-opens it).
  breaker::State breaker_state(std::size_t index) const;
  // As an operator's POST /breaker/<name>/open: open until told otherwise.
  void force_open(std::size_t index);

 private:
  std::unique_ptr<proxy::SharedState> shared_;
  std::atomic<std::uint32_t> clients_{0};
  std::atomic<std::uint64_t> next_client_id_{1};
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
};

}  // namespace seawall::support
