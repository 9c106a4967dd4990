#include "seawall/upstream/cluster_topology.hpp"

#include <algorithm>
#include <array>
#include <tuple>

#include "seawall/command/sent.hpp"
#include "seawall/upstream/connect.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

using namespace asio::experimental::awaitable_operators;

HostPort to_host_port(const cluster::NodeAddress& node) { return HostPort{node.host, node.port}; }

// The same replicas, whatever order two views list them in.
bool same_replicas(std::vector<cluster::NodeAddress> a, std::vector<cluster::NodeAddress> b) {
  const auto less = [](const cluster::NodeAddress& x, const cluster::NodeAddress& y) {
    return std::tie(x.host, x.port) < std::tie(y.host, y.port);
  };
  std::sort(a.begin(), a.end(), less);
  std::sort(b.begin(), b.end(), less);
  return a == b;
}

std::string describe(const std::vector<cluster::NodeAddress>& nodes) {
  std::string out = "[";
  for (const cluster::NodeAddress& node : nodes) {
    if (out.size() > 1) {
      out += ' ';
    }
    out += node.to_string();
  }
  return out + "]";
}

void add_unique(std::vector<cluster::NodeAddress>& out, const cluster::NodeAddress& node) {
  if (std::find(out.begin(), out.end(), node) == out.end()) {
    out.push_back(node);
  }
}

util::LogRateLimiter& refresh_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 3);
  return limiter;
}

}  // namespace

ClusterTopology::ClusterTopology(const UpstreamConfig& settings) : settings_(settings) {
  for (const SentinelAddress& seed : settings.cluster.seeds) {
    seeds_.push_back(cluster::NodeAddress{seed.host, seed.port});
  }
  settings_.host.clear();
  settings_.port = 0;
  settings_.resolver = nullptr;
  settings_.topology = nullptr;
  settings_.slots = nullptr;
}

std::size_t ClusterTopology::bootstrap() {
  asio::io_context ioc(1);
  std::optional<cluster::SlotMap> map;
  asio::co_spawn(
      ioc,
      [this, &map, ex = ioc.get_executor()]() -> awaitable<void> { map = co_await ask_nodes(ex); },
      util::on_coroutine_done("upstream", "cluster bootstrap"));
  ioc.run();
  auto log = util::logger("upstream");
  std::lock_guard lock(mutex_);
  if (map && !map->ranges.empty()) {
    shards_ = cluster::initial_shards(*map);
    bootstrap_map_ = std::move(map);
    log->info("upstream={} cluster: {} shard(s) from the slot map", settings_.name, shards_.size());
  } else {
    // The cluster does not answer yet: one shard per seed, every slot on the first until the
    // map arrives (its MOVED replies and the refreshes then place each slot).
    for (const cluster::NodeAddress& seed : seeds_) {
      shards_.push_back(cluster::ShardNodes{seed, {}});
    }
    log->warn(
        "upstream={} cluster: no seed answered CLUSTER SLOTS; starting with one shard per "
        "seed ({})",
        settings_.name, shards_.size());
  }
  // Spares: no master until one added to the cluster takes it (assign_shards, rule 4).
  shards_.resize(shards_.size() + settings_.cluster.spare_shards);
  return shards_.size();
}

void ClusterTopology::attach(std::vector<std::size_t> shard_upstreams) {
  std::lock_guard lock(mutex_);
  slots_ = std::make_shared<cluster::SlotTable>(std::move(shard_upstreams));
  if (bootstrap_map_) {
    const std::vector<std::uint16_t> none(cluster::kSlots, cluster::kNoShard);
    slots_->assign(cluster::assign_shards(shards_, none, *bootstrap_map_).slots);
    bootstrap_map_.reset();
  }
}

std::optional<HostPort> ClusterTopology::shard_master(std::uint32_t shard) const {
  std::lock_guard lock(mutex_);
  if (shard >= shards_.size() || shards_[shard].master.host.empty()) {
    return std::nullopt;
  }
  return to_host_port(shards_[shard].master);
}

