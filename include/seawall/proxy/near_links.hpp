#pragma once
// One worker's tracking links (upstream::TrackingLink), one per upstream, while some policy is in
// near mode: their invalidations drop L1 copies and end miss leases of the keys, a null one
// (FLUSHALL, FLUSHDB) drops everything. Each worker has its own so that the read barrier of a
// session never waits on another thread.
//
// A reload that changes the near prefixes, or an upstream's connection settings, replaces the
// links: the new subscriptions start new epochs, so copies filled before are unverified until
// refilled.
//
// Ownership: one per worker, in its WorkerContext. Thread safety: that worker's thread; the
// counters are process-wide atomics.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "seawall/net.hpp"
#include "seawall/proxy/snapshot.hpp"
#include "seawall/upstream/tracking_link.hpp"

namespace seawall::proxy {

struct SharedState;

struct NearCounters {
  std::atomic<std::uint64_t> invalidations{0};  // keys, per link
  std::atomic<std::int64_t> links{0};           // subscribed now
};

class NearLinks {
 public:
  NearLinks(asio::any_io_executor ex, SharedState& shared) : ex_(ex), shared_(shared) {}
  ~NearLinks() { stop(); }
  NearLinks(const NearLinks&) = delete;
  NearLinks& operator=(const NearLinks&) = delete;

  // Starts, keeps or replaces the links for `snapshot`. `changed`: upstreams whose connections
  // were replaced (their links are too).
  void apply(const Snapshot& snapshot, const std::vector<std::size_t>& changed = {});
  // Upstream `index`'s master moved: a new link to the new one.
  void restart(std::size_t index);
  void stop();

  // The link of upstream `up`, or null when no policy is near (or `up` is a cluster shard's
  // replica upstream: near reads go to the master).
  std::shared_ptr<upstream::TrackingLink> link(std::size_t up) const {
    return up < links_.size() ? links_[up] : nullptr;
  }

 private:
  // Null for a replica upstream.
  std::shared_ptr<upstream::TrackingLink> make_link(const upstream::UpstreamConfig& config);
  void stop_link(std::size_t index);

  asio::any_io_executor ex_;
  SharedState& shared_;
  std::vector<std::string> prefixes_;
  std::vector<upstream::UpstreamConfig> configs_;
  std::vector<std::shared_ptr<upstream::TrackingLink>> links_;
};

}  // namespace seawall::proxy
