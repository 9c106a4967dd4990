#include "support/in_process_proxy.hpp"

#include "seawall/proxy/shared_state.hpp"
#include "seawall/proxy/snapshot.hpp"
#include "seawall/proxy/worker.hpp"

namespace seawall::support {

InProcessProxy::InProcessProxy(proxy::ProxyConfig config) {
  config.listen.addresses = {"127.0.0.1"};
  config.listen.port = 0;
  auto shared_config = std::make_shared<const proxy::ProxyConfig>(std::move(config));
  shared_ = std::make_unique<proxy::SharedState>(*shared_config);
  const auto snapshot = std::make_shared<const proxy::Snapshot>(shared_config, 1);
  for (unsigned i = 0; i < shared_config->threads; ++i) {
    workers_.push_back(
        std::make_unique<proxy::Worker>(snapshot, *shared_, clients_, next_client_id_, i));
  }
  for (auto& w : workers_) {
    w->start();
  }
}

InProcessProxy::~InProcessProxy() {
  for (auto& w : workers_) {
    w->stop();
  }
  workers_.clear();
}

std::uint16_t InProcessProxy::port() const { return workers_.front()->port(); }

breaker::State InProcessProxy::breaker_state(std::size_t index) const {
  return shared_->upstreams[index]->breaker().state(std::chrono::steady_clock::now());
}

void InProcessProxy::force_open(std::size_t index) {
  shared_->upstreams[index]->breaker().force_open();
}

}  // namespace seawall::support