bool ClusterTopology::spare(std::uint32_t shard) const {
  std::lock_guard lock(mutex_);
  return shard < shards_.size() && shards_[shard].master.host.empty();
}

std::vector<HostPort> ClusterTopology::shard_replicas(std::uint32_t shard) const {
  std::lock_guard lock(mutex_);
  std::vector<HostPort> out;
  if (shard >= shards_.size()) {
    return out;
  }
  const std::vector<cluster::NodeAddress>& replicas = shards_[shard].replicas;
  const std::optional<cluster::NodeAddress>& reached =
      shard < replica_reached_.size() ? replica_reached_[shard] : std::nullopt;
  if (reached && std::find(replicas.begin(), replicas.end(), *reached) != replicas.end()) {
    out.push_back(to_host_port(*reached));
  }
  for (const cluster::NodeAddress& replica : replicas) {
    if (!reached || replica != *reached) {
      out.push_back(to_host_port(replica));
    }
  }
  return out;
}

void ClusterTopology::replica_connected(std::uint32_t shard, const HostPort& node) {
  std::lock_guard lock(mutex_);
  if (replica_reached_.size() < shards_.size()) {
    replica_reached_.resize(shards_.size());
  }
  if (shard < replica_reached_.size()) {
    replica_reached_[shard] = cluster::NodeAddress{node.host, node.port};
  }
}

std::optional<HostPort> ClusterTopology::shard_replica(std::uint32_t shard) const {
  std::vector<HostPort> replicas = shard_replicas(shard);
  if (replicas.empty()) {
    return std::nullopt;
  }
  return std::move(replicas.front());
}

