#include "seawall/proxy/near_links.hpp"

#include <algorithm>

#include "seawall/proxy/shared_state.hpp"

namespace seawall::proxy {

std::shared_ptr<upstream::TrackingLink> NearLinks::make_link(
    const upstream::UpstreamConfig& config) {
  if (config.shard_role == upstream::ShardRole::Replica) {
    // Near reads stay on the master's connections, whose link verifies their copies.
    return nullptr;
  }
  SharedState& shared = shared_;
  upstream::TrackingLink::Hooks hooks;
  hooks.invalidate = [&shared](std::string_view key) {
    shared.cache.invalidate_key(key);
    // A reader given a miss of this key had its value written by someone else: the waiters may
    // read it now.
    shared.miss_leases.release(key, std::chrono::steady_clock::now());
    shared.near.invalidations.fetch_add(1, std::memory_order_relaxed);
  };
  hooks.invalidate_all = [&shared] { shared.cache.clear(); };
  hooks.subscribed = [&shared] { return shared.cache.mark(); };
  hooks.state = [&shared](bool up) {
    shared.near.links.fetch_add(up ? 1 : -1, std::memory_order_relaxed);
  };
  auto link = std::make_shared<upstream::TrackingLink>(ex_, config, prefixes_, std::move(hooks));
  link->start();
  return link;
}

void NearLinks::apply(const Snapshot& snapshot, const std::vector<std::size_t>& changed) {
  const std::vector<std::string>& prefixes = snapshot.policies.near_prefixes();
  const auto& upstreams = snapshot.config->upstreams;
  if (prefixes != prefixes_ || upstreams.size() != links_.size()) {
    stop();
    prefixes_ = prefixes;
    if (prefixes_.empty()) {
      return;
    }
    configs_ = upstreams;
    for (const auto& config : upstreams) {
      links_.push_back(make_link(config));
    }
    return;
  }
  for (std::size_t i = 0; i < upstreams.size(); ++i) {
    const bool replaced = std::find(changed.begin(), changed.end(), i) != changed.end();
    if (replaced || !(upstreams[i] == configs_[i])) {
      configs_[i] = upstreams[i];
      stop_link(i);
      links_[i] = make_link(upstreams[i]);
    }
  }
}

void NearLinks::restart(std::size_t index) {
  if (index < links_.size()) {
    stop_link(index);
    links_[index] = make_link(configs_[index]);
  }
}

void NearLinks::stop_link(std::size_t index) {
  if (links_[index] != nullptr) {
    links_[index]->stop();
  }
}

void NearLinks::stop() {
  for (std::size_t i = 0; i < links_.size(); ++i) {
    stop_link(i);
  }
  links_.clear();
  configs_.clear();
}

}  // namespace seawall::proxy
