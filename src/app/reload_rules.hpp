#pragma once
// What a reload can change, declared once per config key: each top-level key and each key of an
// upstream names what a reload does when its value changes. Server::reload acts on these tables
// alone, so a key added to the loader without a declaration here fails reload_rules_test
// instead of being silently copied or silently ignored.
// Thread safety: immutable tables and pure functions.
#include <cstdint>
#include <span>
#include <string_view>

#include "seawall/config/config.hpp"

namespace seawall::app::detail {

// What a reload does with a changed top-level key.
enum class OnReload : std::uint8_t {
  Snapshot,     // read through the new snapshot: requests after the swap see the new value
  Restart,      // bound at startup: the running value is kept, and a warning says so
  Startup,      // copied into the shared state at startup (client auth, denied commands): the new
                // snapshot holds the new value, the objects built at startup keep the old one
  Fallthrough,  // the fallback chain's fall-through bucket is re-set
  Logging,      // logging is initialised again (on every reload)
  PerUpstream,  // each upstream key by upstream_keys(); upstreams' names and order are fixed
};

struct ConfigKey {
  std::string_view key;  // as in the YAML file
  OnReload on_reload;
  bool (*same)(const config::Config& a, const config::Config& b);
  // Puts the running value back into `next` (for Restart keys).
  void (*keep)(config::Config& next, const config::Config& running);
};

// What a reload does with a changed key of one upstream.
enum class OnUpstreamReload : std::uint8_t {
  Identity,     // name: a change fails the reload (adding or renaming upstreams needs a restart)
  Reconnect,    // new connections: new pools on every thread and a new health checker
  HealthCheck,  // a new health checker
  Breaker,      // thresholds retuned in place; the breaker keeps its state
  Snapshot,     // read through the snapshot (recovery_ramp: accepted and ignored)
};

struct UpstreamKey {
  std::string_view key;  // as in the YAML file, under upstreams[i]
  OnUpstreamReload on_reload;
  bool (*same)(const config::UpstreamConfig& a, const config::UpstreamConfig& b);
};

std::span<const ConfigKey> config_keys();
std::span<const UpstreamKey> upstream_keys();

// Whether `a` and `b` list the same upstreams (by the Identity keys) in the same order.
bool same_upstream_identities(const config::Config& a, const config::Config& b);

// What a reload must rebuild for one upstream whose settings went from `before` to `now`.
struct UpstreamRebuild {
  bool connections = false;     // new pools (a Reconnect key changed)
  bool health_checker = false;  // a new health checker (a Reconnect or HealthCheck key changed)
};
UpstreamRebuild upstream_rebuild(const config::UpstreamConfig& before,
                                 const config::UpstreamConfig& now);

}  // namespace seawall::app::detail