std::optional<std::size_t> ClusterTopology::shard_of_master(const cluster::NodeAddress& node) {
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    if (shards_[s].master == node) {
      return s;
    }
  }
  for (const cluster::ShardNodes& shard : shards_) {
    if (std::find(shard.replicas.begin(), shard.replicas.end(), node) != shard.replicas.end()) {
      return std::nullopt;  // a promotion: the refresh gives it its shard (and that journal)
    }
  }
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    if (shards_[s].master.host.empty()) {
      util::logger("upstream")
          ->info("upstream={} cluster: spare shard {} takes master {}", settings_.name, s,
                 node.to_string());
      shards_[s].master = node;
      return s;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> ClusterTopology::upstream_of(const cluster::NodeAddress& node) {
  std::lock_guard lock(mutex_);
  const std::optional<std::size_t> s = shard_of_master(node);
  if (!s || slots_ == nullptr) {
    return std::nullopt;
  }
  return slots_->shard_upstream(*s);
}

std::optional<std::size_t> ClusterTopology::moved(std::uint16_t slot,
                                                  const cluster::NodeAddress& node) {
  request_refresh();
  std::lock_guard lock(mutex_);
  const std::optional<std::size_t> s = shard_of_master(node);
  if (!s || slots_ == nullptr || slot >= cluster::kSlots) {
    return std::nullopt;
  }
  slots_->set(slot, static_cast<std::uint16_t>(*s));
  return slots_->shard_upstream(*s);
}

std::optional<std::size_t> ClusterTopology::target_of(const cluster::Redirect& redirect) {
  if (redirect.kind == cluster::RedirectKind::Moved) {
    return moved(redirect.slot, redirect.node);  // which requests a refresh either way
  }
  const std::optional<std::size_t> to = upstream_of(redirect.node);
  if (!to) {
    request_refresh();
  }
  return to;
}

void ClusterTopology::request_refresh() {
  // One wake-up per refresh, however many MOVED replies and closed connections ask for it.
  if (requested_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  // Under the mutex: connections of workers already running may ask while start() sets the
  // executor, and none may post to it once release_after_stop() let go of it.
  std::lock_guard lock(mutex_);
  if (!control_) {
    return;  // the refresh loop, once started, refreshes at once (requested_ stays set)
  }
  asio::post(*control_, [self = shared_from_this()] {
    if (self->wake_) {
      self->wake_->cancel();
    }
  });
}

void ClusterTopology::start(asio::any_io_executor control,
                            std::function<void(std::uint32_t)> on_master_change,
                            std::function<void(std::uint32_t)> on_replicas_change) {
  {
    std::lock_guard lock(mutex_);
    control_ = control;
  }
  asio::post(control, [self = shared_from_this(), control, on_change = std::move(on_master_change),
                       on_replicas = std::move(on_replicas_change)] {
    self->on_change_ = on_change;
    self->on_replicas_change_ = on_replicas;
    self->stopped_ = false;
    self->wake_ = std::make_unique<asio::steady_timer>(control);
    asio::co_spawn(
        control, [self, control] { return self->refresh_loop(control); },
        util::on_coroutine_done("upstream", "cluster refresh loop"));
  });
}

void ClusterTopology::stop() {
  std::lock_guard lock(mutex_);
  if (!control_) {
    return;
  }
  asio::post(*control_, [self = shared_from_this()] {
    self->stopped_ = true;
    if (self->wake_) {
      self->wake_->cancel();
    }
  });
}

void ClusterTopology::release_after_stop() {
  wake_.reset();
  std::lock_guard lock(mutex_);
  control_.reset();
}

std::vector<cluster::ShardNodes> ClusterTopology::shards() const {
  std::lock_guard lock(mutex_);
  return shards_;
}

awaitable<void> ClusterTopology::refresh_loop(asio::any_io_executor control) {
  auto self = shared_from_this();
  asio::steady_timer gap(control);
  while (!stopped_) {
    if (!requested_.load(std::memory_order_acquire)) {
      wake_->expires_after(kRefreshEvery);
      co_await wake_->async_wait(use_nothrow);
      if (stopped_) {
        break;
      }
    }
    requested_.store(false, std::memory_order_release);
    const std::optional<cluster::SlotMap> map = co_await ask_nodes(control);
    refreshes_.fetch_add(1, std::memory_order_relaxed);
    if (stopped_) {
      break;
    }
    if (!map) {
      refresh_failures_.fetch_add(1, std::memory_order_relaxed);
    } else {
      refresh_successes_.fetch_add(1, std::memory_order_relaxed);
      const Changes changes = apply(*map);
      for (const std::uint32_t shard : changes.masters) {
        if (on_change_) {
          on_change_(shard);
        }
      }
      for (const std::uint32_t shard : changes.replicas) {
        if (on_replicas_change_) {
          on_replicas_change_(shard);
        }
      }
    }
    gap.expires_after(kMinGap);
    co_await gap.async_wait(use_nothrow);
  }
  wake_.reset();
}

ClusterTopology::Changes ClusterTopology::apply(const cluster::SlotMap& map) {
  auto log = util::logger("upstream");
  Changes changed;
  std::lock_guard lock(mutex_);
  if (slots_ == nullptr) {
    return changed;
  }
  cluster::Assignment next = cluster::assign_shards(shards_, slots_->snapshot(), map);
  slots_->assign(next.slots);
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    if (next.shards[s].master != shards_[s].master) {
      log->warn("upstream={} cluster: shard {} master {} -> {}", settings_.name, s,
                shards_[s].master.to_string(), next.shards[s].master.to_string());
      // A spare's connections were never anywhere: they connect by themselves (Connection's
      // dormant wait), and requests already queued there must not be dropped by a reconnect.
      if (!shards_[s].master.host.empty()) {
        changed.masters.push_back(static_cast<std::uint32_t>(s));
      }
    }
    if (!same_replicas(next.shards[s].replicas, shards_[s].replicas)) {
      log->info("upstream={} cluster: shard {} replicas {} -> {}", settings_.name, s,
                describe(shards_[s].replicas), describe(next.shards[s].replicas));
      changed.replicas.push_back(static_cast<std::uint32_t>(s));
    }
  }
  if (next.unassigned != unassigned_) {
    for (const cluster::NodeAddress& node : next.unassigned) {
      log->warn(
          "upstream={} cluster: master {} is no shard of seawall's (no spare shard left: "
          "cluster.spare_shards, or a restart); its slots stay with their previous shard",
          settings_.name, node.to_string());
    }
    unassigned_ = next.unassigned;
  }
  shards_ = std::move(next.shards);
  return changed;
}

std::vector<cluster::NodeAddress> ClusterTopology::nodes_to_ask() const {
  std::lock_guard lock(mutex_);
  std::vector<cluster::NodeAddress> out;
  for (const cluster::ShardNodes& shard : shards_) {
    add_unique(out, shard.master);
  }
  for (const cluster::ShardNodes& shard : shards_) {
    for (const cluster::NodeAddress& replica : shard.replicas) {
      add_unique(out, replica);
    }
  }
  for (const cluster::NodeAddress& seed : seeds_) {
    add_unique(out, seed);
  }
  if (out.size() > kMaxNodesAsked) {
    out.resize(kMaxNodesAsked);
  }
  return out;
}

awaitable<std::optional<cluster::SlotMap>> ClusterTopology::ask_nodes(asio::any_io_executor ex) {
  const std::vector<cluster::NodeAddress> nodes = nodes_to_ask();
  std::vector<cluster::SlotMap> views;
  std::string errors;
  for (const cluster::NodeAddress& node : nodes) {
    std::string error;
    std::optional<cluster::SlotMap> view = co_await ask(ex, node, error);
    if (view && !view->ranges.empty()) {
      views.push_back(std::move(*view));
    } else if (!error.empty()) {
      errors += (errors.empty() ? "" : "; ") + error;
    }
  }
  const std::optional<std::size_t> best = cluster::majority_view(views);
  if (!best) {
    std::uint64_t suppressed = 0;
    if (refresh_log_limiter().allow(suppressed)) {
      util::logger("upstream")
          ->warn("upstream={} cluster: no node gave a slot map: {} (suppressed={})", settings_.name,
                 errors, suppressed);
    }
    co_return std::nullopt;
  }
  co_return views[*best];
}

awaitable<std::optional<cluster::SlotMap>> ClusterTopology::ask(asio::any_io_executor ex,
                                                                const cluster::NodeAddress& node,
                                                                std::string& error) {
  // Named values, no temporaries in a co_await (GCC 12; see connect_upstream).
  UpstreamConfig config = settings_;
  config.host = node.host;
  config.port = node.port;
  Stream stream(ex);
  ConnectResult connected = co_await connect_upstream(ex, config, stream, Protocol::None);
  if (!connected.ok) {
    error = connected.error;
    co_return std::nullopt;
  }
  asio::steady_timer deadline(ex);
  deadline.expires_after(settings_.connect_timeout);
  const std::string where = node.to_string();
  auto written = co_await (stream.async_write(asio::buffer(command::sent::kClusterSlotsRequest)) ||
                           deadline.async_wait(use_nothrow));
  if (written.index() == 1) {
    error = "timed out asking " + where + " for its slot map";
    stream.close();
    co_return std::nullopt;
  }
  if (const auto [ec, n] = std::get<0>(written); ec) {
    error = "cannot ask " + where + " for its slot map: " + ec.message();
    stream.close();
    co_return std::nullopt;
  }
  std::array<char, 4096> chunk{};
  std::string received;
  while (true) {
    auto read =
        co_await (stream.async_read_some(asio::buffer(chunk)) || deadline.async_wait(use_nothrow));
    if (read.index() == 1) {
      error = "timed out waiting for CLUSTER SLOTS from " + where;
      break;
    }
    const auto [ec, n] = std::get<0>(read);
    if (ec) {
      error = "no CLUSTER SLOTS reply from " + where + ": " + ec.message();
      break;
    }
    received.append(chunk.data(), n);
    cluster::SlotsReply reply = cluster::parse_cluster_slots(received, node);
    if (reply.status == cluster::ParseStatus::NeedMore) {
      continue;
    }
    if (reply.status == cluster::ParseStatus::Invalid) {
      error = "unexpected reply to CLUSTER SLOTS from " + where;
      break;
    }
    if (!reply.error.empty()) {
      error = where + " answered CLUSTER SLOTS with -" + reply.error;
      break;
    }
    stream.close();
    co_return std::move(reply.map);
  }
  stream.close();
  co_return std::nullopt;
}

}  // namespace seawall::upstream
