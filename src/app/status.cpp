#include "app/status.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

#include "seawall/admin/json.hpp"
#include "seawall/cluster/slot_table.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/upstream/cluster_topology.hpp"

namespace seawall::app::detail {
namespace {

using admin::json_string;

std::string seconds_since(WallClock::time_point then, WallClock::time_point now) {
  const double s =
      std::chrono::duration<double>(std::max(now - then, WallClock::duration::zero())).count();
  // Milliseconds are what the times carry; more digits would be noise.
  std::array<char, 32> buf{};
  const int n = std::snprintf(buf.data(), buf.size(), "%.3f", s);
  return std::string(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string_view reload_name(ConfigStatus::Reload reload) {
  switch (reload) {
    case ConfigStatus::Reload::None:
      return "none";
    case ConfigStatus::Reload::Ok:
      return "ok";
    case ConfigStatus::Reload::Failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace

std::string listen_endpoints(const config::ListenConfig& listen, std::uint16_t port) {
  std::string out;
  for (const std::string& address : listen.addresses) {
    if (!out.empty()) {
      out += ", ";
    }
    out += proxy::introspection::format_address(address, port);
  }
  return out;
}

std::string iso8601_utc(WallClock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t seconds =
      static_cast<std::time_t>(std::chrono::duration_cast<std::chrono::seconds>(ms).count());
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::array<char, 40> buf{};
  const int n = std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(ms.count() % 1000));
  return std::string(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string content_hash(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  std::array<char, 17> buf{};
  std::snprintf(buf.data(), buf.size(), "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf.data(), 16);
}

void append_upstream_status(std::string& out, upstream::UpstreamState& state,
                            const config::UpstreamConfig& config, WallClock::time_point now) {
  breaker::CircuitBreaker& breaker = state.breaker();  // the live one, not a retired one
  const auto steady_now = breaker::Clock::now();
  const breaker::State breaker_state = breaker.state(steady_now);
  const breaker::Override mode = breaker.override_mode();
  out += "{\"name\":" + json_string(state.name());
  if (config.sentinel.enabled()) {
    // The master the sentinels named (null while unknown or during a failover).
    const upstream::MasterResolver& resolver = *state.resolver();
    const auto master = resolver.current();
    out += ",\"address\":" + (master ? json_string(master->to_string()) : std::string("null"));
    out += ",\"sentinel\":{\"master_name\":" + json_string(config.sentinel.master);
    out += ",\"master\":" + (master ? json_string(master->to_string()) : std::string("null"));
    out += ",\"failover_in_progress\":";
    out += resolver.failover_in_progress() ? "true" : "false";
    out += ",\"switches\":" + std::to_string(resolver.switches());
    out += ",\"resolve_failures\":" + std::to_string(resolver.resolve_failures()) + "}";
  } else if (config.topology != nullptr) {
    // A cluster shard: its master as the last map named it, the slots it serves now, and the
    // cluster's redirects and map refreshes (counted per cluster, shown on each of its shards).
    // A shard's replica upstream (read_from: prefer_replica) shows the replica it connects to.
    const upstream::ClusterTopology& topology = *config.topology;
    const bool replica = config.shard_role == upstream::ShardRole::Replica;
    const auto node =
        replica ? topology.shard_replica(config.shard) : topology.shard_master(config.shard);
    out += ",\"address\":" + (node ? json_string(node->to_string()) : std::string("null"));
    out += ",\"cluster\":{\"shard\":" + std::to_string(config.shard);
    out += ",\"role\":";
    out += replica ? "\"replica\"" : "\"master\"";
    out += ",\"spare\":";
    out += topology.spare(config.shard) ? "true" : "false";  // no master has taken it yet
    out += ",\"slots\":" +
           std::to_string(config.slots != nullptr
                              ? config.slots->slots_of(static_cast<std::uint16_t>(config.shard))
                              : 0);
    out += ",\"redirects\":" + std::to_string(topology.redirects());
    out += ",\"refreshes\":" + std::to_string(topology.refreshes());
    out += ",\"refresh_failures\":" + std::to_string(topology.refresh_failures()) + "}";
  } else {
    out += ",\"address\":" + json_string(config.host + ":" + std::to_string(config.port));
  }
  out += ",\"breaker\":{\"state\":" + json_string(breaker::to_string(breaker_state));
  out += ",\"override\":" + json_string(breaker::to_string(mode));
  out += ",\"forced\":";
  out += mode == breaker::Override::None ? "false" : "true";
  // Only an automatic open period ends by itself; a forced one lasts until reset.
  out += ",\"open_until_remaining_ms\":";
  if (breaker_state == breaker::State::Open && mode == breaker::Override::None) {
    const auto remaining = std::max(breaker.open_until() - steady_now, breaker::Duration::zero());
    out += std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(remaining).count());
  } else {
    out += "null";
  }
  out += ",\"last_transition\":";
  if (const auto t = state.last_transition()) {
    out += "{\"from\":" + json_string(breaker::to_string(t->from));
    out += ",\"to\":" + json_string(breaker::to_string(t->to));
    out += ",\"at\":" + json_string(iso8601_utc(t->at));
    out += ",\"seconds_ago\":" + seconds_since(t->at, now) + "}";
  } else {
    out += "null";
  }
  const breaker::BreakerCounters c = state.breaker_counters();
  out += ",\"counters\":{\"successes\":" + std::to_string(c.successes) +
         ",\"failures\":" + std::to_string(c.failures) +
         ",\"timeouts\":" + std::to_string(c.timeouts) +
         ",\"slow_calls\":" + std::to_string(c.slow_calls) +
         ",\"ignored\":" + std::to_string(c.ignored) +
         ",\"rejected\":" + std::to_string(c.rejected) +
         ",\"transitions\":" + std::to_string(c.transitions) +
         ",\"opened\":" + std::to_string(c.opened) + "}}";
  out += ",\"journal_entries\":" + std::to_string(state.journal().entries());
  out += ",\"journal_bytes\":" + std::to_string(state.journal().bytes());
  out += ",\"requests_in_doubt\":" + std::to_string(state.in_doubt_requests());
  out += ",\"last_health_check_ms\":";
  if (const auto latency = state.last_health_check_latency()) {
    out += std::to_string(std::chrono::duration<double, std::milli>(*latency).count());
  } else {
    out += "null";
  }
  out += "}";
}

void append_answers(std::string& out, const policy::AnswerCounters& counters) {
  out += "\"answers\":{";
  for (std::size_t i = 0; i < policy::kSourceCount; ++i) {
    const auto source = static_cast<policy::Source>(i);
    out += i == 0 ? "" : ",";
    out += json_string(policy::to_string(source)) + ":" + std::to_string(counters.get(source));
  }
  out += "},\"fallthrough_denied\":" +
         std::to_string(counters.fallthrough_denied.load(std::memory_order_relaxed));
}

void append_config_status(std::string& out, const ConfigStatus& config, WallClock::time_point now) {
  out += "{\"path\":" + json_string(config.path);
  out += ",\"version\":" + std::to_string(config.version);
  out += ",\"hash\":" + json_string(config.hash);
  out += ",\"loaded_at\":" + json_string(iso8601_utc(config.loaded_at));
  out += ",\"last_reload\":";
  if (config.last_reload == ConfigStatus::Reload::None) {
    out += "null";
  } else {
    out += "{\"result\":" + json_string(reload_name(config.last_reload));
    out += ",\"at\":" + json_string(iso8601_utc(config.last_reload_at));
    out += ",\"seconds_ago\":" + seconds_since(config.last_reload_at, now);
    out += ",\"reason\":" + json_string(config.last_reload_reason);
    out += ",\"error\":";
    out += config.last_reload == ConfigStatus::Reload::Failed
               ? json_string(config.last_reload_error)
               : std::string("null");
    out += "}";
  }
  out += "}";
}

}  // namespace seawall::app::detail
